/** Data-center settings: PUE and HA admission control (automation settings: automation.ts). */
import { z } from 'zod';
import type { RouteModule } from '../route-def.ts';

/** PUT /v1/settings/energy, PUT /v1/settings/ha. */
export const settingsRoutes: RouteModule = (route, { cp }) => {
  route({
    method: 'PUT',
    url: '/v1/settings/energy',
    summary: "Set the data center's PUE (admin)",
    tag: 'usage',
    body: z.object({ pue: z.number() }).strict(),
    handler: async ({ p, body }) => cp.setPue(p, body.pue),
  });
  route({
    method: 'PUT',
    url: '/v1/settings/ha',
    summary: 'HA admission control: failover capacity for 0 or 1 host failure (admin)',
    tag: 'hosts',
    body: z.object({ failoverHosts: z.number().int() }).strict(),
    handler: async ({ p, body }) => cp.setHaFailoverHosts(p, body.failoverHosts),
  });
};
