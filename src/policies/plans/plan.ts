/**
 * Consolidation plans: ordered actions with why each is there, what it costs and what it gains
 * (the checker that replays them is check-plan.ts, waves are waves.ts, operator moves
 * order-moves.ts). Planners only choose targets in the VM's own zone that the cluster's hard
 * constraints admit (src/core/constraints). Pure functions.
 */
import type { Constraint } from '../../core/constraints/index.ts';
import { predictBlockMigration } from '../../models/migration-disk.ts';
import { describePlanBound, planBound, type PlanBound } from '../bounds/plan-bound.ts';
import { PlanConstraints } from './plan-constraints.ts';

export { checkPlan, checkSchedule, type PlanViolation } from './check-plan.ts';
export { orderMoves, type RequestedMove } from './order-moves.ts';
export {
  actionDurationS,
  DEFAULT_SCHEDULE_MODELS,
  schedulePlan,
  type Schedule,
  type ScheduleModels,
  type TimedAction,
} from './schedule.ts';
export { checkTimedSchedule } from './schedule-check.ts';
export { DEFAULT_CONCURRENCY, scheduleWaves, waveStarts, type ConcurrencyLimits } from './waves.ts';

export interface PlanHost {
  id: string;
  name: string;
  state: 'up' | 'maintenance' | 'off' | 'failed' | 'booting';
  /** Schedulable capacity (after overcommit and reservations). */
  capacity: { vcpus: number; memoryMiB: number };
  /** Physical capacity, before overcommit (what `overbook` and `preserve` judge); `capacity` when absent. */
  physical?: { vcpus: number; memoryMiB: number };
  /** Power drawn when idle and on, W (what switching it off saves). */
  idleW: number;
  /** Seconds it has been empty (0 with VMs on it; Infinity if it never had any). */
  emptyForS?: number;
  /** Attributes the constraints refer to; plans keep every VM in its zone. */
  zone?: string;
  rack?: string;
  tier?: string;
  datacenter?: string;
}
export interface PlanVm {
  id: string;
  name: string;
  hostId: string;
  vcpus: number;
  memoryMiB: number;
  /** Seconds since its last migration (Infinity if never). */ sinceMigrationS: number;
  /** GiB of local volumes a migration must mirror (block migration); absent or 0: memory only. */
  localDiskGiB?: number;
}
export interface PlanCluster {
  hosts: PlanHost[];
  vms: PlanVm[];
  /** Placement constraints (hard ones bind every planner and the checker; soft ones are ignored). */
  constraints?: readonly Constraint[];
}

/** Where an action sits in a schedule (schedule.ts): start and duration in seconds, the actions (indices) it waits for. */
export interface ActionTiming {
  startS?: number;
  durationS?: number;
  after?: number[];
}

export type PlanAction = (
  | {
      type: 'migrate';
      vmId: string;
      vmName: string;
      from: string;
      to: string;
      reason: string;
      cost: { timeS: number; dataMiB: number };
      gain?: { /** Share of the source host's CPU moved off it (hot-spot relief). */ loadMoved: number };
    }
  | { type: 'power-on'; hostId: string; hostName: string; reason: string; cost: { watts: number } }
  | { type: 'power-off'; hostId: string; hostName: string; reason: string; gain: { wattsSaved: number } }
) &
  ActionTiming;

export interface Plan {
  actions: PlanAction[];
  summary: string;
  gainWatts: number;
  costTimeS: number;
  costDataMiB: number;
  /** The lower bound on hosts with VMs, the hosts the plan leaves with VMs, and the gap (when the cluster was given to `summarize`). */
  bound?: PlanBound;
  /** When the last action ends in the plan's schedule, s (when it was scheduled). */
  makespanS?: number;
}

export interface ConsolidationPlanOptions {
  /** Hosts kept on (empty) as spares. */
  spareHosts: number;
  /** VMs moved less than this long ago are not moved again (anti-oscillation). */
  holdDownS: number;
  /** A host is emptied only if the energy saved pays back the migrations within this horizon. */
  paybackHorizonS: number;
  /** Energy a migration costs, J per MiB moved (network and CPU on both ends). */
  migrationJPerMiB: number;
  bandwidthMbps: number;
  /** A host is switched off only after it has been empty this long (hosts emptied by the plan itself wait for a later round when > 0). */
  powerOffGraceS?: number;
}

