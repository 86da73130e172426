/**
 * Consolidation plans: audit, list, show, discard (applying is `apply-plan.ts`); draining a host.
 *
 * Uses: `cp.automation`, `cp.clusterReader`, `cp.energy`, `cp.hosts`, `cp.migrations`, `cp.power`.
 */
import { authorize } from '../authz.ts';
import { DEFAULT_LOAD_OPTIONS, planLoadAware, planSpread } from '../../policies/plans/load-plan.ts';
import {
  type ConcurrencyLimits,
  type ConsolidationPlanOptions,
  DEFAULT_PLAN_OPTIONS,
  orderMoves,
  type Plan,
  type PlanAction,
  planConsolidation,
  schedulePlan,
  DEFAULT_SCHEDULE_MODELS,
  DEFAULT_CONCURRENCY,
  summarize,
} from '../../policies/plans/plan.ts';
import { MovesBreakConstraint } from '../../policies/plans/order-moves.ts';
import { planOptimal } from '../../policies/optimize/optimal-plan.ts';
import { parsePolicy, PolicySpecError } from '../../policies/registry.ts';
import { seededRandom } from '../../runtime/random.ts';
import { stripUndefined } from '../automation/automation.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';

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
      ...makespan(JSON.parse(r.actions) as PlanAction[]),
    };
  }

  /**
   * The plan as a schedule (schedule.ts): every action with its start, duration and the actions it
   * waits for, in order of start, under the zone's migration limits and the boot time hosts take here.
   * A plan the scheduler cannot run (moves that wait on each other with no host in between) is kept
   * as it is: applying it re-checks it and says why.
   */
  private scheduled(
    cluster: Awaited<ReturnType<Plans['cp']['clusterReader']['planCluster']>>,
    plan: Plan,
    s: { maxMigrationsPerHost?: number; maxMigrationsPerCluster?: number },
    bandwidthMbps: number,
  ): Plan {
    if (!plan.actions.length) return plan;
    const limits = {
      perHost: s.maxMigrationsPerHost ?? DEFAULT_CONCURRENCY.perHost,
      perCluster: s.maxMigrationsPerCluster ?? DEFAULT_CONCURRENCY.perCluster,
    };
    const bootS = this.ctx.simBootS ?? 0;
    try {
      const r = schedulePlan(cluster, plan, limits, {
        ...DEFAULT_SCHEDULE_MODELS,
        ...(bootS > 0 ? { bootS } : {}),
        bandwidthMbps,
      });
      return { ...plan, actions: r.actions, makespanS: r.makespanS };
    } catch (e) {
      if (e instanceof RangeError) return plan;
      throw e;
    }
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
      /** Seconds the `optimal` policy's solver may run (default 10). */
      timeLimitS?: number;
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
        plan = summarize(orderMoves(cluster, moves, options), cluster);
      } catch (e) {
        // A move a hard constraint forbids is refused like a migration to that host (409, named).
        if (e instanceof MovesBreakConstraint) {
          const names = new Map(cluster.vms.map((v) => [v.id, v.name]));
          const c = e.violation.constraint;
          throw new ControlError('CONSTRAINT_VIOLATED', `Cannot order these moves: ${e.message}`, {
            constraint: { id: c.id, name: c.name, type: c.type },
            vms: e.violation.vmIds.map((id) => names.get(id) ?? id),
          });
        }
        throw new ControlError('BAD_REQUEST', `Cannot order these moves: ${(e as Error).message}`);
      }
    } else {
      const policy = o.policy ?? settings.policy ?? 'reservation';
      const spread = /^spread(?::([0-9.]+))?$/.exec(policy);
      if (policy === 'reservation') plan = planConsolidation(cluster, options);
      else if (policy === 'optimal') plan = await this.planOptimal(cluster, options, o.timeLimitS ?? 10);
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
            `${(e as PolicySpecError).message}, or reservation, or optimal, or spread[:GAP]`,
          );
        }
        if (spec.type === 'optimal')
          throw new ControlError(
            'BAD_REQUEST',
            `Policy "${policy}" is the simulator's form; plans take "optimal" with a time limit (timeLimitS, --time-limit)`,
          );
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
    plan = this.scheduled(cluster, plan, settings, options.bandwidthMbps);
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

  /**
   * The exact optimizer's plan (HiGHS in a worker thread: the event loop stays free while it
   * searches); incumbent, bound and gap go into the summary.
   */
  private async planOptimal(
    cluster: Awaited<ReturnType<Plans['cp']['clusterReader']['planCluster']>>,
    options: ConsolidationPlanOptions,
    timeLimitS: number,
  ): Promise<Plan> {
    const solver = this.ctx.milpSolver;
    if (!solver)
      throw new ControlError(
        'BAD_REQUEST',
        'The optimal policy needs the MILP solver, which this control plane was started without; use reservation',
      );
    try {
      // Above a few hundred VMs the whole MILP stalls: large-neighbourhood search takes over
      // ('auto'); the round cap keeps it finite on a simulated clock that does not move while it runs.
      const oo = {
        timeLimitS,
        now: () => this.ctx.clock.now(),
        strategy: 'auto' as const,
        random: seededRandom(1),
        maxRounds: Math.max(50, Math.ceil(timeLimitS * 20)),
      };
      return (await planOptimal(cluster, options, solver, oo)).plan;
    } catch (e) {
      if (e instanceof RangeError)
        throw new ControlError(
          'BAD_REQUEST',
          `The optimal placement cannot be reached step by step: ${e.message}`,
        );
      throw e;
    }
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

  /** Apply a proposed (or waiting) plan in waves; see PlanApplier.applyPlan. */
  applyPlan(p: Principal, id: string, o: { actor?: string; limits?: Partial<ConcurrencyLimits> } = {}) {
    return this.cp.planApply.applyPlan(p, id, o);
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
        const op = await this.cp.migrations.migrateVmOutcome(p, v.id, {});
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

/** When the last action of a scheduled plan ends (`makespanS`), or nothing for a plan without a schedule. */
function makespan(actions: readonly PlanAction[]): { makespanS?: number } {
  if (!actions.length || actions.some((a) => a.startS === undefined || a.durationS === undefined)) return {};
  return { makespanS: Math.max(...actions.map((a) => a.startS! + a.durationS!)) };
}
