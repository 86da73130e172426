/**
 * What every service of the control plane shares: the store, the injected clock and id source, the
 * hypervisor drivers, and the few helpers every write uses (the time as ISO text, the event log,
 * unique-name errors). Services take a `ControlContext`; nothing in `control/` reads the wall
 * clock, `crypto.randomUUID` or `Math.random` directly.
 */
import type { HostDrivers } from '../core/host-driver.ts';
import type { MilpSolver } from '../policies/optimize/solver-port.ts';
import type { Clock } from '../runtime/clock.ts';
import type { IdSource } from '../runtime/ids.ts';
import { ControlError } from './errors.ts';
import type { ImageFiles } from './storage/image-files.ts';
import type { Db } from './store/open-store.ts';

export interface ControlContext {
  readonly db: Db;
  readonly clock: Clock;
  readonly ids: IdSource;
  /** The driver of each host (simulated hosts, or real hosts through their agents); built by the composition root. */
  readonly hostDrivers: HostDrivers;
  /** Seconds a simulated host takes to switch on (0: at once). Real hosts are up when their agent reports. */
  readonly simBootS?: number;
  /** Called when an operation completes a step, before it is recorded (crash tests kill the process here). */
  readonly onStep?: (step: string, kind: string) => void;
  /** Where uploaded images are kept (src/drivers/image-files.ts); without it uploads are refused. */
  readonly imageFiles?: ImageFiles;
  /** Largest image upload accepted, in bytes (default 20 GiB). */
  readonly imageMaxBytes?: number;
  /** The exact optimizer's MILP solver (HiGHS workers, src/drivers/highs/); without it `--policy optimal` is refused. */
  readonly milpSolver?: MilpSolver;
  /**
   * Several API processes on one database (`nubis serve --workers N`): who else executes a running
   * operation (src/control/leader/); without it, only this process's operations are known.
   */
  readonly operationOwners?: OperationOwners;
}

/** Operations executed by other processes of the same control plane (see `ControlContext.operationOwners`). */
export interface OperationOwners {
  /** Say that this process executes operation `id` (until the operation is no longer running). */
  hold(id: string): void;
  /** Say that this process works on `key` (e.g. an image upload) until `release(key)`. */
  holdUntilReleased(key: string): void;
  /** The end of a `holdUntilReleased`. */
  release(key: string): void;
  /** Of `ids` (operation ids or `holdUntilReleased` keys), those another live process holds. */
  heldElsewhere(ids: readonly string[]): Promise<ReadonlySet<string>>;
}

/** The context's time as ISO-8601 text (how times are stored). */
export function nowIso(ctx: Pick<ControlContext, 'clock'>): string {
  return new Date(ctx.clock.now() * 1000).toISOString();
}

/** An ISO time `offsetS` seconds from the context's now. */
export function isoIn(ctx: Pick<ControlContext, 'clock'>, offsetS: number): string {
  return new Date((ctx.clock.now() + offsetS) * 1000).toISOString();
}

export interface EventInput {
  /** The tenant that owns the object the event is about (not the actor's tenant). */
  tenantId?: string | null;
  vmId?: string | null;
  hostId?: string | null;
  actor?: string | null;
  kind: string;
  detail?: unknown;
}

/** Append to the audit trail, in the caller's transaction. */
export function recordEvent(ctx: Pick<ControlContext, 'clock'>, trx: Db, e: EventInput) {
  return trx
    .insertInto('events')
    .values({
      at: nowIso(ctx),
      tenant_id: e.tenantId ?? null,
      vm_id: e.vmId ?? null,
      host_id: e.hostId ?? null,
      actor: e.actor ?? null,
      kind: e.kind,
      detail: JSON.stringify(e.detail ?? {}),
    })
    .execute();
}

/** Run a write; a unique-constraint violation becomes ALREADY_EXISTS with `message`. */
export async function unique<T>(f: () => Promise<T>, message: string): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (/UNIQUE|duplicate key/i.test(String((e as Error).message)))
      throw new ControlError('ALREADY_EXISTS', message);
    throw e;
  }
}
