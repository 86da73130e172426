/** Hosts: inventory, state, power, drain. */
import { z } from 'zod';
import type { RouteModule } from '../route-def.ts';
import { listRoute } from '../pagination.ts';
import { idParam, name } from '../schemas.ts';

/** The fields of a host in a list (`fields`). */
const HOST_FIELDS = [
  'id',
  'name',
  'state',
  'datacenter',
  'zone',
  'rack',
  'tier',
  'driver',
  'lastSeenAt',
  'powerAddress',
  'underlayIp',
  'physnets',
  'pools',
  'cpu',
  'powerW',
  'capacity',
  'reserved',
  'overcommit',
  'used',
  'vms',
] as const;

const powerModel = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('linear'),
      idleW: z.number().nonnegative(),
      maxW: z.number().nonnegative(),
    })
    .strict()
    .refine((m) => m.maxW >= m.idleW, 'maxW must be >= idleW'),
  z
    .object({
      type: z.literal('specpower'),
      name: z.string().optional(),
      wattsAt: z.array(z.number().nonnegative()).length(11),
    })
    .strict(),
]);

/** GET/POST /v1/hosts, GET/PATCH/DELETE /v1/hosts/:id, POST /v1/hosts/:id/{power,drain,undrain,retire}. */
export const hostRoutes: RouteModule = (route, { cp }) => {
  listRoute(route, {
    url: '/v1/hosts',
    summary: 'List hosts with capacity and use (admin, operator), by name',
    tag: 'hosts',
    filters: {
      state: z.string().max(50).optional(),
      zone: z.string().max(200).optional(),
      rack: z.string().max(200).optional(),
      driver: z.string().max(50).optional(),
    },
    fields: HOST_FIELDS,
    page: ({ p, query }) =>
      cp.pageHosts(
        p,
        { state: query.state, zone: query.zone, rack: query.rack, driver: query.driver },
        { limit: query.limit, cursor: query.cursor },
      ),
  });
  route({
    method: 'GET',
    url: '/v1/hosts/:id',
    summary: 'One host (admin, operator)',
    tag: 'hosts',
    params: idParam,
    handler: async ({ p, params }) => cp.getHost(p, params.id),
  });
  route({
    method: 'POST',
    url: '/v1/hosts',
    summary: 'Register a host (admin)',
    tag: 'hosts',
    status: 201,
    body: z
      .object({
        name,
        vcpus: z.number().int().positive(),
        memoryMiB: z.number().int().positive(),
        diskGiB: z.number().int().nonnegative(),
        cpuRatio: z.number().positive().max(32).optional(),
        memoryRatio: z.number().positive().max(4).optional(),
        diskRatio: z.number().positive().max(8).optional(),
        reservedVcpus: z.number().int().nonnegative().optional(),
        reservedMemoryMiB: z.number().int().nonnegative().optional(),
        reservedDiskGiB: z.number().int().nonnegative().optional(),
        datacenter: z.string().optional(),
        rack: z.string().optional(),
        tier: z.string().min(1).optional(),
        zone: z.string().min(1).optional(),
        driver: z.enum(['sim', 'qemu']).optional(),
        agentUrl: z.string().url().optional(),
        powerAddress: z.string().min(1).optional(),
        powerModel: powerModel.optional(),
      })
      .strict(),
    handler: async ({ p, body }) => cp.createHost(p, body),
  });
  route({
    method: 'POST',
    url: '/v1/hosts/:id/power',
    summary:
      "Switch a host on or off (off: it must be empty); real hosts through their agents' power-control command (admin, operator)",
    tag: 'hosts',
    params: idParam,
    body: z.object({ action: z.enum(['on', 'off']), reason: z.string().optional() }).strict(),
    handler: async ({ p, params, body }) => cp.powerHost(p, params.id, body.action, { reason: body.reason }),
  });
  route({
    method: 'GET',
    url: '/v1/hosts/:id/memory',
    summary:
      "A host's memory model: policy, risk, demand (guaranteed, expected, at the risk, shared) and its VMs' lines; with=VM,VM adds what the demand would be with those VMs, the pages they would share with the host's VMs and whether the policy admits them (admin, operator)",
    tag: 'hosts',
    params: idParam,
    query: z
      .object({
        with: z
          .string()
          .min(1)
          .max(10_000)
          .optional()
          .describe('VM ids or names, comma-separated (at most 100)'),
      })
      .strict(),
    handler: async ({ p, params, query }) =>
      cp.memoryReads.hostMemory(p, params.id, {
        with: (query.with as string | undefined)
          ?.split(',')
          .map((x) => x.trim())
          .filter(Boolean),
      }),
  });
  route({
    method: 'PATCH',
    url: '/v1/hosts/:id',
    summary:
      "Change a host's state (admin, operator) or its ratios, reserved resources, zone, rack, tier, data center, power model (admin); refused when its VMs would no longer fit",
    tag: 'hosts',
    params: idParam,
    body: z
      .object({
        state: z.enum(['up', 'maintenance', 'off', 'failed']).optional(),
        cpuRatio: z.number().positive().max(32).optional(),
        memoryRatio: z.number().positive().max(4).optional(),
        diskRatio: z.number().positive().max(8).optional(),
        reservedVcpus: z.number().int().nonnegative().optional(),
        reservedMemoryMiB: z.number().int().nonnegative().optional(),
        reservedDiskGiB: z.number().int().nonnegative().optional(),
        memoryPolicy: z.enum(['static', 'measured']).optional(),
        memoryRisk: z.number().gt(0).lt(0.5).optional(),
        memoryGuarantee: z.number().gt(0).max(1).optional(),
        datacenter: z.string().min(1).optional(),
        rack: z.string().min(1).optional(),
        tier: z.string().min(1).optional(),
        zone: z.string().min(1).optional(),
        powerAddress: z.string().min(1).nullable().optional(),
        powerModel: powerModel.optional(),
        underlayIp: z.string().min(1).max(255).nullable().optional(),
        physnets: z
          .array(
            z
              .string()
              .min(1)
              .max(64)
              .regex(/^[a-zA-Z0-9_.-]+$/),
          )
          .max(16)
          .optional(),
        pools: z
          .array(
            z
              .string()
              .min(1)
              .max(63)
              .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/),
          )
          .max(32)
          .optional(),
      })
      .strict(),
    handler: async ({ p, params, body }) => {
      const { state, ...changes } = body;
      let out = Object.keys(changes).length
        ? await cp.hostEdits.updateHost(p, params.id, changes)
        : undefined;
      if (state) out = await cp.setHostState(p, params.id, state);
      return out ?? cp.getHost(p, params.id);
    },
  });
  route({
    method: 'DELETE',
    url: '/v1/hosts/:id',
    summary: 'Delete a host with no VMs (409 naming its VMs otherwise; admin)',
    tag: 'hosts',
    status: 204,
    params: idParam,
    handler: async ({ p, params }) => {
      await cp.hostEdits.deleteHost(p, params.id);
      return undefined;
    },
  });
  route({
    method: 'POST',
    url: '/v1/hosts/:id/retire',
    summary: 'Retire a host: drain it, then delete it; says which VMs could not move (admin)',
    tag: 'hosts',
    params: idParam,
    handler: async ({ p, params }) => cp.hostEdits.retireHost(p, params.id),
  });
  route({
    method: 'POST',
    url: '/v1/hosts/:id/drain',
    summary: 'Live-migrate every VM off a host, then keep it in maintenance (admin, operator)',
    tag: 'hosts',
    params: idParam,
    handler: async ({ p, params }) => cp.drainHost(p, params.id),
  });
  route({
    method: 'POST',
    url: '/v1/hosts/:id/undrain',
    summary: 'Put a host back in service (admin, operator)',
    tag: 'hosts',
    params: idParam,
    handler: async ({ p, params }) => cp.setHostState(p, params.id, 'up'),
  });
};
