/** `nubis serve`: the control plane on embedded defaults (SQLite, loopback, simulated hosts). */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { buildApi } from '../api/server.ts';
import type { OperationOwners } from '../control/context.ts';
import type { HostDrivers } from '../core/host-driver.ts';
import { checkWorkersStore, forkApiProcesses, isServeWorker, runApiProcess } from './serve-cluster.ts';
import {
  ControlPlane,
  reconcileSimHosts,
  seedDefaultTariff,
  seedDemo,
  seedSharedNetwork,
} from '../control/control-plane.ts';
import { controlPlaneControllers } from '../control/controllers/control-plane-controllers.ts';
import { ControllerManager } from '../control/controllers/controller-manager.ts';
import { recordControllerFailure } from '../control/controllers/record-failure.ts';
import { systemPrincipal } from '../control/controllers/system-principal.ts';
import { maskUrl, openStore, StoreError } from '../control/store/open-store.ts';
import { resetAdminToken } from '../control/tenancy/admin-recovery.ts';
import { highsSolver } from '../drivers/highs/highs-solver.ts';
import { createHostDrivers } from '../drivers/host-drivers.ts';
import { createImageFiles } from '../drivers/image-files.ts';
import { SimHypervisorDriver } from '../drivers/sim/sim-driver.ts';
import { RealClock } from '../runtime/clock.ts';
import { cryptoIds } from '../runtime/ids.ts';
import { demoUtilization } from '../sim/synthetic.ts';
import { writePrivateFile } from './credentials.ts';

/** A whole number flag of at least `min`. @throws RangeError naming the flag and what it accepts */
function count(v: string, flag: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min)
    throw new RangeError(`${flag} must be an integer >= ${min}, got "${v}"`);
  return n;
}

