/**
 * The host agent's HTTP API: host facts, guest lifecycle through the hypervisor driver, and live
 * migration between agents (the source streams, the destination receives). The control plane (or a
 * test, standalone) talks to it; errors are JSON with a stable `code`.
 */
import { execFile } from 'node:child_process';
import { createHash, timingSafeEqual } from 'node:crypto';
import { cpus, hostname, loadavg, totalmem } from 'node:os';
import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { checkGuestSpec, DriverError, GuestState } from '../core/hypervisor.ts';
import { NETWORK_ID_PATTERN } from '../core/network/host-network.ts';
import {
  abortIncoming,
  commitIncoming,
  MIGRATION_MODES,
  MigrationError,
  migrateOut,
  prepareIncoming,
  type IncomingReady,
  type MigrationOptions,
} from '../drivers/qemu/migration.ts';
import { listDisks } from '../drivers/qemu/block-mirror.ts';
import type { QemuDriver } from '../drivers/qemu/qemu-driver.ts';
import { plannedNonZeroMiB } from './plan-inputs.ts';
import { checkGuestId, checkSnapshotName, GUEST_ID_PATTERN } from '../drivers/qemu/host-paths.ts';
import { readKsm } from '../drivers/ksm.ts';
import { DEFAULT_CALIBRATION, planMigration } from '../models/migration.ts';
import { MAX_SAMPLE_BITS } from '../core/memory/fingerprint.ts';
import { agentRequest, type AgentTls } from '../drivers/agent/agent-request.ts';
import { registerConsoleRoutes } from './console-routes.ts';
import { guestDiskSchema, imageRefSchema, registerStorageRoutes } from './storage-routes.ts';
import type { MemoryManager } from './memory-manager.ts';
import { normalizeAddress, TICKET_PREFIX, TicketBook, TicketError } from './migration-tickets.ts';
import type { NetworkAgent } from './network/net-converge.ts';
import { checkHostNetworkState, hostNetworkStateSchema } from './network/net-state.ts';

export interface AgentOptions {
  driver: QemuDriver;
  memory?: MemoryManager;
  /** The cloud's fingerprint key (from the control plane), mixed into page hashes of memory profiles. */
  fingerprintKey?: () => Buffer | undefined;
  /** Address incoming migrations listen on (this host's address on the migration network). */
  migrationAddress?: string;
  /** Where `image://NAME` comes from: the tiny guest's folder, and a folder of NAME.qcow2 disks. */
  images?: { tinyGuestDir: string; diskDir?: string };
  /**
   * Bearer token required on every request but the health check (none: only for an agent that
   * listens on loopback; the power command is then refused).
   */
  token?: string;
  accelReason?: string;
  /**
   * Shell command that switches hosts on or off (ipmitool, wakeonlan, a PDU's CLI...). It gets
   * NUBIS_POWER_ACTION (on|off), NUBIS_POWER_HOST and NUBIS_POWER_ADDRESS (MAC or BMC) in its
   * environment. The control plane asks a host's own agent to switch it off, and another agent to
   * switch a switched-off host on.
   */
  powerCommand?: string;
  /** Migration tickets this agent issues as a destination (default: 10-minute tickets, real clock). */
  tickets?: TicketBook;
  /**
   * TLS towards other agents (a migration's destination): the CA their certificates chain to, and
   * the client certificate to present to agents that require mutual TLS.
   */
  peerTls?: AgentTls;
  /** This host's data plane (`PUT /v1/network`); none: the network routes answer 501. */
  network?: NetworkAgent;
}

const specSchema = z.object({
  id: z.string(),
  memoryMiB: z.number().int(),
  vcpus: z.number().int(),
  image: z.object({
    kernel: z.string().optional(),
    initrd: z.string().optional(),
    append: z.string().optional(),
    disk: z.string().optional(),
    cached: imageRefSchema.optional(),
  }),
  disks: z.array(guestDiskSchema).max(8).optional(),
  workload: z
    .object({
      mib: z.number(),
      rateMiBps: z.number(),
      fill: z.object({ seed: z.number().int(), mib: z.number().int() }).strict().optional(),
    })
    .optional(),
  minMemoryMiB: z.number().optional(),
  mergeable: z.boolean().optional(),
  nics: z
    .array(
      z
        .object({
          portId: z.string().regex(NETWORK_ID_PATTERN),
          mac: z.string().regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/, 'must be a lower-case MAC'),
          tap: z.string().regex(/^nt[0-9a-f]{8}$/, 'must be a tap name from tapName()'),
        })
        .strict(),
    )
    .max(8)
    .optional(),
});

