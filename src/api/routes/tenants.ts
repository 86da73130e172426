/** Tenants and their quotas. */
import { z } from 'zod';
import type { RouteModule } from '../route-def.ts';
import { idParam, name, quotas } from '../schemas.ts';

/** GET/POST /v1/tenants, PATCH /v1/tenants/:id. */
export const tenantRoutes: RouteModule = (route, { cp }) => {
  route({
    method: 'GET',
    url: '/v1/tenants',
    summary: 'List tenants (admin, operator)',
    tag: 'tenants',
    handler: async ({ p }) => cp.listTenants(p),
  });
  route({
    method: 'POST',
    url: '/v1/tenants',
    summary: 'Create a tenant with quotas (admin)',
    tag: 'tenants',
    status: 201,
    body: z.object({ name, quotas: quotas.optional() }).strict(),
    handler: async ({ p, body }) => cp.createTenant(p, body.name, body.quotas),
  });
  route({
    method: 'PATCH',
    url: '/v1/tenants/:id',
    summary: "Change a tenant's quotas (admin)",
    tag: 'tenants',
    params: idParam,
    body: z.object({ quotas: quotas.partial() }).strict(),
    handler: async ({ p, params, body }) => cp.setQuotas(p, params.id, body.quotas),
  });
};
