/** The audit trail. */
import { z } from 'zod';
import type { RouteModule } from '../route-def.ts';

/** GET /v1/events. */
export const eventRoutes: RouteModule = (route, { cp }) => {
  route({
    method: 'GET',
    url: '/v1/events',
    summary: "The audit trail (your tenant's; all for admin and operator)",
    tag: 'events',
    query: z
      .object({
        vm: z.string().optional(),
        host: z.string().optional(),
        after: z.coerce.number().int().nonnegative().optional(),
        limit: z.coerce.number().int().positive().max(10000).optional(),
      })
      .strict(),
    handler: async ({ p, query }) =>
      cp.listEvents(p, { vmId: query.vm, hostId: query.host, after: query.after, limit: query.limit }),
  });
};
