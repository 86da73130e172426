/**
 * Operation records that recover: each multi-step change is recorded (with the hosts it touches and
 * what the reconciler needs) before its side effect, and each step is recorded as it completes. This
 * process remembers which running operations it is executing, so a periodic reconciliation leaves
 * them alone; after a restart none is, and the reconciler finishes or rolls back every one.
 *
 * Uses: no other service.
 */
import { ControlError } from '../errors.ts';
import { Service } from '../service.ts';
import { ONE_OPERATION_INDEX } from '../store/migrations/0950-one-operation-per-vm.ts';
import type { Db } from '../store/open-store.ts';

/** Whether a store error is a second running operation on one VM (SQLite and PostgreSQL wordings). */
export function isVmBusy(e: unknown): boolean {
  const m = String((e as Error)?.message ?? e);
  return m.includes(ONE_OPERATION_INDEX) || /UNIQUE constraint failed: operations\.vm_id/.test(m);
}

/**
 * Run `write` (which inserts a running operation on `vmId`); a second running operation on the VM
 * becomes INVALID_STATE (409): one operation at a time per VM, as the store enforces.
 */
export async function oneAtATime<T>(vmId: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (e) {
    if (!isVmBusy(e)) throw e;
    throw new ControlError(
      'INVALID_STATE',
      `VM ${vmId} is busy: another operation on it is running (its events name it); retry when it has finished`,
      { vmId, busy: true },
    );
  }
}

/** Where an operation acts, for its record. */
export interface OperationScope {
  /** The host it acts on (the VM's, or a migration's source). */
  hostId?: string | null;
  /** Where a migration or an HA restart goes (a claim is held there while it runs). */
  targetHostId?: string | null;
  /** What the reconciler needs to finish or roll back (JSON-serializable). */
  detail?: Record<string, unknown>;
}

/** A running operation on a VM, as {@link OperationRecords.begin} records it. */
export interface VmOperationStart extends OperationScope {
  /** The operation's id (tracked with `track` first). */
  id: string;
  tenantId: string;
  vmId: string;
  /** What it does: `start`, `migrate`, `resize`, `ha-restart`, … */
  kind: string;
}

/** The fewest remembered operations at which `track` looks for those that ended. */
const PRUNE_MIN = 64;

/** Operation records that recover: steps, scope, and which operations this process executes. */
export class OperationRecords extends Service {
  private readonly active = new Set<string>();
  /** `active`'s size at which `track` forgets the operations that ended (doubles with what runs). */
  private pruneAt = PRUNE_MIN;
  private pruning: Promise<number> | undefined;

  /** The side effects of operations this process is carrying out, by operation id. */
  private readonly ending = new Map<string, Promise<unknown>>();

  /** Remember that operation `id`'s side effects run as `work` (forgotten when it settles); returns `work`. */
  during<T>(id: string, work: Promise<T>): Promise<T> {
    this.ending.set(id, work);
    void work.then(
      () => this.ending.delete(id),
      () => this.ending.delete(id),
    );
    return work;
  }

  /**
   * Wait until the operation running on VM `vmId` ends, when this process carries it out; false
   * (at once) when none runs or another process carries it out.
   */
  async settled(vmId: string): Promise<boolean> {
    const op = await this.db
      .selectFrom('operations')
      .select('id')
      .where('vm_id', '=', vmId)
      .where('status', '=', 'running')
      .executeTakeFirst();
    const work = op && this.ending.get(op.id);
    if (!work) return false;
    await work.catch(() => undefined);
    return true;
  }

  /** Say that this process executes operation `id` (call before its record is written). */
  track(id: string): void {
    this.active.add(id);
    this.ctx.operationOwners?.hold(id);
    // A process that never reconciles (a `serve --workers` follower) forgets here what ended.
    if (this.active.size >= this.pruneAt) void this.pruneEnded().catch(() => 0);
  }

  /** How many operations this process remembers executing. */
  get activeCount(): number {
    return this.active.size;
  }

