/**
 * The control plane's REST API (fastify). Every route is declared once in a table with its zod
 * schemas, roles and summary; the same table produces the OpenAPI 3.1 document at /openapi.json.
 * HTTP status codes are decided in one place (the error handler).
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ControlPlane, ROLES, type Principal } from '../control/control-plane.ts';
import { ControlError } from '../control/errors.ts';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { existsSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { getRun, listRuns, startRun, type SimulationsOptions } from './simulations.ts';
import { VM_ACTIONS, type VmAction } from '../control/vm-states.ts';

const STATUS: Record<ControlError['code'], number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  INVALID_STATE: 409,
  QUOTA_EXCEEDED: 403,
  NO_HOST_FITS: 409,
  BAD_REQUEST: 400,
  IDEMPOTENCY_CONFLICT: 422,
  BACKEND: 502,
};

const name = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'letters, digits, ".", "_" or "-", starting with a letter or digit');
const quotas = z
  .object({
    vcpus: z.number().int().min(0),
    memoryMiB: z.number().int().min(0),
    vms: z.number().int().min(0),
    diskGiB: z.number().int().min(0),
  })
  .partial()
  .strict();
const idParam = z.object({ id: z.string().min(1).max(200) }).strict();

interface RouteDef {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  summary: string;
  tag: string;
  /** No token needed. */
  open?: boolean;
  body?: z.ZodType;
  query?: z.ZodType;
  params?: z.ZodType;
  status?: number;
  /* eslint-disable @typescript-eslint/no-explicit-any -- bodies are typed by their zod schemas */
  handler: (ctx: {
    p: Principal;
    body: any;
    query: any;
    params: any;
    req: FastifyRequest;
    reply: FastifyReply;
  }) => Promise<unknown>;
  /* eslint-enable @typescript-eslint/no-explicit-any */
}

function parse(schema: z.ZodType | undefined, value: unknown, where: string): unknown {
  if (!schema) return value;
  const r = schema.safeParse(value ?? (where === 'body' ? undefined : {}));
  if (!r.success) {
    const issues = r.error.issues.map(
      (i) => `${where}${i.path.length ? '.' + i.path.join('.') : ''}: ${i.message}`,
    );
    throw new ControlError('BAD_REQUEST', `Invalid request: ${issues.join('; ')}`, {
      issues: r.error.issues.map((i) => ({ path: [where, ...i.path].join('.'), message: i.message })),
    });
  }
  return r.data;
}

/** Build the API (not listening). */
export interface ApiOptions {
  /** The dashboard's built files (web/dist), served at `/`. */
  web?: string;
  /** Saved simulation runs and how to start new ones. */
  simulations?: SimulationsOptions;
}