/** `?sampleBits=N` of the memory-profile route: a whole number 0..16 (default 6). */
export const memoryProfileQuery = z
  .object({
    sampleBits: z
      .string()
      .regex(/^\d{1,2}$/, 'must be a whole number from 0 to 16')
      .transform(Number)
      .refine((n) => n <= MAX_SAMPLE_BITS, { message: 'must be a whole number from 0 to 16' })
      .optional(),
  })
  .strict();

const migrationOptionsSchema = z
  .object({
    mode: z.enum(MIGRATION_MODES),
    maxDowntimeMs: z.number().positive().optional(),
    bandwidthMbps: z.number().positive().optional(),
    stopAfterRounds: z.number().int().positive().optional(),
    stopAfterRamCopies: z.number().positive().optional(),
    postcopyAfterMs: z.number().nonnegative().optional(),
    postcopyFallbackAfterMs: z.number().nonnegative().optional(),
    autoConverge: z.boolean().optional(),
    xbzrleCacheMiB: z.number().positive().optional(),
    multifd: z
      .object({ channels: z.number().int(), compression: z.enum(['none', 'zstd', 'zlib']) })
      .optional(),
    timeoutMs: z.number().positive().optional(),
    listenHost: z.string().optional(),
    disks: z.enum(['mirror', 'shared']).optional(),
  })
  .strict();

/** Host facts an agent reports when it registers and in heartbeats. */
export function hostFacts(driver: QemuDriver, accelReason?: string) {
  return {
    hostname: hostname(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryMiB: Math.round(totalmem() / 2 ** 20),
    accel: driver.accel,
    accelReason: accelReason ?? '',
    /** Storage pools this host has (the control plane learns which hosts see which pool). */
    pools: driver.opts.pools?.list() ?? [],
    /** Bytes of registry images in its cache (`nubis agent --image-cache-max-gib` bounds them). */
    ...(driver.opts.imageCache ? { imageCacheBytes: driver.opts.imageCache.bytes() } : {}),
  };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra?: Record<string, unknown>,
  ) {
    super(message);
  }
}

function parse<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const r = schema.safeParse(body);
  if (!r.success)
    throw new HttpError(
      400,
      'BAD_REQUEST',
      `Bad ${what}: ${r.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`,
    );
  return r.data;
}

/**
 * A request to another agent (the destination of a migration), over HTTPS with `tls` (pinned CA,
 * client certificate for mutual TLS) when given; no redirects are followed and answers are capped.
 */