/** Migration energy ≈ 0.512 J per MB moved (Liu et al., "Performance and energy modeling for live migration of virtual machines", HPDC 2011). */
export const DEFAULT_PLAN_OPTIONS: ConsolidationPlanOptions = {
  spareHosts: 1,
  holdDownS: 3600,
  paybackHorizonS: 3600,
  migrationJPerMiB: 0.512,
  bandwidthMbps: 1000,
};

/**
 * Pack VMs onto fewer hosts (reservation-based consolidation, Beloglazov & Buyya's underload phase
 * on flavor sizes): least-used hosts first, each emptied only if every VM fits elsewhere in its zone
 * where its hard constraints admit it (best fit, fullest target first) and the gain pays back its
 * cost; then switch emptied hosts off.
 */
export function planConsolidation(c: PlanCluster, o: ConsolidationPlanOptions = DEFAULT_PLAN_OPTIONS): Plan {
  const up = c.hosts.filter((h) => h.state === 'up');
  const used = new Map(up.map((h) => [h.id, { vcpus: 0, memoryMiB: 0 }]));
  const vmsOn = new Map<string, PlanVm[]>(up.map((h) => [h.id, []]));
  for (const v of c.vms) {
    const u = used.get(v.hostId);
    if (!u) continue;
    u.vcpus += v.vcpus;
    u.memoryMiB += v.memoryMiB;
    vmsOn.get(v.hostId)!.push(v);
  }
  const share = (h: PlanHost) =>
    Math.max(used.get(h.id)!.vcpus / h.capacity.vcpus, used.get(h.id)!.memoryMiB / h.capacity.memoryMiB);
  const pc = new PlanConstraints(c);
  const actions: PlanAction[] = [];
  const emptied = new Set<string>();
  const alreadyEmpty = up.filter((h) => vmsOn.get(h.id)!.length === 0).map((h) => h.id);
  const candidates = up
    .filter((h) => vmsOn.get(h.id)!.length > 0)
    .sort((a, b) => share(a) - share(b) || (a.name < b.name ? -1 : 1));
  for (const src of candidates) {
    const vms = vmsOn.get(src.id)!;
    if (vms.some((v) => v.sinceMigrationS < o.holdDownS)) continue;
    const moves: { v: PlanVm; to: PlanHost }[] = [];
    const trial = new Map([...used].map(([k, x]) => [k, { ...x }]));
    let ok = true;
    for (const v of vms.slice().sort((a, b) => b.memoryMiB - a.memoryMiB || b.vcpus - a.vcpus)) {
      // Only hosts that keep running VMs take more (filling an empty host would not free anything).
      const targets = up.filter(
        (h) => h.id !== src.id && !emptied.has(h.id) && vmsOn.get(h.id)!.length > 0 && h.zone === src.zone,
      );
      let best: PlanHost | undefined;
      let bestShare = -1;
      for (const h of targets) {
        const u = trial.get(h.id)!;
        if (u.vcpus + v.vcpus > h.capacity.vcpus || u.memoryMiB + v.memoryMiB > h.capacity.memoryMiB)
          continue;
        if (!pc.none && pc.refuses(v.id, h.id)) continue;
        const s = Math.max(
          (u.vcpus + v.vcpus) / h.capacity.vcpus,
          (u.memoryMiB + v.memoryMiB) / h.capacity.memoryMiB,
        );
        if (s > bestShare) {
          bestShare = s;
          best = h;
        }
      }
      if (!best) {
        ok = false;
        break;
      }
      const u = trial.get(best.id)!;
      u.vcpus += v.vcpus;
      u.memoryMiB += v.memoryMiB;
      moves.push({ v, to: best });
      pc.move(v.id, best.id);
    }
    const undo = () => {
      for (const m of moves) pc.move(m.v.id, src.id);
    };
    if (!ok) {
      undo();
      continue;
    }
    const costs = moves.map((m) =>
      predictBlockMigration(
        {
          memMiB: m.v.memoryMiB,
          dirtyMiBps: 0,
          bandwidthMbps: o.bandwidthMbps,
          diskBytes: (m.v.localDiskGiB ?? 0) * 2 ** 30,
          writeMiBps: 0,
        },
        { mode: 'precopy' },
      ),
    );
    const dataMiB = costs.reduce((s, r) => s + r.bytes / 2 ** 20, 0);
    const costJ = dataMiB * o.migrationJPerMiB;
    const gainJ = src.idleW * o.paybackHorizonS;
    if (gainJ <= costJ) {
      undo();
      continue;
    }
    for (const [i, m] of moves.entries()) {
      actions.push({
        type: 'migrate',
        vmId: m.v.id,
        vmName: m.v.name,
        from: src.id,
        to: m.to.id,
        reason: `empty ${src.name} (${(share(src) * 100).toFixed(0)} % used) to switch it off; ${m.to.name} has room`,
        cost: { timeS: costs[i]!.totalMs / 1000, dataMiB: costs[i]!.bytes / 2 ** 20 },
      });
      const su = used.get(src.id)!,
        tu = used.get(m.to.id)!;
      su.vcpus -= m.v.vcpus;
      su.memoryMiB -= m.v.memoryMiB;
      tu.vcpus += m.v.vcpus;
      tu.memoryMiB += m.v.memoryMiB;
      vmsOn.get(m.to.id)!.push(m.v);
    }
    vmsOn.set(src.id, []);
    emptied.add(src.id);
  }
  // Switch off emptied hosts (and already empty ones), keeping spares on.
  const offable = offableHosts(up, alreadyEmpty, [...emptied], o.powerOffGraceS ?? 0);
  const keep = Math.min(o.spareHosts, offable.length);
  for (const id of offable.slice(keep)) {
    const h = up.find((x) => x.id === id)!;
    actions.push({
      type: 'power-off',
      hostId: id,
      hostName: h.name,
      reason: emptied.has(id)
        ? `emptied by this plan; ${o.spareHosts} spare host(s) stay on`
        : `empty; ${o.spareHosts} spare host(s) stay on`,
      gain: { wattsSaved: h.idleW },
    });
  }
  return summarize(actions, c);
}

