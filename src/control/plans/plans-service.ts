/**
 * Consolidation plans: audit, list, show, discard, apply; draining a host.
 *
 * Uses: `cp.automation`, `cp.clusterReader`, `cp.energy`, `cp.hosts`, `cp.migrations`, `cp.power`.
 */
import { authorize } from '../authz.ts';
import { DEFAULT_LOAD_OPTIONS, planLoadAware, planSpread } from '../../policies/plans/load-plan.ts';
import {
  checkPlan,
  type ConcurrencyLimits,
  type ConsolidationPlanOptions,
  DEFAULT_CONCURRENCY,
  DEFAULT_PLAN_OPTIONS,
  orderMoves,
  type Plan,
  type PlanAction,
  planConsolidation,
  scheduleWaves,
  summarize,
} from '../../policies/plans/plan.ts';
import { parsePolicy, PolicySpecError } from '../../policies/registry.ts';
import { seededRandom } from '../../runtime/random.ts';
import { stripUndefined } from '../automation/automation.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import type { Db } from '../store/open-store.ts';

/** Consolidation plans: audit, list, show, discard, apply; draining a host. */
export class Plans extends Service {
  private planOut(r: {
    id: string;
    status: string;
    created_at: string;
    created_by: string;
    summary: string;
    actions: string;
    result: string | null;
    finished_at: string | null;
    zone: string | null;
  }) {
    return {
      id: r.id,
      status: r.status,
      zone: r.zone,
      createdAt: r.created_at,
      createdBy: r.created_by,
      summary: r.summary,
      actions: JSON.parse(r.actions) as PlanAction[],
      result: r.result ? JSON.parse(r.result) : null,
      finishedAt: r.finished_at,
    };
  }

