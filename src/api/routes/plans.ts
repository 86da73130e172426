/** Consolidation plans: audit (propose), read, apply in waves, discard. */
import { z } from 'zod';
import { listRoute } from '../pagination.ts';
import type { RouteModule } from '../route-def.ts';
import { idParam } from '../schemas.ts';

/** GET/POST /v1/plans, GET /v1/plans/:id, POST /v1/plans/:id/{apply,discard}. */
export const planRoutes: RouteModule = (route, { cp }) => {
  route({
    method: 'POST',
    url: '/v1/plans',
    summary: 'Audit the live state and propose a consolidation plan (admin, operator)',
    tag: 'plans',
    status: 201,
    body: z
      .object({
        spareHosts: z.number().int().nonnegative().optional(),
        holdDownS: z.number().nonnegative().optional(),
        paybackHorizonS: z.number().positive().optional(),
        powerOffGraceS: z.number().nonnegative().optional(),
        policy: z.string().min(1).optional(),
        timeLimitS: z.number().positive().max(600).optional(),
        zone: z.string().min(1).optional(),
        moves: z
          .array(z.object({ vm: z.string().min(1), to: z.string().min(1) }).strict())
          .min(1)
          .optional(),
      })
      .strict()
      .optional(),
    handler: async ({ p, body }) => cp.auditPlan(p, body ?? {}),
  });
  listRoute(route, {
    url: '/v1/plans',
    summary: 'Recent plans',
    tag: 'plans',
    list: async ({ p }) => cp.listPlans(p),
  });
  route({
    method: 'GET',
    url: '/v1/plans/:id',
    summary: "A plan with each action's reason, cost and gain",
    tag: 'plans',
    params: idParam,
    handler: async ({ p, params }) => cp.getPlan(p, params.id),
  });
  route({
    method: 'POST',
    url: '/v1/plans/:id/apply',
    summary:
      'Apply a proposed plan in waves within the migration limits (re-checked against the live state first and before each wave)',
    tag: 'plans',
    params: idParam,
    body: z
      .object({
        maxMigrationsPerHost: z.number().int().positive().optional(),
        maxMigrationsPerCluster: z.number().int().positive().optional(),
      })
      .strict()
      .optional(),
    handler: async ({ p, params, body }) =>
      cp.applyPlan(p, params.id, {
        limits: { perHost: body?.maxMigrationsPerHost, perCluster: body?.maxMigrationsPerCluster },
      }),
  });
  route({
    method: 'POST',
    url: '/v1/plans/:id/discard',
    summary: 'Discard a proposed plan',
    tag: 'plans',
    params: idParam,
    handler: async ({ p, params }) => cp.discardPlan(p, params.id),
  });
};