export function buildApi(cp: ControlPlane, opts: ApiOptions = {}): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1 << 20 });
  const routes: RouteDef[] = [];
  const route = (r: RouteDef) => routes.push(r);
  const operator = (p: Principal) => {
    if (p.role !== 'admin' && p.role !== 'operator')
      throw new ControlError('FORBIDDEN', 'Only admins and operators may do this');
  };

  // ---- routes ----
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
  const sims = () => {
    if (!opts.simulations)
      throw new ControlError('NOT_FOUND', 'This server keeps no simulation runs (start it with nubis serve)');
    return opts.simulations;
  };
  route({
    method: 'GET',
    url: '/v1/simulations',
    summary: 'Saved and running simulation runs (admin, operator)',
    tag: 'simulations',
    handler: async ({ p }) => {
      operator(p);
      return listRuns(sims());
    },
  });
  route({
    method: 'GET',
    url: '/v1/simulations/:id',
    summary: 'One run: result rows and per-step series (admin, operator)',
    tag: 'simulations',
    params: idParam,
    handler: async ({ p, params }) => {
      operator(p);
      return getRun(sims(), params.id);
    },
  });
  route({
    method: 'POST',
    url: '/v1/simulations',
    summary: 'Start a nubis sim run on the server (admin, operator); poll GET /v1/simulations/:name',
    tag: 'simulations',
    status: 202,
    body: z
      .object({
        name: z.string().optional(),
        scenario: z.string().min(1),
        trace: z.string().optional(),
        policies: z.array(z.string().min(1)).min(1).max(12),
        mode: z.enum(['cloudsim', 'default']).optional(),
        limitVms: z.number().int().positive().optional(),
        hosts: z.number().int().positive().optional(),
        engine: z.enum(['simulator', 'control-plane']).optional(),
      })
      .strict(),
    handler: async ({ p, body }) => {
      operator(p);
      return startRun(sims(), body, new Date());
    },
  });

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
  route({
    method: 'POST',
    url: '/v1/users',
    summary: 'Create a user in a tenant with a role (admin)',
    tag: 'users',
    status: 201,
    body: z.object({ tenant: z.string().min(1), name, role: z.enum(ROLES) }).strict(),
    handler: async ({ p, body }) => cp.createUser(p, body.tenant, body.name, body.role),
  });
  route({
    method: 'POST',
    url: '/v1/tokens',
    summary: 'Create an API token (shown once; admins may create one for any user)',
    tag: 'tokens',
    status: 201,
    body: z
      .object({ name, userId: z.string().optional(), expiresInS: z.number().int().positive().optional() })
      .strict(),
    handler: async ({ p, body }) => cp.createToken(p, body),
  });
  route({
    method: 'DELETE',
    url: '/v1/tokens/:id',
    summary: 'Revoke a token',
    tag: 'tokens',
    status: 204,
    params: idParam,
    handler: async ({ p, params }) => {
      await cp.revokeToken(p, params.id);
      return undefined;
    },
  });

  route({
    method: 'GET',
    url: '/v1/hosts',
    summary: 'List hosts with capacity and use (admin, operator)',
    tag: 'hosts',
    handler: async ({ p }) => cp.listHosts(p),
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
        powerModel: z
          .discriminatedUnion('type', [
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
          ])
          .optional(),
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
      'Energy by host, zone or tenant over whole UTC days, IT and facility (× PUE); members see their tenant',
    tag: 'usage',
    query: z
      .object({ from: z.string(), to: z.string(), by: z.enum(['host', 'zone', 'tenant']).default('tenant') })
      .strict(),
    handler: async ({ p, query }) => cp.energyReport(p, query),
  });
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
  route({
    method: 'PATCH',
    url: '/v1/hosts/:id',
    summary: "Change a host's state (admin, operator)",
    tag: 'hosts',
    params: idParam,
    body: z.object({ state: z.enum(['up', 'maintenance', 'off', 'failed']) }).strict(),
    handler: async ({ p, params, body }) => cp.setHostState(p, params.id, body.state),
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
  route({
    method: 'GET',
    url: '/v1/flavors',
    summary: 'List flavors',
    tag: 'flavors',
    handler: async () => cp.listFlavors(),
  });
  route({
    method: 'POST',
    url: '/v1/flavors',
    summary: 'Create a flavor (admin)',
    tag: 'flavors',
    status: 201,
    body: z
      .object({
        name,
        vcpus: z.number().int().positive().max(256),
        memoryMiB: z.number().int().min(64),
        diskGiB: z.number().int().nonnegative(),
      })
      .strict(),
    handler: async ({ p, body }) => cp.createFlavor(p, body),
  });
  route({
    method: 'GET',
    url: '/v1/images',
    summary: 'List images',
    tag: 'images',
    handler: async () => cp.listImages(),
  });
  route({
    method: 'POST',
    url: '/v1/images',
    summary: 'Register an image (admin)',
    tag: 'images',
    status: 201,
    body: z
      .object({
        name,
        format: z.enum(['qcow2', 'raw', 'kernel+initramfs']),
        sizeMiB: z.number().int().positive(),
      })
      .strict(),
    handler: async ({ p, body }) => cp.createImage(p, body),
  });
  route({
    method: 'GET',
    url: '/v1/server-groups',
    summary: 'List server groups',
    tag: 'server-groups',
    handler: async ({ p }) => cp.listServerGroups(p),
  });
  route({
    method: 'POST',
    url: '/v1/server-groups',
    summary: 'Create a server group',
    tag: 'server-groups',
    status: 201,
    body: z
      .object({ name, policy: z.enum(['affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity']) })
      .strict(),
    handler: async ({ p, body }) => cp.createServerGroup(p, body.name, body.policy),
  });

  route({
    method: 'GET',
    url: '/v1/vms',
    summary: "List VMs (your tenant's; all for admin and operator)",
    tag: 'vms',
    query: z.object({ state: z.string().optional(), host: z.string().optional() }).strict(),
    handler: async ({ p, query }) => cp.listVms(p, query),
  });
  route({
    method: 'GET',
    url: '/v1/vms/:id',
    summary: 'One VM with the actions its state allows',
    tag: 'vms',
    params: idParam,
    handler: async ({ p, params }) => cp.getVm(p, params.id),
  });
  route({
    method: 'POST',
    url: '/v1/vms',
    summary: 'Create a VM (202 with an operation); dryRun answers where it would go and why',
    tag: 'vms',
    status: 202,
    body: z
      .object({
        name,
        flavor: z.string().min(1),
        image: z.string().min(1),
        serverGroup: z.string().optional(),
        preset: z.enum(['pack', 'spread', 'first-fit']).optional(),
        zone: z.string().optional(),
        tier: z.string().optional(),
        ha: z.boolean().optional(),
        haPriority: z.number().int().min(0).max(100).optional(),
        dryRun: z.boolean().optional(),
      })
      .strict(),
    handler: async ({ p, body, req, reply }) => {
      if (body.dryRun) {
        reply.code(200);
        return cp.placement(p, body);
      }
      return cp.createVm(p, { ...body, idempotencyKey: idemKey(req) });
    },
  });
  route({
    method: 'POST',
    url: '/v1/vms/:id/actions',
    summary: `Run a lifecycle action: ${Object.keys(VM_ACTIONS).join(', ')} (202 with an operation)`,
    tag: 'vms',
    status: 202,
    params: idParam,
    body: z
      .object({
        action: z.enum(Object.keys(VM_ACTIONS) as [VmAction, ...VmAction[]]),
        snapshotName: name.optional(),
        flavor: z.string().optional(),
        name: name.optional(),
      })
      .strict(),
    handler: async ({ p, params, body, req }) =>
      cp.vmAction(p, params.id, body.action, {
        idempotencyKey: idemKey(req),
        snapshotName: body.snapshotName,
        flavor: body.flavor,
        name: body.name,
      }),
  });
  route({
    method: 'DELETE',
    url: '/v1/vms/:id',
    summary: 'Delete a VM (202 with an operation)',
    tag: 'vms',
    status: 202,
    params: idParam,
    handler: async ({ p, params, req }) =>
      cp.vmAction(p, params.id, 'delete', { idempotencyKey: idemKey(req) }),
  });
  route({
    method: 'POST',
    url: '/v1/vms/:id/migrate',
    summary:
      'Live-migrate a VM (to a host, or where placement says); a downtime target lets the models choose the settings',
    tag: 'vms',
    status: 202,
    params: idParam,
    body: z
      .object({
        toHost: z.string().optional(),
        mode: z.enum(['stop-and-copy', 'precopy', 'postcopy']).optional(),
        downtimeTargetMs: z.number().positive().optional(),
        bandwidthMbps: z.number().positive().optional(),
      })
      .strict(),
    handler: async ({ p, params, body, req }) =>
      cp.migrateVm(p, params.id, { ...body, idempotencyKey: idemKey(req) }),
  });
  route({
    method: 'POST',
    url: '/v1/agents/heartbeat',
    summary: 'A host agent registers and reports (operator token)',
    tag: 'hosts',
    body: z
      .object({
        agentUrl: z.string().url(),
        hostname: z.string().min(1),
        cpus: z.number().int().positive(),
        memoryMiB: z.number().positive(),
        accel: z.string().optional(),
        health: z.object({ status: z.enum(['ok', 'degraded']), reason: z.string().optional() }).optional(),
      })
      .passthrough(),
    handler: async ({ p, body }) => cp.heartbeat(p, { ...body, memoryMiB: Math.floor(body.memoryMiB) }),
  });
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
      if (p.role !== 'admin' && p.role !== 'operator')
        throw new ControlError('FORBIDDEN', 'Only admins and operators run automation rounds');
      return { plans: await cp.automationRound(p) };
    },
  });
  route({
    method: 'GET',
    url: '/v1/plans',
    summary: 'Recent plans',
    tag: 'plans',
    handler: async ({ p }) => cp.listPlans(p),
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
  route({
    method: 'GET',
    url: '/v1/operations/:id',
    summary: 'Poll an operation',
    tag: 'operations',
    params: idParam,
    handler: async ({ p, params }) => cp.getOperation(p, params.id),
  });
  const period = z
    .object({
      tenant: z.string().optional(),
      from: z.iso.datetime({ offset: true }),
      to: z.iso.datetime({ offset: true }),
      format: z.enum(['json', 'csv']).optional(),
    })
    .strict();
  route({
    method: 'GET',
    url: '/v1/usage',
    summary: 'Usage of a tenant in [from, to): VM time, vCPU/memory/disk hours, energy',
    tag: 'billing',
    query: period,
    handler: async ({ p, query }) => cp.usageReport(p, query),
  });
  route({
    method: 'GET',
    url: '/v1/usage/daily',
    summary: 'Usage of a tenant in [from, to) by flavor and UTC day',
    tag: 'billing',
    query: period,
    handler: async ({ p, query }) => cp.usageByDay(p, query),
  });
  route({
    method: 'GET',
    url: '/v1/tariffs',
    summary: 'List tariffs',
    tag: 'billing',
    handler: async () => cp.listTariffs(),
  });
  route({
    method: 'POST',
    url: '/v1/tariffs',
    summary: 'Create a tariff with a validity window (admin)',
    tag: 'billing',
    status: 201,
    body: z
      .object({
        name,
        validFrom: z.iso.datetime({ offset: true }),
        validTo: z.iso.datetime({ offset: true }).optional(),
        currency: z.string().length(3).optional(),
        vcpuHour: z.number().nonnegative(),
        memoryGiBHour: z.number().nonnegative(),
        diskGiBHour: z.number().nonnegative(),
        kWh: z.number().nonnegative(),
      })
      .strict(),
    handler: async ({ p, body }) => cp.createTariff(p, body),
  });
  route({
    method: 'GET',
    url: '/v1/invoices',
    summary: "A tenant's invoice for [from, to) (format=csv for CSV)",
    tag: 'billing',
    query: period,
    handler: async ({ p, query, reply }) => {
      const inv = await cp.invoice(p, query);
      if (query.format !== 'csv') return inv;
      reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header(
          'content-disposition',
          `attachment; filename="invoice-${inv.from.slice(0, 10)}-${inv.to.slice(0, 10)}.csv"`,
        );
      const head =
        'flavor,tariff,currency,running_s,stopped_s,vcpu_hours,memory_gib_hours,disk_gib_hours,energy_kwh,amount';
      return (
        [
          head,
          ...inv.lines.map((l) =>
            [
              l.flavor,
              l.tariff,
              l.currency,
              l.runningS,
              l.stoppedS,
              l.vcpuHours.toFixed(6),
              l.memoryGiBHours.toFixed(6),
              l.diskGiBHours.toFixed(6),
              l.energyKWh.toFixed(6),
              l.amount.toFixed(2),
            ].join(','),
          ),
          `total,,${inv.currency},,,,,,,${inv.total.toFixed(2)}`,
        ].join('\n') + '\n'
      );
    },
  });
  route({
    method: 'GET',
    url: '/v1/events',
    summary: "The audit trail (your tenant's; all for admin and operator)",
    tag: 'events',
    query: z
      .object({
        vm: z.string().optional(),
        host: z.string().optional(),
        after: z.coerce.number().int().nonnegative().optional(),
        limit: z.coerce.number().int().positive().max(10000).optional(),
      })
      .strict(),
    handler: async ({ p, query }) =>
      cp.listEvents(p, { vmId: query.vm, hostId: query.host, after: query.after, limit: query.limit }),
  });

  // ---- wiring ----
  for (const r of routes) {
    app.route({
      method: r.method,
      url: r.url,
      handler: async (req, reply) => {
        let p = undefined as unknown as Principal;
        if (!r.open) {
          const h = req.headers.authorization;
          const token = h?.startsWith('Bearer ') ? h.slice(7).trim() : undefined;
          const found = token ? await cp.authenticate(token) : null;
          if (!found)
            throw new ControlError(
              'UNAUTHENTICATED',
              'A valid "Authorization: Bearer <token>" header is required',
            );
          p = found;
        }
        const body = parse(r.body, req.body, 'body');
        const query = parse(r.query, req.query, 'query');
        const params = parse(r.params, req.params, 'path');
        reply.code(r.status ?? 200);
        const out = await r.handler({ p, body, query, params, req, reply });
        if (out === undefined) return reply.send();
        return out;
      },
    });
  }
  app.get('/openapi.json', async () => openApi(routes));

  // Conditional GETs: a strong ETag on every JSON answer of the API, 304 when the client has it
  // already (the dashboard polls; unchanged lists of 1,000 hosts then cost no transfer). Responses
  // carry `cache-control: private, no-cache` so clients always revalidate.
  app.addHook('onSend', async (req, reply, payload) => {
    if (
      req.method !== 'GET' ||
      reply.statusCode !== 200 ||
      typeof payload !== 'string' ||
      !req.url.startsWith('/v1/')
    )
      return payload;
    const tag = `"${createHash('sha1').update(payload).digest('base64url')}"`;
    reply.header('etag', tag).header('cache-control', 'private, no-cache');
    if (req.headers['if-none-match'] === tag) {
      reply.code(304);
      return '';
    }
    return payload;
  });

  // Prometheus text exposition (no auth: bind to loopback or scrape through a proxy).
  const latency = new Map<string, { count: number; sum: number; buckets: number[] }>();
  const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
  app.addHook('onResponse', async (req, reply) => {
    const key = `${req.method} ${req.routeOptions.url ?? 'unmatched'} ${reply.statusCode}`;
    const e = latency.get(key) ?? { count: 0, sum: 0, buckets: BUCKETS.map(() => 0) };
    const s = reply.elapsedTime / 1000;
    e.count++;
    e.sum += s;
    BUCKETS.forEach((b, i) => {
      if (s <= b) e.buckets[i]!++;
    });
    latency.set(key, e);
  });
  app.get('/metrics', async (_req, reply) => {
    const m = await cp.metricsSnapshot();
    const lines: string[] = [];
    lines.push('# HELP nubis_hosts Hosts by state', '# TYPE nubis_hosts gauge');
    for (const [k, v] of Object.entries(m.hostsByState)) lines.push(`nubis_hosts{state="${k}"} ${v}`);
    lines.push('# HELP nubis_vms VMs by state', '# TYPE nubis_vms gauge');
    for (const [k, v] of Object.entries(m.vmsByState)) lines.push(`nubis_vms{state="${k}"} ${v}`);
    lines.push(
      '# HELP nubis_placement_decisions_total VMs placed',
      '# TYPE nubis_placement_decisions_total counter',
      `nubis_placement_decisions_total ${m.placements}`,
    );
    lines.push(
      '# HELP nubis_power_watts Estimated IT power of the data center',
      '# TYPE nubis_power_watts gauge',
      `nubis_power_watts ${m.powerW.toFixed(1)}`,
    );
    lines.push(
      '# HELP nubis_http_request_duration_seconds API latency',
      '# TYPE nubis_http_request_duration_seconds histogram',
    );
    for (const [key, e] of latency) {
      const [method, route, status] = key.split(' ');
      const l = `method="${method}",route="${route}",status="${status}"`;
      BUCKETS.forEach((b, i) =>
        lines.push(`nubis_http_request_duration_seconds_bucket{${l},le="${b}"} ${e.buckets[i]}`),
      );
      lines.push(
        `nubis_http_request_duration_seconds_bucket{${l},le="+Inf"} ${e.count}`,
        `nubis_http_request_duration_seconds_sum{${l}} ${e.sum}`,
        `nubis_http_request_duration_seconds_count{${l}} ${e.count}`,
      );
    }
    reply.header('content-type', 'text/plain; version=0.0.4');
    return lines.join('\n') + '\n';
  });

  // The dashboard: a static single-page app (hash routes), same origin as the API.
  if (opts.web) {
    const root = opts.web;
    const TYPES: Record<string, string> = {
      '.html': 'text/html; charset=utf-8',
      '.js': 'text/javascript; charset=utf-8',
      '.css': 'text/css; charset=utf-8',
      '.svg': 'image/svg+xml',
      '.png': 'image/png',
      '.ico': 'image/x-icon',
      '.json': 'application/json',
      '.woff2': 'font/woff2',
    };
    // Compressed once per file and kept (the built assets are a few hundred KB).
    const gzipped = new Map<string, Buffer>();
    const send = (file: string, reply: FastifyReply, immutable: boolean, acceptEncoding?: string) => {
      const type = TYPES[extname(file)] ?? 'application/octet-stream';
      reply
        .header('content-type', type)
        .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
        .header('x-content-type-options', 'nosniff')
        .header('vary', 'accept-encoding');
      if (/\bgzip\b/.test(acceptEncoding ?? '') && /\.(js|css|html|svg|json)$/.test(file)) {
        let z = gzipped.get(file);
        if (!z) {
          z = gzipSync(readFileSync(file));
          if (immutable) gzipped.set(file, z);
        }
        return reply.header('content-encoding', 'gzip').send(z);
      }
      return reply.send(readFileSync(file));
    };
    app.get('/', async (req, reply) => {
      const index = join(root, 'index.html');
      if (!existsSync(index))
        return reply
          .code(503)
          .header('content-type', 'text/plain')
          .send('The dashboard is not built: run npm run build:web (npm ci does it)\n');
      return send(index, reply, false, req.headers['accept-encoding']);
    });
    app.get<{ Params: { '*': string } }>('/assets/*', async (req, reply) => {
      const rel = req.params['*'];
      if (!/^[A-Za-z0-9._-]+$/.test(rel))
        return reply.code(404).send({ code: 'NOT_FOUND', message: 'No such asset' });
      const file = join(root, 'assets', rel);
      if (!existsSync(file)) return reply.code(404).send({ code: 'NOT_FOUND', message: 'No such asset' });
      return send(file, reply, true, req.headers['accept-encoding']);
    });
  }

  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .send({ code: 'NOT_FOUND', message: `No route ${req.method} ${req.url}; see /openapi.json` }),
  );
  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof ControlError)
      return reply
        .code(STATUS[err.code])
        .send({ code: err.code, message: err.message, ...(err.details ?? {}) });
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500)
      return reply.code(status).send({ code: 'BAD_REQUEST', message: (err as Error).message });
    return reply.code(500).send({ code: 'INTERNAL', message: 'Internal error' });
  });
  return app;
}