  /**
   * Audit the live state and propose a plan (nothing changes until it is applied): the reservation
   * packer (`policy: "reservation"`, flavor sizes), or any load-aware preset of the simulator
   * (`lr-mmt:1.2`, `thr-mmt:0.8`, ...) on the measured CPU histories, or moves an operator asks for
   * (ordered so that every intermediate state fits, cycles routed through a free host).
   */
  async auditPlan(
    p: Principal,
    o: Partial<ConsolidationPlanOptions> & {
      policy?: string;
      zone?: string;
      moves?: { vm: string; to: string }[];
      actor?: string;
      keepEmpty?: boolean;
    } = {},
  ) {
    authorize(p, 'plan:write');
    await this.cp.energy.promoteBooted();
    const settings = await this.cp.automation.automationSettings(o.zone);
    const options = {
      ...DEFAULT_PLAN_OPTIONS,
      ...(settings.spareHosts !== undefined ? { spareHosts: settings.spareHosts } : {}),
      ...(settings.powerOffGraceS !== undefined ? { powerOffGraceS: settings.powerOffGraceS } : {}),
      ...stripUndefined(o),
    };
    const cluster = await this.cp.clusterReader.planCluster(o.zone);
    let plan: Plan;
    if (o.moves) {
      const byRef = (ref: string) => cluster.vms.find((v) => v.id === ref || v.name === ref);
      const hostRef = (ref: string) => cluster.hosts.find((h) => h.id === ref || h.name === ref);
      const moves = o.moves.map((m) => {
        const v = byRef(m.vm),
          h = hostRef(m.to);
        if (!v)
          throw new ControlError('NOT_FOUND', `No placed VM "${m.vm}"${o.zone ? ` in zone ${o.zone}` : ''}`);
        if (!h) throw new ControlError('NOT_FOUND', `No host "${m.to}"${o.zone ? ` in zone ${o.zone}` : ''}`);
        return { vmId: v.id, to: h.id };
      });
      try {
        plan = summarize(orderMoves(cluster, moves, options));
      } catch (e) {
        throw new ControlError('BAD_REQUEST', `Cannot order these moves: ${(e as Error).message}`);
      }
    } else {
      const policy = o.policy ?? settings.policy ?? 'reservation';
      const spread = /^spread(?::([0-9.]+))?$/.exec(policy);
      if (policy === 'reservation') plan = planConsolidation(cluster, options);
      else if (spread) {
        const gap = spread[1] === undefined ? 0.3 : Number(spread[1]);
        if (!(gap > 0 && gap < 1))
          throw new ControlError('BAD_REQUEST', `spread:GAP needs a gap in (0, 1), got "${spread[1]}"`);
        plan = planSpread(cluster, {
          gap,
          holdDownS: options.holdDownS,
          bandwidthMbps: options.bandwidthMbps,
        });
      } else {
        let spec;
        try {
          spec = parsePolicy(policy);
        } catch (e) {
          throw new ControlError(
            'BAD_REQUEST',
            `${(e as PolicySpecError).message}, or reservation, or spread[:GAP]`,
          );
        }
        if (spec.type !== 'migration')
          throw new ControlError(
            'BAD_REQUEST',
            `Policy "${policy}" plans no migrations; use a DETECTOR-SELECTION preset (e.g. lr-mmt:1.2) or reservation`,
          );
        // Seeded from the clock: the same state at the same time gives the same plan (RS selection).
        plan = planLoadAware(
          cluster,
          { ...options, ...DEFAULT_LOAD_OPTIONS, policy: spec },
          seededRandom(Math.floor(this.ctx.clock.now())),
        );
      }
    }
    const id = this.ctx.ids.uuid();
    // Periodic audits keep no record of plans with nothing to do (one every few minutes otherwise).
    if (!plan.actions.length && o.keepEmpty === false)
      return {
        id: null,
        status: 'empty',
        zone: o.zone ?? null,
        createdAt: this.now(),
        createdBy: o.actor ?? p.userName,
        summary: plan.summary,
        actions: [],
        result: null,
        finishedAt: null,
      };
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('plans')
        .values({
          id,
          status: plan.actions.length ? 'proposed' : 'empty',
          zone: o.zone ?? null,
          created_at: this.now(),
          created_by: o.actor ?? p.userName,
          summary: plan.summary,
          actions: JSON.stringify(plan.actions),
          result: null,
          finished_at: null,
        })
        .execute();
      await this.event(trx, {
        actor: o.actor ?? p.userName,
        kind: 'plan.proposed',
        detail: { planId: id, zone: o.zone ?? null, summary: plan.summary },
      });
    });
    return this.getPlan(p, id);
  }

  async listPlans(p: Principal) {
    authorize(p, 'plan:read');
    return (
      await this.db.selectFrom('plans').selectAll().orderBy('created_at', 'desc').limit(100).execute()
    ).map((r) => this.planOut(r));
  }

  async getPlan(p: Principal, id: string) {
    authorize(p, 'plan:read');
    const r = await this.db.selectFrom('plans').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw new ControlError('NOT_FOUND', `No plan "${id}"`);
    return this.planOut(r);
  }

  async discardPlan(p: Principal, id: string) {
    authorize(p, 'plan:write');
    const plan = await this.getPlan(p, id);
    if (plan.status !== 'proposed' && plan.status !== 'waiting')
      throw new ControlError(
        'INVALID_STATE',
        `Plan ${id} is ${plan.status}; only a proposed (or waiting) plan can be discarded`,
        { state: plan.status },
      );
    await this.db
      .updateTable('plans')
      .set({ status: 'discarded', finished_at: this.now() })
      .where('id', '=', id)
      .execute();
    return this.getPlan(p, id);
  }

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
    const plan = await this.getPlan(p, id);
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
    const violations = checkPlan(await this.cp.clusterReader.planCluster(zone), asPlan(actions)).map((v) => ({
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
    const waves = scheduleWaves(await this.cp.clusterReader.planCluster(zone), asPlan(actions), limits);
    let done = start;
    let failure: { action: number; error: string } | undefined;
    const booting: { id: string; name: string }[] = [];
    for (const [w, wave] of waves.entries()) {
      // Re-check what is left against the live state: something may have changed since the last wave.
      const late = checkPlan(await this.cp.clusterReader.planCluster(zone), asPlan(actions.slice(wave[0])));
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
              const op = await this.cp.migrations.migrateVm(p, a.vmId, { toHost: a.to });
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
      return this.getPlan(p, id);
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
    return this.getPlan(p, id);
  }

  /**
   * Drain a host for maintenance: stop placing on it, live-migrate every VM elsewhere (placement
   * decides where, constraints respected), then mark it in maintenance. A VM that cannot move is
   * reported; the host stays in maintenance so nothing new lands there.
   */
  async drainHost(p: Principal, ref: string) {
    authorize(p, 'host:operate');
    const h = await this.cp.hosts.getHost(p, ref);
    await this.cp.hosts.setHostState(p, h.id, 'maintenance');
    const vms = await this.db
      .selectFrom('vms')
      .select(['id', 'name', 'state'])
      .where('host_id', '=', h.id)
      .where('deleted_at', 'is', null)
      .orderBy('name')
      .execute();
    const moved: string[] = [];
    const stuck: { vm: string; reason: string }[] = [];
    for (const v of vms) {
      if (v.state !== 'running') {
        stuck.push({ vm: v.name, reason: `it is ${v.state}; only running VMs migrate` });
        continue;
      }
      try {
        const op = await this.cp.migrations.migrateVm(p, v.id, {});
        if (op.status === 'succeeded') moved.push(v.name);
        else stuck.push({ vm: v.name, reason: op.error ?? 'migration failed' });
      } catch (e) {
        stuck.push({ vm: v.name, reason: (e as Error).message });
      }
    }
    await this.db.transaction().execute(async (trx) =>
      this.event(trx, {
        hostId: h.id,
        actor: p.userName,
        kind: stuck.length ? 'host.drain.incomplete' : 'host.drained',
        detail: { moved, stuck },
      }),
    );
    return { host: h.name, state: 'maintenance', moved, stuck };
  }
}
