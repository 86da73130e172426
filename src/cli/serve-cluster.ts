/**
 * `nubis serve --workers N` on PostgreSQL: N API processes share the port through node:cluster (the
 * kernel, or the primary on platforms without SO_REUSEPORT balancing, hands each connection to one
 * of them), so creates scale with cores. The primary prepares the database once (migrations, the
 * admin, the demo data center, recovery of what a crash interrupted), owns the simulated hosts
 * (sim-ipc.ts), forks the API processes and replaces one that dies. The API processes elect a leader
 * (a PostgreSQL advisory lock, src/control/leader/): it alone runs the control plane's loops; the
 * others take over when it dies.
 */
import cluster, { type Worker } from 'node:cluster';
import type { FastifyInstance } from 'fastify';
import type { ControlPlane } from '../control/control-plane.ts';
import type { ControllerManager } from '../control/controllers/controller-manager.ts';
import { recordEvent } from '../control/context.ts';
import { hostCacheSync } from '../control/leader/host-cache-sync.ts';
import { LeaderElection } from '../control/leader/leader-election.ts';
import { PgLockSession } from '../control/leader/pg-lock-session.ts';
import { StoreError } from '../control/store/open-store.ts';
import type { HostDrivers } from '../core/host-driver.ts';
import { ipcHostDrivers, serveSimHosts } from '../drivers/sim/sim-ipc.ts';
import type { Clock } from '../runtime/clock.ts';

/** The environment variable that marks a forked API process. */
const WORKER_ENV = 'NUBIS_SERVE_WORKER';
/** Seconds between a follower's tries of the leader's lock. */
const LEADER_RETRY_S = 2;
/** Seconds between releases of the locks of finished operations. */
const SWEEP_S = 2;

/** Whether this process is an API process forked by `serve --workers N`. */
export function isServeWorker(): boolean {
  return cluster.isWorker && process.env[WORKER_ENV] === '1';
}

/**
 * Refuse several API processes on SQLite (one writer at a time: more processes only wait on its lock).
 * @throws StoreError naming what is accepted
 */
export function checkWorkersStore(workers: number, url: string): void {
  if (workers > 1 && !/^postgres(ql)?:\/\//.test(url))
    throw new StoreError(
      `--workers ${workers} needs PostgreSQL (--db postgres://USER:PASS@HOST/DB): SQLite has one writer, ` +
        'so several API processes would only wait on its lock; use --workers 1 (the default) on SQLite',
    );
}

/**
 * The primary: fork `workers` API processes, answer their simulated-host calls with `simDrivers`,
 * replace one that exits, and resolve with the address once all of them listen.
 */
export function forkApiProcesses(workers: number, simDrivers: HostDrivers): Promise<string> {
  // Advanced serialization: guest specs and driver answers cross the IPC channel as structured clones.
  cluster.setupPrimary({ serialization: 'advanced' });
  let stopping = false;
  let resolveAddr: (addr: string) => void = () => undefined;
  const listening = new Promise<string>((r) => (resolveAddr = r));
  let ready = 0;
  const fork = (): Worker => {
    const w = cluster.fork({ [WORKER_ENV]: '1' });
    serveSimHosts(simDrivers, w);
    // An answer sent to a process that just died fails here, not in the primary.
    w.on('error', (e: Error) => process.stderr.write(`nubis: API process ${w.process.pid}: ${e.message}\n`));
    w.on('message', (m: { nubisListening?: string }) => {
      // The address is announced when every API process of the first start listens.
      if (typeof m?.nubisListening === 'string' && ++ready === workers) resolveAddr(m.nubisListening);
    });
    w.on('exit', (code, signal) => {
      if (stopping) return;
      process.stderr.write(
        `nubis: API process ${w.process.pid} exited (${signal ?? `code ${code}`}); starting another\n`,
      );
      fork();
    });
    return w;
  };
  for (let i = 0; i < workers; i++) fork();
  const stop = async () => {
    stopping = true;
    const all = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
    await Promise.all(
      all.map(
        (w) =>
          new Promise<void>((r) => {
            if (w.isDead()) return r();
            w.once('exit', () => r());
            w.process.kill('SIGTERM');
          }),
      ),
    );
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return listening;
}

/** What an API process is built from (serve-command.ts builds the same control plane and API as one process). */
export interface ApiProcessSetup {
  url: string;
  clock: Clock;
  /** The drivers of real hosts (simulated ones are reached through the primary). */
  hostDrivers: HostDrivers;
  /** The control plane on these drivers, with the operations other processes execute known. */
  controlPlane: (hostDrivers: HostDrivers, owners: PgLockSession) => Promise<ControlPlane>;
  api: (cp: ControlPlane) => FastifyInstance;
  listen: { host: string; port: number };
  /** The loops, started when this process becomes the leader. */
  loops: (cp: ControlPlane) => Promise<ControllerManager>;
}

/** An API process: serve, follow, and run the loops when elected. Never resolves. */
export async function runApiProcess(s: ApiProcessSetup): Promise<void> {
  const session = await PgLockSession.open(s.url, {
    clock: s.clock,
    onLost: (why) => {
      // Its operations and (if it led) the loops are no longer protected: stop; the primary starts another.
      process.stderr.write(`nubis: API process ${process.pid} lost its lock session (${why}); exiting\n`);
      process.exit(1);
    },
  });
  const cp = await s.controlPlane(ipcHostDrivers(s.hostDrivers, process as never), session);
  const app = s.api(cp);
  // Which API process answered (load-balancing checks, logs): its pid, nothing secret.
  app.addHook('onSend', async (_req, reply) => {
    reply.header('nubis-api-process', String(process.pid));
  });
  const addr = await app.listen(s.listen);
  process.send?.({ nubisListening: addr });
  let manager: ControllerManager | undefined;
  const election = new LeaderElection(s.clock, session, {
    retryS: LEADER_RETRY_S,
    onElected: async () => {
      await recordEvent(cp.ctx, cp.db, {
        actor: 'system',
        kind: 'control.leader',
        detail: { pid: process.pid },
      });
      process.stderr.write(`nubis: API process ${process.pid} leads: it runs the control plane's loops\n`);
      // What the previous leader was doing when it died is finished or rolled back now, not a round later.
      await cp.reconcile().catch((e: Error) => process.stderr.write(`nubis: reconcile: ${e.message}\n`));
      manager = await s.loops(cp);
      manager.start();
    },
    onError: (e) => process.stderr.write(`nubis: leader election: ${(e as Error).message}\n`),
  });
  await election.start();
  const hostsChanged = hostCacheSync(cp.db, () => cp.scheduler.forgetHosts());
  const sweep = () => {
    timer = s.clock.schedule(SWEEP_S, sweep);
    session.sweep().catch((e: Error) => process.stderr.write(`nubis: lock sweep: ${e.message}\n`));
    // A host edited through another process: this one's scheduler forgets its cached attributes.
    hostsChanged().catch((e: Error) => process.stderr.write(`nubis: host cache check: ${e.message}\n`));
  };
  let timer = s.clock.schedule(SWEEP_S, sweep);
  const stop = async () => {
    election.stop();
    timer.cancel();
    await manager?.stop();
    await app.close();
    await session.close();
    await cp.db.destroy();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await new Promise(() => undefined);
}
