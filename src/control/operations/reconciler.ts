/**
 * The reconciler: after a crash (on start) and periodically, it finishes or rolls back every
 * operation that is `running` but no longer executed by this process, asking the hosts' drivers what
 * really runs (the record is the intent, the driver is the truth); then it settles VMs left in a
 * transitional state, removes guests of deleted VMs, recomputes the capacity claims of hosts and
 * tenants from the records (orphan claims are released) and repairs usage records, so nothing runs
 * unbilled and nothing deleted is billed. Nova's `_init_instance` on compute start and Kubernetes'
 * level-triggered controllers are the model.
 */
import type { HostRow } from '../inventory/hosts.ts';
import { Service } from '../service.ts';
import type { Db } from '../store/open-store.ts';
import { guestOn, Repairs, stateOf } from './repairs.ts';
import { VM_ACTIONS, type VmAction, type VmState } from '../vm-states.ts';

/** What one reconciliation round did. */
export interface ReconcileReport {
  /** Interrupted operations and how each ended. */
  operations: { id: string; kind: string; outcome: 'completed' | 'rolled-back' | 'failed'; note: string }[];
  /** VMs in a transitional state with no operation, settled from their guests. */
  settled: { vm: string; state: string }[];
  /** Guests removed because their VM is deleted (or runs elsewhere). */
  guestsRemoved: { vm: string; host: string }[];
  /** Hosts and tenants whose counters did not match the records (orphan or missing claims). */
  claimsRepaired: { hosts: string[]; tenants: string[] };
  /** VMs whose open usage intervals were repaired. */
  usageRepaired: string[];
  /** Image uploads a crash interrupted (`queued` with no upload running): record and file removed. */
  imagesRemoved?: string[];
}

/** Seconds the reconciler waits for a migration that agents are still streaming. */
const MIGRATION_SETTLE_S = 300;
/** Seconds the reconciler waits for an interrupted migration's incoming guest to appear on its target. */
const MIGRATION_APPEAR_S = 30;

type OpRow = Awaited<ReturnType<Reconciler['runningOps']>>[number];
type VmFull = NonNullable<Awaited<ReturnType<Reconciler['vm']>>>;

/** Finishes or rolls back interrupted operations and repairs claims and usage. */
export class Reconciler extends Service {
  private inRound: Promise<ReconcileReport> | undefined;
  private readonly repairs = new Repairs(this.cp);

  /**
   * One reconciliation round. Safe to call at any time and repeatedly (idempotent); a call during a
   * round joins it. Operations this process is still executing are left alone.
   */
  reconcile(): Promise<ReconcileReport> {
    this.inRound ??= this.round().finally(() => {
      this.inRound = undefined;
    });
    return this.inRound;
  }

  private async round(): Promise<ReconcileReport> {
    const report: ReconcileReport = {
      operations: [],
      settled: [],
      guestsRemoved: [],
      claimsRepaired: { hosts: [], tenants: [] },
      usageRepaired: [],
    };
    for (const op of await this.runningOps()) {
      const r = await this.recover(op).catch((e: Error) => ({
        outcome: 'failed' as const,
        note: `recovery failed: ${e.message}`,
      }));
      if (r) report.operations.push({ id: op.id, kind: op.kind, ...r });
    }
    report.settled = await this.repairs.settleStrays();
    report.guestsRemoved = await this.repairs.sweepGuests();
    report.claimsRepaired = await this.repairs.claims();
    report.usageRepaired = await this.repairs.usage();
    const images = await this.cp.images.removeInterrupted();
    if (images.length) report.imagesRemoved = images;
    const changed =
      report.operations.length +
      report.settled.length +
      report.guestsRemoved.length +
      report.claimsRepaired.hosts.length +
      report.claimsRepaired.tenants.length +
      report.usageRepaired.length +
      images.length;
    if (changed)
      await this.db
        .transaction()
        .execute((trx) =>
          this.event(trx, { actor: 'reconciler', kind: 'reconciler.repaired', detail: report }),
        );
    return report;
  }

