/** Automation: levels and audit policy per data center or zone, and running a round now. */
import { z } from 'zod';
import { requireOperator, type RouteModule } from '../route-def.ts';

/** GET/PUT /v1/settings/automation, POST /v1/automation/rounds. */
export const automationRoutes: RouteModule = (route, { cp }) => {
  route({
    method: 'GET',
    url: '/v1/settings/automation',
    summary:
      'Automation settings of the data center and of each zone (cluster): level, policy, spares, migration limits',
    tag: 'plans',
    handler: async ({ p }) => cp.listAutomation(p),
  });
  route({
    method: 'PUT',
    url: '/v1/settings/automation',
    summary:
      'Set the automation level (manual, partial, full) and audit policy, for the data center or one zone (admin)',
    tag: 'plans',
    body: z
      .object({
        automation: z.enum(['manual', 'partial', 'full']),
        zone: z.string().min(1).optional(),
        policy: z.string().min(1).optional(),
        spareHosts: z.number().int().nonnegative().optional(),
        powerOffGraceS: z.number().nonnegative().optional(),
        maxMigrationsPerHost: z.number().int().positive().optional(),
        maxMigrationsPerCluster: z.number().int().positive().optional(),
      })
      .strict(),
    handler: async ({ p, body }) => {
      const { automation, ...rest } = body;
      return cp.setAutomation(p, automation, rest);
    },
  });
  route({
    method: 'POST',
    url: '/v1/automation/rounds',
    summary: 'Run one automation round now in every zone that is not manual (admin, operator)',
    tag: 'plans',
    handler: async ({ p }) => {
      requireOperator(p, 'run automation rounds');
      return { plans: await cp.automationRound(p) };
    },
  });
};
