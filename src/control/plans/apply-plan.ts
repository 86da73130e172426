/**
 * Applying a consolidation plan: re-checked against the live state, run in waves within the
 * migration limits, waiting for hosts that switch on, and recorded so a crash leaves it recoverable.
 *
 * Uses: `cp.plans` (getPlan), `cp.automation`, `cp.clusterReader`, `cp.energy`, `cp.migrations`,
 * `cp.opRecords`, `cp.power`.
 */
import {
  checkPlan,
  checkSchedule,
  type ConcurrencyLimits,
  DEFAULT_CONCURRENCY,
  type Plan,
  type PlanAction,
  type PlanCluster,
  scheduleWaves,
} from '../../policies/plans/plan.ts';
import { authorize } from '../authz.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import type { Db } from '../store/open-store.ts';

/** Runs plans: waves, limits, waiting for hosts to boot, the result of every action. */
export class PlanApplier extends Service {
  /**
   * Apply a proposed plan: re-check it against the live state first, then run it in waves (the
   * migrations of a wave at once, within the per-host and per-cluster limits, every host within
   * capacity at every moment), re-checking the rest of the plan before each wave. A host the plan
   * switches on takes time to boot: the plan then waits (status `waiting`) and resumes when the host
   * is up (the next automation round, or applying it again). A failed action stops the plan after
   * its wave (a failed migration leaves its VM where it was); nothing is half-applied silently: the
   * result says which actions ran, which failed and which were cancelled.
   */
  async applyPlan(p: Principal, id: string, o: { actor?: string; limits?: Partial<ConcurrencyLimits> } = {}) {
    authorize(p, 'plan:write');
    await this.cp.energy.promoteBooted();
    const plan = await this.cp.plans.getPlan(p, id);
    const actor = o.actor ?? p.userName;
    const resuming = plan.status === 'waiting';
    if (plan.status !== 'proposed' && !resuming)
      throw new ControlError(
        'INVALID_STATE',
        `Plan ${id} is ${plan.status}; only a proposed (or waiting) plan can be applied`,
        { state: plan.status },
      );
    const start = resuming ? Number(plan.result?.done ?? 0) : 0;
    if (resuming) {
      const waitingFor = (plan.result?.waitingFor ?? []) as string[];
      const still = waitingFor.length
        ? await this.db
            .selectFrom('hosts')
            .select('name')
            .where('id', 'in', waitingFor)
            .where('state', '=', 'booting')
            .execute()
        : [];
      if (still.length) return plan;
    }
    const actions = plan.actions.slice(start);
    const asPlan = (a: PlanAction[]): Plan => ({
      actions: a,
      summary: plan.summary,
      gainWatts: 0,
      costTimeS: 0,
      costDataMiB: 0,
    });
    const zone = plan.zone ?? undefined;
    // The live cluster, read once until the first migration: nothing between here and the first
    // wave moves a VM or changes a host (settings, the plan's status and its operation record only).
    let live: PlanCluster | undefined = await this.cp.clusterReader.checkCluster(zone);
    const violations = checkPlan(live, asPlan(actions)).map((v) => ({
      ...v,
      action: v.action + start,
    }));
    if (violations.length) {
      await this.db
        .updateTable('plans')
        .set({
          status: 'stale',
          finished_at: this.now(),
          result: JSON.stringify({ done: start, violations }),
        })
        .where('id', '=', id)
        .execute();
      throw new ControlError(
        'INVALID_STATE',
        `Plan ${id} no longer fits the live state (audit again): ${violations.map((v) => `action ${v.action + 1}: ${v.reason}`).join('; ')}`,
        { violations },
      );
    }
    const s = await this.cp.automation.automationSettings(zone);
    const limits = {
      perHost: o.limits?.perHost ?? s.maxMigrationsPerHost ?? DEFAULT_CONCURRENCY.perHost,
      perCluster: o.limits?.perCluster ?? s.maxMigrationsPerCluster ?? DEFAULT_CONCURRENCY.perCluster,
    };
    // noDelay: the listed VMs' migrations must be in the first wave (the plan's schedule shows where
    // they would start without waves; waves still run the plan).
    if (!resuming) {
      const late = checkSchedule(live, asPlan(actions), scheduleWaves(live, asPlan(actions), limits));
      if (late.length)
        throw new ControlError(
          'CONSTRAINT_VIOLATED',
          `Plan ${id} would delay VMs that must move at once: ${late.map((v) => `action ${v.action + 1}: ${v.reason}`).join('; ')}; raise the migration limits or audit again`,
          { violations: late, limits },
        );
    }
    // An operation record says this process applies the plan: after a crash, the reconciler finds it
    // and lets the plan resume after its last completed wave.
    const opId = this.ctx.ids.uuid();
    this.cp.opRecords.track(opId);
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('plans').set({ status: 'applying' }).where('id', '=', id).execute();
      await trx
        .insertInto('operations')
        .values({
          id: opId,
          tenant_id: p.tenantId,
          vm_id: null,
          kind: 'plan-apply',
          status: 'running',
          idempotency_key: null,
          result: null,
          error: null,
          created_at: this.now(),
          finished_at: null,
          ...this.cp.opRecords.fields({ detail: { planId: id } }),
        })
        .execute();
    });
    const endOp = (trx: Db, status: string) =>
      trx
        .updateTable('operations')
        .set({ status: 'succeeded', finished_at: this.now(), result: JSON.stringify({ plan: status }) })
        .where('id', '=', opId)
        .execute();
    const waves = scheduleWaves(live, asPlan(actions), limits);
    let done = start;
    let failure: { action: number; error: string } | undefined;
    const booting: { id: string; name: string }[] = [];
    for (const [w, wave] of waves.entries()) {
      // Re-check what is left against the live state: something may have changed since the last wave.
      const late = checkPlan(
        live ?? (await this.cp.clusterReader.checkCluster(zone)),
        asPlan(actions.slice(wave[0])),
      );
      live = undefined;
      if (late.length) {
        failure = {
          action: start + wave[0]! + late[0]!.action,
          error: `the live state changed: ${late[0]!.reason}`,
        };
        break;
      }
      const outcomes = await Promise.all(
        wave.map(async (i) => {
          const a = actions[i]!;
          try {
            if (a.type === 'migrate') {
              const op = await this.cp.migrations.migrateVmOutcome(p, a.vmId, { toHost: a.to });
              if (op.status !== 'succeeded') throw new Error(op.error ?? 'migration failed');
            } else {
              const r = await this.cp.power.powerHost(p, a.hostId, a.type === 'power-on' ? 'on' : 'off', {
                reason: `plan ${id}: ${a.reason}`,
                actor,
              });
              if (r.state === 'booting') booting.push({ id: a.hostId, name: a.hostName });
            }
            return { i, error: undefined };
          } catch (e) {
            return { i, error: (e as Error).message };
          }
        }),
      );
      done += outcomes.filter((r) => !r.error).length;
      const bad = outcomes.find((r) => r.error);
      if (bad) {
        failure = { action: start + bad.i, error: bad.error! };
        break;
      }
      // Hosts switching on: start every power-on of the plan first (their boots overlap), then wait.
      if (
        booting.length &&
        w < waves.length - 1 &&
        !waves[w + 1]!.every((i) => actions[i]!.type === 'power-on')
      )
        break;
      if (w < waves.length - 1)
        await this.db
          .updateTable('plans')
          .set({
            result: JSON.stringify({ done, of: plan.actions.length, wave: w + 1, waves: waves.length }),
          })
          .where('id', '=', id)
          .execute();
    }
    if (!failure && booting.length && done < plan.actions.length) {
      const result = {
        done,
        of: plan.actions.length,
        waitingFor: booting.map((b) => b.id),
        waitingForNames: booting.map((b) => b.name),
        limits,
      };
      await this.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('plans')
          .set({ status: 'waiting', result: JSON.stringify(result) })
          .where('id', '=', id)
          .execute();
        await endOp(trx, 'waiting');
        await this.event(trx, {
          actor,
          kind: 'plan.waiting',
          detail: { planId: id, done, for: booting.map((b) => b.name).join(', ') },
        });
      });
      return this.cp.plans.getPlan(p, id);
    }
    const status = failure ? 'failed' : 'applied';
    const result = {
      done,
      failed: failure ?? null,
      cancelled: plan.actions.length - done - (failure ? 1 : 0),
      waves: waves.length,
      limits,
    };
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('plans')
        .set({ status, finished_at: this.now(), result: JSON.stringify(result) })
        .where('id', '=', id)
        .execute();
      await endOp(trx, status);
      await this.event(trx, { actor, kind: `plan.${status}`, detail: { planId: id, ...result } });
    });
    return this.cp.plans.getPlan(p, id);
  }
}