  /** Running operations that no request of this process is executing. */
  async runningOps() {
    const rows = await this.db
      .selectFrom('operations')
      .selectAll()
      .where('status', '=', 'running')
      .orderBy('created_at')
      .execute();
    this.cp.opRecords.prune(new Set(rows.map((o) => o.id)));
    return this.cp.opRecords.notExecuted(rows);
  }

  async vm(trx: Db, id: string | null) {
    if (!id) return undefined;
    return trx
      .selectFrom('vms')
      .innerJoin('flavors', 'flavors.id', 'vms.flavor_id')
      .innerJoin('images', 'images.id', 'vms.image_id')
      .selectAll('vms')
      .select(['flavors.vcpus', 'flavors.memory_mib', 'images.name as image_name'])
      .where('vms.id', '=', id)
      .executeTakeFirst();
  }

  private host(id: string | null): Promise<HostRow | undefined> {
    if (!id) return Promise.resolve(undefined);
    return this.db.selectFrom('hosts').selectAll().where('id', '=', id).executeTakeFirst();
  }

  private guestOn(host: HostRow | undefined, id: string) {
    return guestOn(this.cp, host, id);
  }

  /** End an operation and settle its VM (state, host, usage) in one transaction. */
  private async end(
    op: OpRow,
    outcome: 'completed' | 'rolled-back' | 'failed',
    note: string,
    vm?: { id: string; tenantId: string; state: VmState | 'error'; hostId?: string | null },
  ) {
    await this.db.transaction().execute(async (trx) => {
      if (vm) {
        const deleted = vm.state === 'deleted';
        if (deleted) await this.cp.claims.release(trx, vm.id);
        if (deleted) await this.cp.ports.releaseVm(trx, vm.id);
        if (deleted) await this.cp.volumes.releaseVm(trx, vm.id);
        await trx
          .updateTable('vms')
          .set({
            state: vm.state,
            updated_at: this.now(),
            ...(vm.hostId !== undefined ? { host_id: vm.hostId } : {}),
            ...(deleted ? { deleted_at: this.now() } : {}),
          })
          .where('id', '=', vm.id)
          .execute();
        await this.cp.metering.meter(trx, vm.id, vm.state);
        await this.event(trx, {
          tenantId: vm.tenantId,
          vmId: vm.id,
          hostId: vm.hostId ?? null,
          actor: 'reconciler',
          kind: vm.state === 'error' ? 'vm.error' : `vm.recovered`,
          detail: { operation: op.id, kind: op.kind, outcome, state: vm.state, reason: note },
        });
      }
      await trx
        .updateTable('operations')
        .set({
          status: outcome === 'completed' ? 'succeeded' : 'failed',
          step: `reconciled:${outcome}`,
          updated_at: this.now(),
          finished_at: this.now(),
          result: JSON.stringify({ recovered: outcome, note }),
          error: outcome === 'completed' ? null : note,
        })
        .where('id', '=', op.id)
        .where('status', '=', 'running')
        .execute();
    });
    return { outcome, note };
  }