export function serveCommand(program: Command): void {
  program
    .command('serve')
    .description('Run the control plane (REST API) on embedded defaults')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--port <n>', 'port (0: any free port)', '8080')
    .option('--data <dir>', 'data folder (SQLite database)', '.nubis/data')
    .option('--image-max-gib <n>', 'largest image upload accepted, in GiB (default 20)')
    .option(
      '--db <url>',
      'database URL: sqlite:PATH or postgres://USER:PASS@HOST/DB (default: SQLite in --data)',
    )
    .option(
      '--bootstrap-token <token>',
      "on first start, the admin's API token (the OpenStack contract's bootstrap; visible to other local " +
        'users in the process list: prefer NUBIS_BOOTSTRAP_TOKEN)',
    )
    .option(
      '--bootstrap-password <password>',
      'on first start, the admin user (`admin`) logs in to the OpenStack API (Keystone) with this password ' +
        '(or set NUBIS_BOOTSTRAP_PASSWORD, which other local users cannot read)',
    )
    .option(
      '--reset-admin-token',
      "lost the admin token? revoke the admin user's tokens, write a new one to DATA/admin-token (0600), and exit (needs the data folder or --db)",
    )
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (with --tls-key)')
    .option('--tls-key <file>', 'PEM key of --tls-cert')
    .option(
      '--public-url <url>',
      'the URL clients reach nubis at (e.g. https://cloud.example.org): the OpenStack catalog and links use it ' +
        "(default: each request's Host header)",
    )
    .option(
      '--tls-client-ca <file>',
      "mutual TLS: agents' routes (enrollment, heartbeats) require a client certificate signed by this PEM CA",
    )
    .option(
      '--agent-ca <file>',
      "PEM of the CA that signed the agents' TLS certificates (agents at https:// URLs)",
    )
    .option(
      '--agent-client-cert <file>',
      'PEM client certificate presented to agents (mutual TLS; with --agent-client-key)',
    )
    .option('--agent-client-key <file>', 'PEM key of --agent-client-cert')
    .option(
      '--host-failure-timeout-s <s>',
      'declare a host failed (and restart its HA VMs) when its agent is silent this long',
      '30',
    )
    .option(
      '--audit-interval-s <s>',
      'run the consolidation audit this often (what it does depends on the automation level; 0: never)',
      '0',
    )
    .option('--demo-hosts <n>', 'simulated hosts to create on first start when none exist', '8')
    .option('--sim-boot-s <s>', 'seconds a simulated host takes to switch on (0: at once)', '0')
    .option(
      '--sim-load-interval-s <s>',
      'report a synthetic CPU load for VMs on simulated hosts this often, as a monitoring agent would (0: never)',
      '10',
    )
    .option(
      '--rate-limit <n>',
      'API requests per minute per token (per address without one; 0: no limit)',
      '1200',
    )
    .option('--sim-max-runs <n>', 'simulation runs at once from the API (others get 429)', '2')
    .option('--sim-traces <dir>', 'folder of named PlanetLab traces for API runs (default: DATA/traces)')
    .option(
      '--workers <n>',
      'API processes sharing the port (PostgreSQL only; one leader runs the loops: docs/operations.md)',
      '1',
    )
    .action(
      async (o: {
        host: string;
        port: string;
        data: string;
        imageMaxGib?: string;
        db?: string;
        bootstrapToken?: string;
        bootstrapPassword?: string;
        resetAdminToken?: boolean;
        demoHosts: string;
        tlsCert?: string;
        tlsKey?: string;
        tlsClientCa?: string;
        agentCa?: string;
        agentClientCert?: string;
        agentClientKey?: string;
        hostFailureTimeoutS: string;
        auditIntervalS: string;
        simLoadIntervalS: string;
        simBootS: string;
        rateLimit: string;
        simMaxRuns: string;
        simTraces?: string;
        workers: string;
        publicUrl?: string;
      }) => {
        const port = Number(o.port);
        if (!Number.isInteger(port) || port < 0 || port > 65535)
          throw new RangeError(`--port must be 0..65535, got "${o.port}"`);
        const loops = {
          hostFailureTimeoutS: flagS(o.hostFailureTimeoutS, '--host-failure-timeout-s', false),
          automationIntervalS: flagS(o.auditIntervalS, '--audit-interval-s', true),
          simLoadIntervalS: flagS(o.simLoadIntervalS, '--sim-load-interval-s', true),
          simUtilization: demoUtilization,
          // Memory model (issue 17): simulated hosts' profiles and measured hosts' balloon targets.
          memoryProfilesIntervalS: 60,
          balloonIntervalS: 60,
        };
        // The reconciler runs once before the API listens (below), then periodically.
        const loopsOf = (c: ControlPlane) => ({ ...loops, reconcile: () => c.reconcile() });
        // A secret on the command line is visible to every local user (ps): accepted (the OpenStack
        // contract's bootstrap uses it), with a warning naming the private way.
        for (const [flag, env, given] of [
          ['--bootstrap-token', 'NUBIS_BOOTSTRAP_TOKEN', o.bootstrapToken],
          ['--bootstrap-password', 'NUBIS_BOOTSTRAP_PASSWORD', o.bootstrapPassword],
        ] as const)
          if (given !== undefined)
            process.stderr.write(
              `nubis serve: warning: ${flag} is visible to other local users in the process list; ${env} is not\n`,
            );
        if (!!o.tlsCert !== !!o.tlsKey) throw new RangeError('--tls-cert and --tls-key go together');
        if (o.publicUrl !== undefined && !/^https?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/.test(o.publicUrl))
          throw new RangeError(
            `--public-url must be an http:// or https:// URL without query or fragment, got "${o.publicUrl}"`,
          );
        if (o.tlsClientCa && !o.tlsCert)
          throw new RangeError('--tls-client-ca needs --tls-cert and --tls-key (mutual TLS is on HTTPS)');
        // Read now: a missing or unreadable file stops the start before the database is touched.
        const https = o.tlsCert
          ? {
              cert: readFileSync(o.tlsCert, 'utf8'),
              key: readFileSync(o.tlsKey!, 'utf8'),
              ...(o.tlsClientCa ? { clientCa: readFileSync(o.tlsClientCa, 'utf8') } : {}),
            }
          : undefined;
        const url = o.db ?? `sqlite:${join(o.data, 'nubis.db')}`;
        const tokenFile = join(o.data, 'admin-token');
        if (o.resetAdminToken) return resetAdmin(url, tokenFile);
        const workers = count(o.workers, '--workers', 1);
        checkWorkersStore(workers, url);
        const db = await openStore(url, {
          onConnectionError: (e) =>
            process.stderr.write(`nubis: PostgreSQL closed a connection (${e.message}); reconnecting\n`),
        });
        const clock = new RealClock();
        if (!!o.agentClientCert !== !!o.agentClientKey)
          throw new RangeError('--agent-client-cert and --agent-client-key go together');
        // Each agent is reached with its own credential (issued at enrollment); TLS pins the agents' CA.
        const agentTls = o.agentCa
          ? {
              ca: readFileSync(o.agentCa, 'utf8'),
              ...(o.agentClientCert
                ? {
                    cert: readFileSync(o.agentClientCert, 'utf8'),
                    key: readFileSync(o.agentClientKey!, 'utf8'),
                  }
                : {}),
            }
          : undefined;
        if (o.imageMaxGib !== undefined && !(Number(o.imageMaxGib) > 0))
          throw new RangeError(`--image-max-gib must be a number > 0, got "${o.imageMaxGib}"`);
        const simBootS = Number(o.simBootS);
        if (!(simBootS >= 0)) throw new RangeError(`--sim-boot-s must be a number >= 0, got "${o.simBootS}"`);
        const controlPlane = (hostDrivers: HostDrivers, operationOwners?: OperationOwners) =>
          new ControlPlane({
            db,
            clock,
            hostDrivers,
            // `plan audit --policy optimal`: HiGHS in a worker thread per solve (the API stays responsive).
            milpSolver: highsSolver(),
            simBootS,
            // Uploaded images live in DATA/images/ (streamed there, checksummed, checked by qemu-img).
            imageFiles: createImageFiles(join(o.data, 'images')),
            imageMaxBytes: o.imageMaxGib !== undefined ? Number(o.imageMaxGib) * 2 ** 30 : undefined,
            // Crash-recovery tests: NUBIS_TEST_CRASH_AT=STEP kills this process when an operation
            // completes STEP (e.g. guest-created, guest-moved, driver-done), before it is recorded.
            onStep: crashAt(process.env.NUBIS_TEST_CRASH_AT),
            ...(operationOwners ? { operationOwners } : {}),
          });
        const root = packageRoot();
        const apiOf = (c: ControlPlane) =>
          buildApi(c, {
            web: join(root, 'web', 'dist'),
            simulations: {
              dir: join(o.data, 'simulations'),
              bin: join(root, 'bin', 'nubis.js'),
              traces: o.simTraces ?? join(o.data, 'traces'),
              maxRuns: count(o.simMaxRuns, '--sim-max-runs', 1),
            },
            ...(count(o.rateLimit, '--rate-limit', 0) > 0 ? { rateLimit: { max: Number(o.rateLimit) } } : {}),
            ...(https ? { https } : {}),
            ...(o.publicUrl ? { publicUrl: o.publicUrl } : {}),
          });
        const managerOf = async (c: ControlPlane) =>
          new ControllerManager(clock, controlPlaneControllers(c, await systemPrincipal(db), loopsOf(c)), {
            onError: async (f) => {
              process.stderr.write(
                `nubis: ${f.controller} loop failed: ${f.error instanceof Error ? f.error.message : String(f.error)}\n`,
              );
              await recordControllerFailure(c.ctx)(f);
            },
          });
        // An API process of `--workers N` (serve-cluster.ts): the primary prepared the database.
        if (isServeWorker())
          return runApiProcess({
            url,
            clock,
            hostDrivers: createHostDrivers({ agentTls }),
            controlPlane: async (drivers, owners) => controlPlane(drivers, owners),
            api: apiOf,
            listen: { host: o.host, port },
            loops: managerOf,
          });
        // The data folder holds the database and the admin token: its owner only (0700 when created).
        mkdirSync(o.data, { recursive: true, mode: 0o700 });
        // Simulated hosts keep their guests in the data folder: like real hosts, they outlive a crash
        // of the control plane, and the reconciler compares them with the records.
        const simState = join(o.data, 'sim-hosts.json');
        const firstSimStart = !existsSync(simState);
        const sim = new SimHypervisorDriver(clock, { stateFile: simState });
        const hostDrivers = createHostDrivers({ sim, agentTls });
        const cp = controlPlane(hostDrivers);
        const token = await cp.bootstrap(
          o.bootstrapToken ?? process.env.NUBIS_BOOTSTRAP_TOKEN,
          o.bootstrapPassword ?? process.env.NUBIS_BOOTSTRAP_PASSWORD,
        );
        if (token) writePrivateFile(tokenFile, `${token}\n`);
        const admin = await db
          .selectFrom('users')
          .select(['id', 'tenant_id', 'name'])
          .where('role', '=', 'admin')
          .where('tenant_id', 'is not', null)
          .orderBy('created_at')
          .executeTakeFirstOrThrow();
        const adminP = {
          userId: admin.id,
          userName: admin.name,
          tenantId: admin.tenant_id!,
          role: 'admin' as const,
          tokenId: 'system',
        };
        await seedDemo(cp, adminP, Number(o.demoHosts));
        // First start only (the admin was just created): a deleted default tariff stays deleted.
        if (token) await seedDefaultTariff(cp, adminP);
        // First start: the network every project's servers may go on (OpenStack's shared network).
        if (token) await seedSharedNetwork(cp, adminP);
        // Before the state file existed, simulated guests lived in memory only: re-create them once.
        const restored = firstSimStart ? await reconcileSimHosts(cp) : 0;
        // Finish or roll back what a crash interrupted before serving anything.
        const repaired = await cp.reconcile();
        const recovered = repaired.operations.length + repaired.settled.length;
        const notes = `${restored ? `, ${restored} simulated VM(s) restored` : ''}${recovered ? `, ${recovered} interrupted operation(s) recovered` : ''}`;
        if (workers > 1) {
          // The primary: the database is ready; the API processes serve, and it owns the simulated hosts.
          await db.destroy();
          const addr = await forkApiProcesses(workers, hostDrivers);
          process.stdout.write(
            (token ? adminTokenNotice(tokenFile, token, addr) : '') +
              `nubis control plane on ${addr} (database ${maskUrl(url)}, ${workers} API processes${notes})\n`,
          );
          return new Promise(() => undefined);
        }
        const app = apiOf(cp);
        const addr = await app.listen({ host: o.host, port });
        // One write, so a reader that sees the address also sees where the token is. The token itself
        // only on a terminal: stdout is often a log file or a CI transcript.
        process.stdout.write(
          (token ? adminTokenNotice(tokenFile, token, addr) : '') +
            `nubis control plane on ${addr} (database ${maskUrl(url)}${notes})\n`,
        );
        // The control plane's loops (docs/operations.md): one ControllerManager on the real clock.
        const manager = await managerOf(cp);
        manager.start();
        const stop = async () => {
          await manager.stop();
          await app.close();
          await db.destroy();
          process.exit(0);
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
        await new Promise(() => undefined);
      },
    );
}

/** A flag's value in seconds: a number > 0 (or >= 0 when 0 means off). */
function flagS(value: string, flag: string, zeroIsOff: boolean): number {
  const n = Number(value);
  if (!(Number.isFinite(n) && (zeroIsOff ? n >= 0 : n > 0)))
    throw new RangeError(
      `${flag} must be a number of seconds ${zeroIsOff ? '>= 0 (0: off)' : '> 0'}, got "${value}"`,
    );
  return n;
}

/** Where the admin token was written (and, on a terminal only, the token once). */
function adminTokenNotice(file: string, token: string, url?: string): string {
  const tty = !!process.stdout.isTTY;
  return (
    `admin token written to ${file} (mode 0600)\n` +
    (tty ? `  admin token (shown once): ${token}\n` : '') +
    `  export ${url ? `NUBIS_URL=${url} ` : ''}NUBIS_TOKEN=$(cat ${file})\n`
  );
}

/**
 * `nubis serve --reset-admin-token`: on an existing database only (a mistyped --data must not create
 * a new one), the new token written to DATA/admin-token (0600) and its path on stdout (the token too
 * when stdout is a terminal).
 */
async function resetAdmin(url: string, tokenFile: string): Promise<void> {
  const sqlitePath = /^postgres(ql)?:\/\//.test(url) ? null : url.replace(/^sqlite:/i, '');
  if (sqlitePath !== null && (sqlitePath === ':memory:' || !existsSync(sqlitePath)))
    throw new StoreError(
      `No database at "${sqlitePath}": --reset-admin-token works on the data folder (--data) or --db of an existing control plane`,
    );
  const db = await openStore(url);
  try {
    const r = await resetAdminToken({
      db,
      clock: new RealClock(),
      ids: cryptoIds(),
      hostDrivers: createHostDrivers({}),
    });
    writePrivateFile(tokenFile, `${r.token}\n`);
    process.stdout.write(adminTokenNotice(tokenFile, r.token));
    process.stderr.write(
      `nubis: new token for admin user "${r.userName}"; ${r.revoked} old token(s) revoked. ` +
        `It works at once, also on a running server.\n`,
    );
  } finally {
    await db.destroy();
  }
}

/** The folder of nubis's package.json (the CLI runs from src/ under tsx, or from a bundle in node_modules/.cache). */
export function packageRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const pj = join(d, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'nubis') return d;
      } catch {
        /* keep looking */
      }
    }
    d = dirname(d);
  }
  return process.cwd();
}

/** The step hook of NUBIS_TEST_CRASH_AT: SIGKILL at the first operation that completes that step. */
function crashAt(step: string | undefined): ((s: string) => void) | undefined {
  if (!step) return undefined;
  return (s) => {
    if (s === step) process.kill(process.pid, 'SIGKILL');
  };
}
