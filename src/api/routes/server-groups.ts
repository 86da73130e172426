/** Server groups (affinity and anti-affinity, hard or soft). */
import { z } from 'zod';
import type { RouteModule } from '../route-def.ts';
import { name } from '../schemas.ts';

/** GET/POST /v1/server-groups. */
export const serverGroupRoutes: RouteModule = (route, { cp }) => {
  route({
    method: 'GET',
    url: '/v1/server-groups',
    summary: 'List server groups',
    tag: 'server-groups',
    handler: async ({ p }) => cp.listServerGroups(p),
  });
  route({
    method: 'POST',
    url: '/v1/server-groups',
    summary: 'Create a server group',
    tag: 'server-groups',
    status: 201,
    body: z
      .object({ name, policy: z.enum(['affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity']) })
      .strict(),
    handler: async ({ p, body }) => cp.createServerGroup(p, body.name, body.policy),
  });
};