/** Totals and a one-line summary of a list of actions. */
export function summarize(actions: PlanAction[], cluster?: PlanCluster): Plan {
  const gainWatts = actions.reduce(
    (s, a) => s + (a.type === 'power-off' ? a.gain.wattsSaved : a.type === 'power-on' ? -a.cost.watts : 0),
    0,
  );
  const costTimeS = actions.reduce((s, a) => s + (a.type === 'migrate' ? a.cost.timeS : 0), 0);
  const costDataMiB = actions.reduce((s, a) => s + (a.type === 'migrate' ? a.cost.dataMiB : 0), 0);
  const n = (t: PlanAction['type']) => actions.filter((a) => a.type === t).length;
  const moves = n('migrate'),
    offs = n('power-off'),
    ons = n('power-on');
  const relieved = new Set(
    actions.flatMap((a) => (a.type === 'migrate' && a.gain?.loadMoved !== undefined ? [a.from] : [])),
  ).size;
  const parts = [`${moves} migration(s) (${costDataMiB.toFixed(0)} MiB, ${costTimeS.toFixed(1)} s)`];
  if (relieved) parts.push(`relieve ${relieved} overloaded host(s)`);
  if (ons) parts.push(`switch on ${ons} host(s)`);
  if (offs) parts.push(`switch off ${offs} host(s)`);
  const bound = cluster ? planBound(cluster, actions) : undefined;
  const summary =
    actions.length === 0
      ? 'nothing to do: no host is overloaded and none can be emptied worth its cost'
      : `${parts.join(', ')}; net ${gainWatts >= 0 ? 'saving' : 'adding'} ${Math.abs(gainWatts).toFixed(0)} W`;
  return {
    actions,
    gainWatts,
    costTimeS,
    costDataMiB,
    summary: bound ? `${summary}; ${describePlanBound(bound)}` : summary,
    ...(bound ? { bound } : {}),
  };
}

/**
 * Hosts that may be switched off, in order: those already empty for at least the grace period,
 * then (only without a grace period) those emptied by the plan itself.
 */
export function offableHosts(
  hosts: readonly PlanHost[],
  alreadyEmpty: readonly string[],
  emptiedNow: readonly string[],
  graceS: number,
): string[] {
  const byId = new Map(hosts.map((h) => [h.id, h]));
  return [
    ...alreadyEmpty.filter((id) => (byId.get(id)?.emptyForS ?? Infinity) >= graceS),
    ...(graceS > 0 ? [] : emptiedNow),
  ];
}