async function call(
  url: string,
  token: string | undefined,
  method: string,
  body?: unknown,
  tls?: AgentTls,
): Promise<unknown> {
  let res: { status: number; ok: boolean; text: string };
  try {
    res = await agentRequest(
      url,
      {
        method,
        headers: {
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      },
      tls,
    );
  } catch (e) {
    throw new HttpError(502, 'PEER_ERROR', `${method} ${url} failed: ${(e as Error).message}`);
  }
  let data: { message?: string } | undefined;
  try {
    data = res.text ? JSON.parse(res.text) : undefined;
  } catch {
    throw new HttpError(
      502,
      'PEER_ERROR',
      `${method} ${url} answered ${res.status} with a body that is not JSON`,
    );
  }
  if (!res.ok)
    throw new HttpError(502, 'PEER_ERROR', `${method} ${url} answered ${res.status}: ${data?.message ?? ''}`);
  return data;
}

/** Same token? Compared in constant time (over digests, so lengths do not leak either). */
function sameToken(given: string | undefined, token: string): boolean {
  const h = (x: string) => createHash('sha256').update(x).digest();
  return given !== undefined && timingSafeEqual(h(given), h(`Bearer ${token}`));
}

/** Routes anyone may call: the health check only. */
const OPEN_ROUTES = new Set(['/v1/health']);

/** The only routes a migration ticket grants, and which step of the ticket each is. */
const TICKET_ROUTES: Record<string, 'incoming' | 'finish'> = {
  'POST /v1/incoming': 'incoming',
  'POST /v1/incoming/:id/commit': 'finish',
  'POST /v1/incoming/:id/abort': 'finish',
};

/** The migration ticket a request presents (set by the authentication hook). */
const ticketOf = new WeakMap<object, string>();
/**
 * Plumbing that follows a guest event: a failure is logged, not returned (the guest operation itself
 * succeeded; the next PUT /v1/network or guest event converges again).
 */
async function netEvent(p: Promise<void> | undefined): Promise<void> {
  try {
    await p;
  } catch (e) {
    process.stderr.write(`nubis agent: network convergence failed: ${(e as Error).message}\n`);
  }
}

/** Build the agent's HTTP server (not listening yet). */
export function buildAgentServer(o: AgentOptions): FastifyInstance {
  const app = Fastify({ logger: false });
  const d = o.driver;
  const tickets = o.tickets ?? new TicketBook();

  app.addHook('onRequest', async (req, reply) => {
    if (OPEN_ROUTES.has(req.url.split('?')[0]!)) return;
    const auth = req.headers.authorization;
    if (o.token && sameToken(auth, o.token)) return;
    // A migration ticket (from a source agent): its guest's incoming routes only.
    if (auth?.startsWith(`Bearer ${TICKET_PREFIX}`)) {
      const step = TICKET_ROUTES[`${req.method} ${req.routeOptions.url}`];
      try {
        if (!step)
          throw new TicketError(
            403,
            "A migration ticket grants only POST /v1/incoming and that guest's commit or abort",
          );
        const id = (req.params as { id?: string } | undefined)?.id;
        tickets.check(auth.slice('Bearer '.length), step, id, req.ip);
      } catch (e) {
        if (!(e instanceof TicketError)) throw e;
        return reply
          .code(e.status)
          .send({ code: e.status === 401 ? 'UNAUTHENTICATED' : 'FORBIDDEN', message: e.message });
      }
      ticketOf.set(req, auth.slice('Bearer '.length));
      return;
    }
    if (o.token)
      return reply.code(401).send({
        code: 'UNAUTHENTICATED',
        message: 'A valid "Authorization: Bearer <token>" header is required',
      });
  });

  // Every id and snapshot name in a URL is checked before any handler runs (the driver checks again).
  app.addHook('preHandler', async (req) => {
    const p = (req.params ?? {}) as { id?: string; name?: string };
    if (p.id !== undefined) checkGuestId(p.id);
    if (p.name !== undefined) checkSnapshotName(p.name, p.id);
  });

  // HTTP status codes are decided here only.
  app.setErrorHandler((err, req, reply) => {
    if (err instanceof HttpError)
      return reply.code(err.status).send({ code: err.code, message: err.message, ...err.extra });
    if (err instanceof MigrationError)
      return reply.code(502).send({ code: err.code, message: err.message, report: err.report });
    if (err instanceof DriverError) {
      const status = { NOT_FOUND: 404, ALREADY_EXISTS: 409, INVALID_STATE: 409, BAD_SPEC: 400, BACKEND: 502 }[
        err.code
      ];
      return reply.code(status).send({ code: err.code, message: err.message, vmId: err.vmId });
    }
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status < 500)
      return reply.code(status).send({ code: 'BAD_REQUEST', message: (err as Error).message });
    // A real fault: logged with the request id; the answer carries no detail (paths, contents).
    process.stderr.write(
      `nubis agent: request ${req.id} (${req.method} ${req.url}) failed: ${(err as Error).stack}\n`,
    );
    return reply
      .code(500)
      .send({ code: 'INTERNAL', message: `Internal error (request ${req.id}); see the agent's log` });
  });

  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ code: 'NOT_FOUND', message: `No route ${req.method} ${req.url.split('?')[0]}` }),
  );

  app.get('/v1/health', async () => ({ ok: true }));

  app.get('/v1/host', async () => ({ ...hostFacts(d, o.accelReason), guests: (await d.list()).length }));
  app.get<{ Querystring: { now?: string } }>('/v1/host/memory', async (req) => {
    if (o.memory && (req.query.now === '1' || !o.memory.last)) return o.memory.round();
    return o.memory?.last ?? { ksm: readKsm(), balloon: [], ksmReason: 'memory manager off' };
  });
  app.post('/v1/host/power', async (req) => {
    const b = parse(
      z
        .object({
          action: z.enum(['on', 'off']),
          // Values reach an operator's shell command through the environment: no control characters,
          // and an address is a MAC, an IP or a host name (never an option such as "-H evil").
          host: z
            .string()
            .min(1)
            .max(253)
            .refine(
              (h) => ![...h].some((c) => c < ' ' || c === '\x7f'),
              'must not contain control characters',
            ),
          address: z
            .string()
            .regex(
              /^[A-Za-z0-9[][A-Za-z0-9_.:[\]-]{0,252}$/,
              'must be a MAC address, an IP address or a host name',
            )
            .optional(),
        })
        .strict(),
      req.body,
      'power request',
    );
    if (!o.token)
      throw new HttpError(
        403,
        'FORBIDDEN',
        'This agent runs without a token, so it switches no hosts on or off; start it with NUBIS_AGENT_TOKEN set',
      );
    if (!o.powerCommand)
      throw new HttpError(
        501,
        'NOT_CONFIGURED',
        'This agent has no power-control command; start it with --power-command CMD (e.g. an ipmitool or wakeonlan call using $NUBIS_POWER_ACTION, $NUBIS_POWER_HOST, $NUBIS_POWER_ADDRESS)',
      );
    const env = {
      ...process.env,
      NUBIS_POWER_ACTION: b.action,
      NUBIS_POWER_HOST: b.host,
      NUBIS_POWER_ADDRESS: b.address ?? '',
    };
    const r = await new Promise<{ exitCode: number; output: string }>((res) => {
      execFile('sh', ['-c', o.powerCommand!], { env, timeout: 120_000 }, (err, stdout, stderr) =>
        res({
          exitCode: err ? (typeof err.code === 'number' ? err.code : 1) : 0,
          output: (stdout + stderr).slice(-4000),
        }),
      );
    });
    if (r.exitCode !== 0)
      throw new HttpError(
        502,
        'POWER_FAILED',
        `Power-control command for ${b.action} ${b.host} exited with ${r.exitCode}: ${r.output.trim()}`,
      );
    return r;
  });
  app.get('/v1/guests', async () => d.list());
  app.post('/v1/guests', async (req, reply) => {
    const spec = parse(specSchema, req.body, 'guest spec');
    // The id (and the rest) checked before any use; the driver checks again.
    const errs = checkGuestSpec(spec);
    if (errs.length) throw new DriverError('BAD_SPEC', `Bad guest spec: ${errs.join('; ')}`, spec.id);
    // The control plane names images (image://NAME); this host knows where they are.
    const m = /^image:\/\/(.*)$/.exec(spec.image.kernel ?? '');
    if (m) {
      const name = m[1]!;
      if (!GUEST_ID_PATTERN.test(name))
        throw new HttpError(
          400,
          'BAD_REQUEST',
          `Bad image name ${JSON.stringify(name.slice(0, 80))}: use 1-63 letters, digits, '.', '_' or '-'`,
        );
      if (name === 'tiny' && o.images) {
        // The tiny guest configures its network (DHCP, metadata, keys, SSH) when it has a NIC.
        const append = [spec.image.append, spec.nics?.length ? 'nubis.net=1' : ''].filter(Boolean).join(' ');
        spec.image = {
          kernel: `${o.images.tinyGuestDir}/vmlinuz`,
          initrd: `${o.images.tinyGuestDir}/initramfs.cpio.gz`,
          ...(append ? { append } : {}),
        };
      } else if (o.images?.diskDir) spec.image = { disk: `${o.images.diskDir}/${name}.qcow2` };
      else throw new HttpError(400, 'BAD_REQUEST', `Unknown image "${name}" on this host`);
    }
    const created = await d.create(spec);
    await netEvent(o.network?.reconcile());
    return reply.code(201).send(created);
  });
  app.get<{ Params: { id: string } }>('/v1/guests/:id', async (req) => {
    const g = await d.get(req.params.id);
    if (!g) throw new DriverError('NOT_FOUND', `No guest "${req.params.id}"`, req.params.id);
    return { ...g, pid: d.pid(req.params.id) ?? null };
  });
  app.delete<{ Params: { id: string } }>('/v1/guests/:id', async (req, reply) => {
    await d.delete(req.params.id);
    await netEvent(o.network?.reconcile());
    return reply.code(204).send();
  });
  for (const action of ['start', 'pause', 'resume', 'reboot'] as const) {
    app.post<{ Params: { id: string } }>(`/v1/guests/:id/${action}`, async (req) => {
      await d[action](req.params.id);
      return d.get(req.params.id);
    });
  }
  app.post<{ Params: { id: string } }>('/v1/guests/:id/stop', async (req) => {
    const b = parse(
      z.object({ force: z.boolean().optional(), timeoutMs: z.number().positive().optional() }).optional(),
      req.body ?? undefined,
      'stop options',
    );
    await d.stop(req.params.id, b ?? {});
    return d.get(req.params.id);
  });
  app.post<{ Params: { id: string } }>('/v1/guests/:id/snapshots', async (req) => {
    const { name } = parse(z.object({ name: z.string() }), req.body, 'snapshot');
    await d.snapshot(req.params.id, name);
    return d.get(req.params.id);
  });
  app.get<{ Params: { id: string } }>('/v1/guests/:id/snapshots', async (req) =>
    d.listSnapshots(req.params.id),
  );
  app.delete<{ Params: { id: string; name: string } }>(
    '/v1/guests/:id/snapshots/:name',
    async (req, reply) => {
      await d.deleteSnapshot(req.params.id, req.params.name);
      return reply.code(204).send();
    },
  );
  app.post<{ Params: { id: string; name: string } }>(
    '/v1/guests/:id/snapshots/:name/restore',
    async (req) => {
      await d.restore(req.params.id, req.params.name);
      return d.get(req.params.id);
    },
  );
  app.put<{ Params: { id: string } }>('/v1/guests/:id/balloon', async (req) => {
    const { targetMiB } = parse(z.object({ targetMiB: z.number().positive() }), req.body, 'balloon target');
    await d.setBalloon(req.params.id, targetMiB);
    // The control plane's target caps what the local memory loop gives back when the host is relaxed.
    o.memory?.setTarget(req.params.id, targetMiB);
    return d.metrics(req.params.id);
  });
  app.get<{ Params: { id: string } }>('/v1/guests/:id/metrics', async (req) => d.metrics(req.params.id));
  // A running guest's memory profile: resident and used memory and a page fingerprint (hashes only).
  app.get<{ Params: { id: string }; Querystring: Record<string, unknown> }>(
    '/v1/guests/:id/memory-profile',
    async (req) => {
      const { sampleBits } = parse(memoryProfileQuery, req.query ?? {}, 'memory profile query');
      const hashKey = o.fingerprintKey?.();
      return d.memoryProfile(req.params.id, { sampleBits, ...(hashKey ? { hashKey } : {}) });
    },
  );

  registerConsoleRoutes(app, d, (h) => !o.token || sameToken(h, o.token));
  registerStorageRoutes(app, d);

  // Migration, source side: ask the destination agent to get ready, stream, commit or abort there.
  // With `plan` instead of `options`, the settings come from the migration models so that it meets
  // the downtime target (or it is refused with the reason, before anything starts).
  app.post<{ Params: { id: string } }>('/v1/guests/:id/migrate', async (req) => {
    const b = parse(
      z
        .object({
          destination: z
            .string()
            .url()
            .refine((u) => /^https?:\/\//.test(u), { message: 'must be an http:// or https:// URL' }),
          // A one-time ticket the destination issued for this guest (POST /v1/incoming-tickets there);
          // never the destination's credential.
          destinationTicket: z.string().startsWith(TICKET_PREFIX).max(200).optional(),
          options: migrationOptionsSchema.optional(),
          plan: z
            .object({
              downtimeTargetMs: z.number().positive(),
              bandwidthMbps: z.number().positive(),
              maxTotalMs: z.number().positive().optional(),
              allowPostcopy: z.boolean().optional(),
              allowAutoConverge: z.boolean().optional(),
              allowCompression: z.boolean().optional(),
              disks: z.enum(['mirror', 'shared']).optional(),
            })
            .strict()
            .optional(),
        })
        .strict()
        .refine((x) => !!x.options !== !!x.plan, { message: 'give exactly one of options or plan' }),
      req.body,
      'migration request',
    );
    const id = req.params.id;
    const g = await d.get(id);
    if (!g) throw new DriverError('NOT_FOUND', `No guest "${id}"`, id);
    // Refuse before the destination prepares anything (it would keep a waiting guest otherwise).
    if (g.state !== GuestState.running)
      throw new DriverError('INVALID_STATE', `Cannot migrate guest "${id}": it is ${g.state}`, id);
    let planned: ReturnType<typeof planMigration> | undefined;
    if (b.plan) {
      // QEMU's page sampling (dirty ring under KVM) corrected by the calibrated gain, and the guest's
      // non-zero memory (what round 0 sends): counted by a coarse page scan when cheap, else at least
      // what it uses, at least the calibrated share of its RAM
      // (src/models/migration-calibration.json, refitted by npm run bench:migration -- --refit).
      const sampled = await d.dirtyRate(id, { seconds: 1, samplePagesPerGiB: 4096 });
      const dirty = sampled * DEFAULT_CALIBRATION.dirtySampleGain;
      // A 20 % margin on the rate: a guest's dirtying varies between the measurement and the move.
      planned = planMigration(
        {
          memMiB: g.spec.memoryMiB,
          usedMiB: await plannedNonZeroMiB(d, id, g.spec.memoryMiB),
          dirtyMiBps: dirty * 1.2,
          // This host's other load slows the (CPU-bound under TCG) migration stream.
          hostLoadPerCpu: loadavg()[0]! / Math.max(1, cpus().length),
          ...b.plan,
        },
        DEFAULT_CALIBRATION,
      );
      if (!planned.ok)
        throw new HttpError(
          409,
          'MIGRATION_REFUSED',
          `Not migrating guest "${id}": ${planned.reason} (measured dirty rate ${dirty.toFixed(0)} MiB/s)`,
          { dirtyMiBps: dirty },
        );
      const p = planned.options!;
      b.options = {
        mode: p.mode,
        ...(b.plan.disks ? { disks: b.plan.disks } : {}),
        bandwidthMbps: b.plan.bandwidthMbps,
        ...(p.mode === 'precopy' ? { maxDowntimeMs: p.maxDowntimeMs } : {}),
        // Safety net: should the guest outrun the prediction, finish with post-copy instead of looping.
        ...(p.mode === 'precopy' && b.plan.allowPostcopy !== false && !p.multifdZstd
          ? { postcopyFallbackAfterMs: Math.round(2 * planned.predicted!.totalMs + 1000) }
          : {}),
        ...(p.mode === 'postcopy' ? { postcopyAfterMs: p.postcopyAfterMs } : {}),
        ...(p.autoConverge ? { autoConverge: true } : {}),
        ...(p.multifdZstd ? { multifd: { channels: 2, compression: 'zstd' as const } } : {}),
      };
    }
    const opts = b.options as MigrationOptions;
    const dest = b.destination.replace(/\/+$/, '');
    const ticket = b.destinationTicket;
    // The disks' sizes: the destination creates mirror targets of those sizes unless it sees the files.
    const disks = await listDisks(await d.client(id));
    const { uri, nbd } = (await call(
      `${dest}/v1/incoming`,
      ticket,
      'POST',
      { spec: g.spec, snapshots: g.snapshots, options: opts, disks },
      o.peerTls,
    )) as IncomingReady;
    const report = await migrateOut(
      d,
      id,
      uri,
      opts,
      async () => {
        await call(
          `${dest}/v1/incoming/${encodeURIComponent(id)}/commit`,
          ticket,
          'POST',
          undefined,
          o.peerTls,
        );
      },
      async () => {
        await call(
          `${dest}/v1/incoming/${encodeURIComponent(id)}/abort`,
          ticket,
          'POST',
          undefined,
          o.peerTls,
        );
      },
      nbd,
    );
    // The guest left: its floating IP is the destination's now.
    await netEvent(o.network?.reconcile());
    return planned
      ? { ...report, plan: { reason: planned.reason, options: opts, predicted: planned.predicted } }
      : report;
  });

  // Migration, destination side. The control plane (with this agent's credential) asks for a
  // one-time ticket for one guest; the source agent presents only that ticket.
  app.post('/v1/incoming-tickets', async (req, reply) => {
    if (ticketOf.has(req)) throw new HttpError(403, 'FORBIDDEN', 'A migration ticket cannot issue tickets');
    const b = parse(
      z.object({ guestId: z.string(), sourceAddress: z.string().max(64).optional() }).strict(),
      req.body,
      'ticket request',
    );
    checkGuestId(b.guestId);
    const sourceAddress = normalizeAddress(b.sourceAddress);
    if (b.sourceAddress !== undefined && !sourceAddress)
      throw new HttpError(
        400,
        'BAD_REQUEST',
        `Bad sourceAddress ${JSON.stringify(b.sourceAddress.slice(0, 64))}: give an IPv4 or IPv6 address`,
      );
    const t = tickets.issue(b.guestId, sourceAddress);
    return reply.code(201).send({
      ticket: t.ticket,
      guestId: b.guestId,
      ...(sourceAddress ? { sourceAddress } : {}),
      expiresAt: new Date(t.expiresAt).toISOString(),
    });
  });
  app.post('/v1/incoming', async (req, reply) => {
    // The disk is found from the guest id (a `diskPath` from an older source agent is ignored).
    const b = parse(
      z.object({
        spec: specSchema,
        snapshots: z.array(z.string()),
        options: migrationOptionsSchema,
        disks: z
          .array(
            z
              .object({
                device: z.string().max(32),
                virtualSize: z.number().int().positive(),
                snapshots: z.number().int().min(0).max(10_000).optional(),
              })
              .strict(),
          )
          .max(16)
          .optional(),
      }),
      req.body,
      'incoming migration',
    );
    checkGuestId(b.spec.id);
    // The stream is received on this host's migration address only (not, say, 0.0.0.0).
    if (
      o.migrationAddress &&
      b.options.listenHost !== undefined &&
      b.options.listenHost !== o.migrationAddress
    )
      throw new HttpError(
        400,
        'BAD_REQUEST',
        `Bad options.listenHost: this agent receives migrations on ${o.migrationAddress} only (its --migration-address); leave it out`,
      );
    const ticket = ticketOf.get(req);
    if (ticket) {
      try {
        tickets.startIncoming(ticket, b.spec.id, req.ip);
      } catch (e) {
        if (e instanceof TicketError)
          throw new HttpError(e.status, e.status === 401 ? 'UNAUTHENTICATED' : 'FORBIDDEN', e.message);
        throw e;
      }
    }
    // The guest's taps exist before its QEMU opens them (the control plane sent this host its ports).
    await netEvent(o.network?.reconcile());
    const options = {
      ...b.options,
      listenHost: b.options.listenHost ?? o.migrationAddress,
    } as MigrationOptions;
    let ok = false;
    try {
      const r = await prepareIncoming(d, { ...b, options });
      ok = true;
      return reply.code(201).send(r);
    } finally {
      // The migration's own limit (60 s by default) plus the commit's wait bound its finish.
      if (ticket) tickets.endIncoming(ticket, ok, (options.timeoutMs ?? 60_000) + 60_000);
    }
  });
  app.post<{ Params: { id: string } }>('/v1/incoming/:id/commit', async (req) => {
    await commitIncoming(d, req.params.id);
    const ticket = ticketOf.get(req);
    if (ticket) tickets.void(ticket);
    // The guest runs here now: take its floating IP at once (with a gratuitous ARP).
    await netEvent(o.network?.takeFloatingIps());
    return d.get(req.params.id);
  });
  app.post<{ Params: { id: string } }>('/v1/incoming/:id/abort', async (req, reply) => {
    const ticket = ticketOf.get(req);
    if (ticket) tickets.void(ticket);
    await abortIncoming(d, req.params.id);
    return reply.code(204).send();
  });

  // The data plane: the control plane pushes this host's whole network state; the agent converges.
  const net = () => {
    if (!o.network) throw new HttpError(501, 'NOT_CONFIGURED', 'This agent does not manage host networking');
    return o.network;
  };
  app.get('/v1/network', async () => net().current);
  app.put('/v1/network', async (req) => {
    const n = net();
    const s = parse(hostNetworkStateSchema, req.body, 'network state');
    const errs = checkHostNetworkState(s);
    if (errs.length) throw new HttpError(400, 'BAD_REQUEST', `Bad network state: ${errs.join('; ')}`);
    return n.apply(s);
  });
  return app;
}
