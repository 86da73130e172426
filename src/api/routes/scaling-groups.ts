/** Autoscaling groups. */
import { z } from 'zod';
import { listRoute } from '../pagination.ts';
import type { RouteModule } from '../route-def.ts';
import { idParam, name } from '../schemas.ts';

const policy = z
  .object({
    scaleOutAbove: z.number(),
    scaleInBelow: z.number(),
    adjustmentType: z.enum(['change', 'exact', 'percent']),
    adjustment: z.number().positive(),
    exactIn: z.number().int().nonnegative().optional(),
    cooldownS: z.number().nonnegative(),
    metric: z.enum(['reported', 'cpu']).optional(),
  })
  .strict();

/** GET/POST /v1/scaling-groups, GET/PATCH/DELETE /v1/scaling-groups/:id, POST /v1/scaling-groups/:id/metrics. */
export const scalingGroupRoutes: RouteModule = (route, { cp }) => {
  route({
    method: 'POST',
    url: '/v1/scaling-groups',
    summary: 'Create an autoscaling group (members spread by soft anti-affinity)',
    tag: 'scaling-groups',
    status: 201,
    body: z
      .object({
        name,
        flavor: z.string().min(1),
        image: z.string().min(1),
        min: z.number().int().nonnegative(),
        max: z.number().int().positive().max(1000),
        desired: z.number().int().nonnegative().optional(),
        policy,
        scaleIn: z.enum(['newest', 'least-loaded']).optional(),
      })
      .strict(),
    handler: async ({ p, body }) => cp.createScalingGroup(p, body),
  });
  route({
    method: 'GET',
    url: '/v1/scaling-groups/:id',
    summary: 'An autoscaling group and its members',
    tag: 'scaling-groups',
    params: idParam,
    handler: async ({ p, params }) => cp.getScalingGroup(p, params.id),
  });
  route({
    method: 'POST',
    url: '/v1/scaling-groups/:id/metrics',
    summary: "Report the group's metric (and per-member loads); it scales by its policy",
    tag: 'scaling-groups',
    params: idParam,
    body: z.object({ value: z.number(), loads: z.record(z.string(), z.number()).optional() }).strict(),
    handler: async ({ p, params, body }) => cp.reportGroupMetric(p, params.id, body.value, body.loads),
  });
  listRoute(route, {
    url: '/v1/scaling-groups',
    summary: "List autoscaling groups (your tenant's; all for admin and operator)",
    tag: 'scaling-groups',
    list: async ({ p }) => cp.scaling.listScalingGroups(p),
  });
  route({
    method: 'PATCH',
    url: '/v1/scaling-groups/:id',
    summary: 'Change min, max, desired, policy or scale-in order; the group is reconciled to its new size',
    tag: 'scaling-groups',
    params: idParam,
    body: z
      .object({
        min: z.number().int().nonnegative().optional(),
        max: z.number().int().positive().max(1000).optional(),
        desired: z.number().int().nonnegative().optional(),
        policy: policy.optional(),
        scaleIn: z.enum(['newest', 'least-loaded']).optional(),
      })
      .strict(),
    handler: async ({ p, params, body }) => cp.scaling.updateScalingGroup(p, params.id, body),
  });
  route({
    method: 'DELETE',
    url: '/v1/scaling-groups/:id',
    summary: 'Delete an autoscaling group and its members (through the normal VM delete)',
    tag: 'scaling-groups',
    params: idParam,
    handler: async ({ p, params }) => cp.scaling.deleteScalingGroup(p, params.id),
  });
};