function idemKey(req: FastifyRequest): string | undefined {
  const k = req.headers['idempotency-key'];
  if (k === undefined) return undefined;
  const s = Array.isArray(k) ? k[0]! : k;
  if (!/^[\x21-\x7e]{1,200}$/.test(s))
    throw new ControlError('BAD_REQUEST', 'Idempotency-Key must be 1-200 printable ASCII characters');
  return s;
}

function openApi(routes: RouteDef[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.url.replace(/:(\w+)/g, '{$1}');
    const params = [...r.url.matchAll(/:(\w+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const q = r.query
      ? (z.toJSONSchema(r.query, { io: 'input' }) as { properties?: Record<string, unknown> })
      : undefined;
    for (const [k, v] of Object.entries(q?.properties ?? {}))
      params.push({ name: k, in: 'query', required: false, schema: v as { type: string } });
    (paths[path] ??= {})[r.method.toLowerCase()] = {
      summary: r.summary,
      tags: [r.tag],
      ...(r.open ? { security: [] } : {}),
      ...(params.length ? { parameters: params } : {}),
      ...(r.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: z.toJSONSchema(r.body, { io: 'input' }) } },
            },
          }
        : {}),
      responses: {
        [String(r.status ?? 200)]: { description: 'OK' },
        default: {
          description: 'Error',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'nubis control plane', version: '0.1.0' },
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['code', 'message'],
          properties: { code: { type: 'string' }, message: { type: 'string' } },
        },
      },
    },
    paths,
  };
}
