/** The audit trail. */
import { z } from 'zod';
import { listRoute } from '../pagination.ts';
import type { RouteModule } from '../route-def.ts';

/** GET /v1/events. */
export const eventRoutes: RouteModule = (route, { cp }) => {
  listRoute(route, {
    url: '/v1/events',
    summary:
      "The audit trail (your tenant's; all for admin and operator), newest first; with after, oldest first after that event",
    tag: 'events',
    filters: {
      vm: z.string().max(200).optional(),
      host: z.string().max(200).optional(),
      after: z.coerce.number().int().nonnegative().optional(),
    },
    fields: ['id', 'at', 'tenantId', 'vmId', 'hostId', 'actor', 'kind', 'detail'],
    page: ({ p, query }) =>
      cp.pageEvents(
        p,
        { vmId: query.vm, hostId: query.host, after: query.after },
        { limit: query.limit, cursor: query.cursor },
      ),
  });
};