  /** Finish or roll back one interrupted operation. */
  private async recover(op: OpRow) {
    if (op.kind === 'power-on' || op.kind === 'power-off') return this.recoverPower(op);
    if (op.kind === 'plan-apply') return this.recoverPlan(op);
    if (op.kind.startsWith('volume-')) return this.cp.volumeOps.recover(op);
    const v = await this.vm(this.db, op.vm_id);
    if (!v) return this.end(op, 'failed', 'interrupted by a restart; its VM no longer exists');
    const vm = (state: VmState | 'error', hostId?: string | null) => ({
      id: v.id,
      tenantId: v.tenant_id,
      state,
      hostId,
    });
    if (v.state === 'deleted') return this.end(op, 'failed', 'interrupted by a restart; the VM is deleted');
    const host = await this.host(v.host_id);
    if (op.kind === 'migrate') return this.recoverMigration(op, v, host);
    const g = await this.guestOn(host, v.id);
    if (g === 'unreachable')
      return this.end(
        op,
        'failed',
        `interrupted by a restart, and host ${host!.name} does not answer: the VM's state is unknown`,
        vm('error'),
      );
    if (op.kind === 'delete') {
      if (g) await this.cp.drivers.driverFor(host!).delete(v.id);
      return this.end(op, 'completed', 'the interrupted delete was finished', vm('deleted'));
    }
    if (op.kind === 'create' || op.kind === 'clone' || op.kind === 'ha-restart' || v.state === 'building') {
      if (!host)
        return this.end(op, 'failed', 'interrupted by a restart before a host was chosen', vm('error'));
      try {
        const d = this.cp.drivers.driverFor(host);
        if (!g)
          await d.create({
            id: v.id,
            memoryMiB: v.memory_mib,
            vcpus: v.vcpus,
            ...(await this.cp.memoryProfiles.guestMemory(this.db, v.tenant_id, {
              hostId: host.id,
              memoryMiB: v.memory_mib,
            })),
            ...(await this.cp.volumes.guestStorage(this.db, v.id, v.image_id)),
            ...(await this.cp.networkPush.prepareGuest(v.id, host.id)),
          });
        if (!g || g.state !== 'running') await d.start(v.id);
        return this.end(
          op,
          'completed',
          `the interrupted ${op.kind} was finished on ${host.name}`,
          vm('running'),
        );
      } catch (e) {
        return this.end(
          op,
          'failed',
          `the interrupted ${op.kind} could not be finished on ${host.name}: ${(e as Error).message}`,
          vm('error'),
        );
      }
    }
    if (op.kind === 'resize' && !g && host) {
      // Interrupted between removing the old guest and building the new one: build it (new flavor).
      await this.cp.restarts.recreate(v, host);
      return this.end(op, 'completed', `the interrupted resize was finished on ${host.name}`, vm('running'));
    }
    // A lifecycle action (start, stop, resize, ...): the guest's state is the outcome.
    const now = stateOf(g);
    const want = (VM_ACTIONS as Record<string, { to: string | null }>)[op.kind as VmAction]?.to ?? null;
    const done = now !== 'error' && (want === null || want === now);
    return this.end(
      op,
      done ? 'completed' : 'failed',
      now === 'error'
        ? `interrupted by a restart; its guest is gone from ${host?.name ?? 'its host'}`
        : `interrupted by a restart; the guest is ${g!.state}`,
      vm(now),
    );
  }

  /** A migration: complete it if the guest runs on the target, else roll back to the source. */
  private async recoverMigration(op: OpRow, v: VmFull, source: HostRow | undefined) {
    const vm = (state: VmState | 'error', hostId?: string | null) => ({
      id: v.id,
      tenantId: v.tenant_id,
      state,
      hostId,
    });
    const target = await this.host(op.target_host_id);
    const there = await this.settledTarget(source, target, v.id);
    // A suspended VM migrated paused: its guest on the target is paused, and it stays suspended.
    const from =
      (JSON.parse(op.detail ?? '{}') as { from?: string }).from === 'suspended' ? 'suspended' : 'running';
    const moved =
      there !== 'unreachable' &&
      (there?.state === 'running' ||
        (from === 'suspended' &&
          there?.state === 'paused' &&
          (await this.guestOn(source, v.id)) === undefined));
    if (moved) {
      await this.db.transaction().execute(async (trx) => {
        await this.cp.metering.restartUsage(trx, v.id, v.tenant_id, target!.id, v.flavor_id);
        // Its local volumes were mirrored with it.
        if (source)
          await trx
            .updateTable('volumes')
            .set({ host_id: target!.id })
            .where('vm_id', '=', v.id)
            .where('host_id', '=', source.id)
            .execute();
      });
      return this.end(
        op,
        'completed',
        `the guest runs on ${target!.name}: the migration completed`,
        vm(from, target!.id),
      );
    }
    const here = await this.guestOn(source, v.id);
    if (here !== 'unreachable' && here && here.state !== 'crashed') {
      // Whatever the target holds of it is a leftover of the interrupted stream.
      if (target && there && there !== 'unreachable')
        await this.cp.drivers
          .driverFor(target)
          .delete(v.id)
          .catch(() => undefined);
      return this.end(
        op,
        'rolled-back',
        `interrupted by a restart; the guest still runs on ${source!.name}: the migration was rolled back`,
        vm(stateOf(here)),
      );
    }
    return this.end(
      op,
      'failed',
      `interrupted by a restart; the guest runs neither on ${source?.name ?? '?'} nor on ${target?.name ?? '?'}`,
      vm('error'),
    );
  }

