/** Server groups (affinity and anti-affinity, hard or soft). */
import { z } from 'zod';
import { listRoute } from '../pagination.ts';
import type { RouteModule } from '../route-def.ts';
import { idParam, name } from '../schemas.ts';

/** GET/POST /v1/server-groups, GET/DELETE /v1/server-groups/:id. */
export const serverGroupRoutes: RouteModule = (route, { cp }) => {
  listRoute(route, {
    url: '/v1/server-groups',
    summary: 'List server groups',
    tag: 'server-groups',
    list: async ({ p }) => cp.listServerGroups(p),
  });
  route({
    method: 'POST',
    url: '/v1/server-groups',
    summary: 'Create a server group',
    tag: 'server-groups',
    status: 201,
    body: z
      .object({
        name,
        policy: z.enum(['affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity']),
        maxPerHost: z.number().int().min(1).optional(),
        spreadOver: z.enum(['rack', 'zone', 'datacenter']).optional(),
      })
      .strict(),
    handler: async ({ p, body }) =>
      cp.createServerGroup(p, body.name, body.policy, {
        maxPerHost: body.maxPerHost,
        spreadOver: body.spreadOver,
      }),
  });
  route({
    method: 'GET',
    url: '/v1/server-groups/:id',
    summary: 'A server group and its members',
    tag: 'server-groups',
    params: idParam,
    handler: async ({ p, params }) => cp.catalogEdits.getServerGroup(p, params.id),
  });
  route({
    method: 'DELETE',
    url: '/v1/server-groups/:id',
    summary: 'Delete an empty server group (409 naming its VMs otherwise)',
    tag: 'server-groups',
    status: 204,
    params: idParam,
    handler: async ({ p, params }) => {
      await cp.catalogEdits.deleteServerGroup(p, params.id);
      return undefined;
    },
  });
};
