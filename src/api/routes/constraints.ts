/** Placement constraints: a tenant's rules about where its VMs may run (src/core/constraints). */
import { z } from 'zod';
import {
  CONSTRAINT_TYPES,
  HOST_ATTRIBUTES,
  RESOURCES,
  SPREAD_DOMAINS,
} from '../../core/constraints/index.ts';
import { listRoute } from '../pagination.ts';
import type { RouteModule } from '../route-def.ts';
import { idParam, name } from '../schemas.ts';

const where = z
  .object(Object.fromEntries(HOST_ATTRIBUTES.map((k) => [k, z.string().min(1).optional()])))
  .strict();
const ref = z.string().min(1).max(200);
const hostGroup = z.object({ hosts: z.array(ref).max(1000).optional(), where: where.optional() }).strict();

/** GET/POST /v1/constraints, GET/DELETE /v1/constraints/:id. */
export const constraintRoutes: RouteModule = (route, { cp }) => {
  listRoute(route, {
    url: '/v1/constraints',
    summary:
      "List placement constraints (your tenant's; all for admin and operator), each with what breaks it now",
    tag: 'constraints',
    list: async ({ p }) => cp.constraints.listConstraints(p),
  });
  route({
    method: 'GET',
    url: '/v1/constraints/:id',
    summary: 'One placement constraint (by id or name)',
    tag: 'constraints',
    params: idParam,
    handler: async ({ p, params }) => cp.constraints.getConstraint(p, params.id),
  });
  route({
    method: 'POST',
    url: '/v1/constraints',
    summary:
      'Create a placement constraint (BtrPlace catalog): over VMs (names or ids) for tenants; quarantine, maxOnline, runningCapacity, overbook over hosts for operators',
    tag: 'constraints',
    status: 201,
    body: z
      .object({
        name,
        type: z.enum(CONSTRAINT_TYPES as [string, ...string[]]),
        hard: z.boolean().optional(),
        vms: z.array(z.string().min(1).max(200)).max(1000).optional(),
        serverGroup: ref.optional(),
        hosts: z.array(z.string().min(1).max(200)).max(1000).optional(),
        where: where.optional(),
        max: z.number().int().min(0).optional(),
        over: z.enum(SPREAD_DOMAINS).optional(),
        maxPerDomain: z.number().int().min(1).optional(),
        vmGroups: z.array(z.array(ref).max(1000)).max(100).optional(),
        hostGroups: z.array(hostGroup).max(100).optional(),
        resource: z.enum(RESOURCES).optional(),
        amount: z.number().min(0).optional(),
        ratio: z.number().positive().max(1000).optional(),
        continuous: z.boolean().optional(),
      })
      .strict(),
    handler: async ({ p, body }) => cp.constraints.createConstraint(p, body),
  });
  route({
    method: 'DELETE',
    url: '/v1/constraints/:id',
    summary: 'Delete a placement constraint',
    tag: 'constraints',
    status: 204,
    params: idParam,
    handler: async ({ p, params }) => {
      await cp.constraints.deleteConstraint(p, params.id);
      return undefined;
    },
  });
};
