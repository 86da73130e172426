/** Tenants and their quotas. */
import { z } from 'zod';
import { listRoute } from '../pagination.ts';
import type { RouteModule } from '../route-def.ts';
import { idParam, name, quotas, someQuotas } from '../schemas.ts';

/** Whether a tenant's VMs' pages may be merged with others' (KSM): 'private' opts out. */
const memorySharing = z.enum(['shared', 'private']);

/** GET/POST /v1/tenants, GET/PATCH/DELETE /v1/tenants/:id, GET /v1/quotas. */
export const tenantRoutes: RouteModule = (route, { cp }) => {
  listRoute(route, {
    url: '/v1/tenants',
    summary: 'List tenants (admin, operator)',
    tag: 'tenants',
    list: async ({ p }) => cp.listTenants(p),
  });
  route({
    method: 'POST',
    url: '/v1/tenants',
    summary: "Create a tenant with quotas and its VMs' page sharing, 'shared' (default) or 'private' (admin)",
    tag: 'tenants',
    status: 201,
    body: z.object({ name, quotas: quotas.optional(), memorySharing: memorySharing.optional() }).strict(),
    handler: async ({ p, body }) => {
      const t = await cp.createTenant(p, body.name, body.quotas);
      return body.memorySharing
        ? cp.tenancyAdmin.updateTenant(p, (t as { id: string }).id, { memorySharing: body.memorySharing })
        : t;
    },
  });
  route({
    method: 'GET',
    url: '/v1/tenants/:id',
    summary: 'A tenant with its quotas and usage (your own; any for admin and operator)',
    tag: 'tenants',
    params: idParam,
    handler: async ({ p, params }) => cp.tenancyAdmin.getTenant(p, params.id),
  });
  route({
    method: 'GET',
    url: '/v1/quotas',
    summary: "Your tenant's quotas and what it uses",
    tag: 'tenants',
    handler: async ({ p }) => cp.tenancyAdmin.getTenant(p),
  });
  route({
    method: 'PATCH',
    url: '/v1/tenants/:id',
    summary: "Rename a tenant, change its quotas or its VMs' page sharing, disable or enable it (admin)",
    tag: 'tenants',
    params: idParam,
    body: z
      .object({
        name: name.optional(),
        quotas: someQuotas.optional(),
        enabled: z.boolean().optional(),
        memorySharing: memorySharing.optional(),
      })
      .strict(),
    handler: async ({ p, params, body }) => cp.tenancyAdmin.updateTenant(p, params.id, body),
  });
  route({
    method: 'DELETE',
    url: '/v1/tenants/:id',
    summary: "Delete a tenant with no VMs (409 naming them otherwise); its users' tokens are revoked (admin)",
    tag: 'tenants',
    status: 204,
    params: idParam,
    handler: async ({ p, params }) => {
      await cp.tenancyAdmin.deleteTenant(p, params.id);
      return undefined;
    },
  });
};