  /**
   * Forget the operations whose records say they ended (those not yet recorded are kept); `track`
   * calls it whenever the remembered ones doubled. Returns how many were forgotten.
   */
  pruneEnded(): Promise<number> {
    this.pruning ??= (async () => {
      const ids = [...this.active];
      let n = 0;
      for (let i = 0; i < ids.length; i += 500) {
        const ended = await this.db
          .selectFrom('operations')
          .select('id')
          .where('id', 'in', ids.slice(i, i + 500))
          .where('status', '<>', 'running')
          .execute();
        for (const o of ended) n += Number(this.active.delete(o.id));
      }
      return n;
    })().finally(() => {
      this.pruning = undefined;
      this.pruneAt = Math.max(PRUNE_MIN, 2 * this.active.size);
    });
    return this.pruning;
  }

  /** Whether this process executes operation `id` (the reconciler leaves it alone). */
  isActive(id: string): boolean {
    return this.active.has(id);
  }

  /** Of running operations, those no process executes: this one, or another (several API processes). */
  async notExecuted<T extends { id: string }>(rows: readonly T[]): Promise<T[]> {
    const mine = rows.filter((o) => !this.active.has(o.id));
    const owners = this.ctx.operationOwners;
    if (!owners || !mine.length) return mine;
    const elsewhere = await owners.heldElsewhere(mine.map((o) => o.id));
    return mine.filter((o) => !elsewhere.has(o.id));
  }

  /** Forget the operations that are no longer running. */
  prune(running: ReadonlySet<string>): void {
    for (const id of this.active) if (!running.has(id)) this.active.delete(id);
  }

  /** The recovery columns of a new operation record (step `recorded`). */
  fields(s: OperationScope = {}) {
    return {
      step: 'recorded',
      host_id: s.hostId ?? null,
      target_host_id: s.targetHostId ?? null,
      updated_at: this.now(),
      detail: s.detail ? JSON.stringify(s.detail) : null,
    };
  }

  /**
   * The first write of a transaction that begins an operation on VM `v`: lock its row while it is
   * still live and in the state the caller read and judged (`v.state`). A request that read the VM
   * before another operation changed it (deleted it, stopped it) is refused here with INVALID_STATE
   * naming the state now, instead of acting on a stale read; with `begin`'s one-running-operation
   * rule, two requests on one VM can no longer both act.
   */
  async holdVm(trx: Db, v: { id: string; name: string; state: string }): Promise<void> {
    const r = await trx
      .updateTable('vms')
      .set({ updated_at: this.now() })
      .where('id', '=', v.id)
      .where('deleted_at', 'is', null)
      .where('state', '=', v.state as never)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 1) return;
    const now = await trx
      .selectFrom('vms')
      .select(['state', 'deleted_at'])
      .where('id', '=', v.id)
      .executeTakeFirst();
    const state = !now || now.deleted_at ? 'deleted' : now.state;
    throw new ControlError(
      'INVALID_STATE',
      `VM "${v.name}" (${v.id}) changed while this request was checked: it was ${v.state} and is now ${state}; retry if the request still applies`,
      { state, changed: true },
    );
  }

  /** Write the record of a running operation on a VM (step `recorded`), in the caller's transaction. */
  async begin(trx: Db, o: VmOperationStart): Promise<void> {
    await oneAtATime(o.vmId, () =>
      trx
        .insertInto('operations')
        .values({
          id: o.id,
          tenant_id: o.tenantId,
          vm_id: o.vmId,
          kind: o.kind,
          status: 'running',
          idempotency_key: null,
          result: null,
          error: null,
          created_at: this.now(),
          finished_at: null,
          ...this.fields(o),
        })
        .execute(),
    );
  }

  /** Record that a running operation of `kind` completed `step` (e.g. `guest-created`). */
  async step(id: string, step: string, kind = ''): Promise<void> {
    this.ctx.onStep?.(step, kind);
    await this.db
      .updateTable('operations')
      .set({ step, updated_at: this.now() })
      .where('id', '=', id)
      .where('status', '=', 'running')
      .execute();
  }
}