  /**
   * The guest on a migration's target once the migration has ended. Agents stream to each other by
   * themselves: a migration the crash cut off from its requester may still be running (the target
   * holds a guest that does not run yet while the source still runs it, or has paused it for the
   * switch-over); wait for it to end, at most
   * `MIGRATION_SETTLE_S`. Simulated hosts move at once: no wait.
   */
  private async settledTarget(source: HostRow | undefined, target: HostRow | undefined, id: string) {
    for (let waited = 0; ; waited++) {
      const there = await this.guestOn(target, id);
      if (!target || target.driver === 'sim' || there === 'unreachable') return there;
      if (there?.state === 'running' || waited >= MIGRATION_SETTLE_S) return there;
      // Nothing on the target yet: the agents may still be preparing it (a busy destination takes
      // seconds to set up an incoming guest); give it a while to appear before rolling back.
      if (!there && waited >= MIGRATION_APPEAR_S) return there;
      const here = await this.guestOn(source, id);
      // A source paused at the switch-over (a block migration completes its mirrors then) is still moving.
      // The source let go of it (or cannot say): read the target again, it may have just taken over.
      if (here === 'unreachable' || !here || (here.state !== 'running' && here.state !== 'paused'))
        return this.guestOn(target, id);
      await new Promise<void>((resolve) => this.ctx.clock.schedule(1, resolve));
    }
  }

  /** A host switched on or off: its driver answering or not says which. */
  private async recoverPower(op: OpRow) {
    const h = await this.host(op.host_id);
    if (!h) return this.end(op, 'failed', 'interrupted by a restart; the host no longer exists');
    let on = true;
    try {
      await this.cp.drivers.driverFor(h).list();
    } catch {
      on = false;
    }
    const wanted = op.kind === 'power-on';
    // A real host switched on boots for minutes before its agent answers: its heartbeat says when.
    const state = on
      ? h.state === 'booting'
        ? 'up'
        : h.state === 'off'
          ? 'up'
          : h.state
      : wanted && h.driver === 'qemu'
        ? 'booting'
        : 'off';
    await this.db.updateTable('hosts').set({ state, boot_until: null }).where('id', '=', h.id).execute();
    const done = wanted ? state !== 'off' : state === 'off';
    return this.end(
      op,
      done ? 'completed' : 'failed',
      `interrupted by a restart; host ${h.name} is ${state}`,
    );
  }

  /** An interrupted plan waits: applying it again resumes after its last completed wave, re-checked against the live state. */
  private async recoverPlan(op: OpRow) {
    const planId = (JSON.parse(op.detail ?? '{}') as { planId?: string }).planId;
    if (planId) {
      const plan = await this.db.selectFrom('plans').selectAll().where('id', '=', planId).executeTakeFirst();
      if (plan?.status === 'applying') {
        const done = Number((JSON.parse(plan.result ?? '{}') as { done?: number }).done ?? 0);
        await this.db
          .updateTable('plans')
          .set({ status: 'waiting', result: JSON.stringify({ done, waitingFor: [], interrupted: true }) })
          .where('id', '=', planId)
          .execute();
      }
    }
    return this.end(
      op,
      'rolled-back',
      'interrupted by a restart; the plan waits and resumes after its last completed wave when applied again',
    );
  }
}
