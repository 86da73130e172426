/** Liveness, the caller's identity and the dashboard's overview. */
import type { RouteModule } from '../route-def.ts';

/** GET /healthz, /v1/me, /v1/overview. */
export const metaRoutes: RouteModule = (route, { cp }) => {
  route({
    method: 'GET',
    url: '/healthz',
    summary: 'Liveness',
    tag: 'meta',
    open: true,
    handler: async () => ({ ok: true }),
  });
  route({
    method: 'GET',
    url: '/v1/me',
    summary: 'Who the token belongs to',
    tag: 'auth',
    handler: async ({ p }) => p,
  });
  route({
    method: 'GET',
    url: '/v1/overview',
    summary:
      "Totals for the dashboard: hosts and VMs by state, power now, energy today, SLA violation now (members: their tenant's)",
    tag: 'meta',
    handler: async ({ p }) => cp.overview(p),
  });
};
