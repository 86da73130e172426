/** Measured VM utilization in, energy reports out. */
import { z } from 'zod';
import type { RouteModule } from '../route-def.ts';
import { dateOrTime } from '../schemas.ts';

/** POST /v1/metrics, GET /v1/energy. */
export const metricsEnergyRoutes: RouteModule = (route, { cp }) => {
  route({
    method: 'POST',
    url: '/v1/metrics',
    summary:
      'Report measured CPU utilization of VMs (agents do it with their heartbeats; monitoring systems for simulated hosts) (admin, operator)',
    tag: 'hosts',
    body: z
      .object({
        samples: z
          .array(z.object({ vm: z.string().min(1), cpu: z.number().min(0).max(1) }).strict())
          .max(100000),
      })
      .strict(),
    handler: async ({ p, body }) => cp.recordMetrics(p, body.samples),
  });
  route({
    method: 'GET',
    url: '/v1/energy',
    summary:
      'Energy by host, zone or tenant over whole UTC days [from, to] (both included), IT and facility (× PUE); members see their tenant',
    tag: 'usage',
    query: z
      .object({ from: dateOrTime, to: dateOrTime, by: z.enum(['host', 'zone', 'tenant']).default('tenant') })
      .strict(),
    handler: async ({ p, query }) => cp.energyReport(p, query),
  });
};
