/**
 * Schedules: a plan's actions with start times, durations and dependencies, each started as early as
 * its dependencies, the targets' room, the continuous hard constraints and the concurrency limits
 * allow: continuous in time instead of waves. Cycles of moves are routed through a pivot host. Pure.
 */
import { checkAll } from '../../core/constraints/index.ts';
import { predictBlockMigration } from '../../models/migration-disk.ts';
import { checkPlan, type PlanViolation } from './check-plan.ts';
import { PlanConstraints } from './plan-constraints.ts';
import type { Plan, PlanAction, PlanCluster, PlanVm } from './plan.ts';
import { PlanProgress, type Amounts } from './plan-progress.ts';
import { DEFAULT_CONCURRENCY, scheduleWaves, type ConcurrencyLimits } from './waves.ts';

/** How long actions take: migrations take their `cost.timeS` (the migration models); hosts boot and shut down. */
export interface ScheduleModels {
  /** Seconds from power-on to a host that takes VMs. */
  bootS: number;
  /** Seconds a host takes to shut down. */
  shutdownS: number;
  /** Per-host boot and shutdown times, by host id (the defaults above otherwise). */
  hosts?: Readonly<Record<string, { bootS?: number; shutdownS?: number }>>;
  /** Link speed the migration model assumes for moves the scheduler adds (pivots). */
  bandwidthMbps: number;
}

/** Two minutes to boot (the simulator's default), thirty seconds to shut down, 1 Gbit/s. */
export const DEFAULT_SCHEDULE_MODELS: ScheduleModels = { bootS: 120, shutdownS: 30, bandwidthMbps: 1000 };

/** An action with its start (seconds from the plan's start), its duration and the actions it waits for. */
export type TimedAction = PlanAction & { startS: number; durationS: number; after: number[] };

/** A plan as a schedule. */
export interface Schedule {
  /** The actions (with any pivot moves added) in order of start time; `after` indexes this list. */
  actions: TimedAction[];
  /** When the last action ends, s. */
  makespanS: number;
  /** The same plan run in waves (sum of each wave's longest action), s; absent if its order is not valid. */
  wavesS?: number;
  /** `list`: list scheduling; `waves`: the wave schedule, when it was shorter (or the only valid one). */
  method: 'list' | 'waves';
  /** Moves added to break cycles through a pivot host. */
  pivots: number;
  /** noDelay constraints the schedule cannot keep (a listed VM's action does not start at 0). */
  noDelay: PlanViolation[];
}

/** How long an action takes under the models. */
export function actionDurationS(a: PlanAction, m: ScheduleModels = DEFAULT_SCHEDULE_MODELS): number {
  if (a.type === 'migrate') return a.cost.timeS;
  const h = m.hosts?.[a.hostId];
  return a.type === 'power-on' ? (h?.bootS ?? m.bootS) : (h?.shutdownS ?? m.shutdownS);
}

/**
 * What each action waits for, from the plan's order: the same VM's previous move; the last power
 * action on a host it touches; for a power action, every earlier action on that host (a power-off
 * waits for the host's last migration); for a migration into a host that has no room for it in the
 * order of the plan, the earliest moves out of that host that make room.
 */
export function planDependencies(c: PlanCluster, actions: readonly PlanAction[]): number[][] {
  const vms = new Map(c.vms.map((v) => [v.id, v]));
  const cap = new Map(c.hosts.map((h) => [h.id, h.capacity]));
  const base = new Map(c.hosts.map((h) => [h.id, { vcpus: 0, memoryMiB: 0 }]));
  for (const v of c.vms) {
    const u = base.get(v.hostId);
    if (u) {
      u.vcpus += v.vcpus;
      u.memoryMiB += v.memoryMiB;
    }
  }
  const out = new Map<string, number[]>();
  const lastMove = new Map<string, number>();
  const lastPower = new Map<string, number>();
  const sincePower = new Map<string, number[]>();
  const deps: number[][] = [];
  actions.forEach((a, i) => {
    const d = new Set<number>();
    const hosts = a.type === 'migrate' ? [a.from, a.to] : [a.hostId];
    for (const h of hosts) {
      const p = lastPower.get(h);
      if (p !== undefined) d.add(p);
    }
    if (a.type === 'migrate') {
      const prev = lastMove.get(a.vmId);
      if (prev !== undefined) d.add(prev);
      lastMove.set(a.vmId, i);
      const v = vms.get(a.vmId),
        u = base.get(a.to),
        k = cap.get(a.to);
      if (v && u && k) {
        // Room the target lacks with every earlier incoming VM counted and no outgoing one gone yet.
        let needC = u.vcpus + v.vcpus - k.vcpus,
          needM = u.memoryMiB + v.memoryMiB - k.memoryMiB;
        for (const j of out.get(a.to) ?? []) {
          if (needC <= 0 && needM <= 0) break;
          const w = vms.get((actions[j] as { vmId: string }).vmId)!;
          d.add(j);
          needC -= w.vcpus;
          needM -= w.memoryMiB;
        }
        u.vcpus += v.vcpus;
        u.memoryMiB += v.memoryMiB;
      }
      if (!out.has(a.from)) out.set(a.from, []);
      out.get(a.from)!.push(i);
      for (const h of hosts) {
        if (!sincePower.has(h)) sincePower.set(h, []);
        sincePower.get(h)!.push(i);
      }
    } else {
      for (const j of sincePower.get(a.hostId) ?? []) d.add(j);
      sincePower.set(a.hostId, []);
      lastPower.set(a.hostId, i);
    }
    d.delete(i);
    deps.push([...d].sort((x, y) => x - y));
  });
  return deps;
}

/** A cycle the list scheduler could not start: the earliest waiting migration. */
interface Stuck {
  stuck: number;
  where: Map<string, string>;
  used: Map<string, { vcpus: number; memoryMiB: number }>;
  state: Map<string, string>;
  pc: PlanConstraints;
}

/**
 * List scheduling (Graham, "Bounds for certain multiprocessing anomalies", 1966) in continuous time,
 * the priority being each action's longest remaining chain of dependencies (the critical path,
 * Kahn's topological order over the plan's DAG): whenever an action ends, start every waiting action
 * in priority order whose dependencies are done and that the limits, the target's room (in-flight
 * VMs counted on both hosts) and the continuous hard constraints allow. A migration into a host
 * overtakes earlier ones into it only if the host keeps room for them (so a plan valid in its order
 * cannot deadlock on room).
 */
function listSchedule(
  c: PlanCluster,
  actions: readonly PlanAction[],
  deps: readonly number[][],
  dur: readonly number[],
  limits: ConcurrencyLimits,
  first: ReadonlySet<string>,
): { start: number[] } | Stuck {
  const n = actions.length;
  const tail = dur.slice();
  for (let i = n - 1; i >= 0; i--) for (const d of deps[i]!) tail[d] = Math.max(tail[d]!, dur[d]! + tail[i]!);
  const urgent = (i: number) => {
    const a = actions[i]!;
    return a.type === 'migrate' && first.has(a.vmId) && deps[i]!.length === 0 ? 1 : 0;
  };
  const order = [...actions.keys()].sort((x, y) => urgent(y) - urgent(x) || tail[y]! - tail[x]! || x - y);
  const progress = new PlanProgress(c);
  const { vms, cap, used, state, where, pc, moving, touching } = progress;
  const incoming = new Map<string, number[]>();
  actions.forEach((a, i) => {
    if (a.type === 'migrate') {
      if (!incoming.has(a.to)) incoming.set(a.to, []);
      incoming.get(a.to)!.push(i);
    }
  });
  const start = new Array<number>(n).fill(NaN);
  const done = new Array<boolean>(n).fill(false);
  let inflight: { i: number; end: number }[] = [];
  let t = 0;
  const can = (i: number, inOrder: boolean): boolean => {
    const a = actions[i]!;
    if (!Number.isNaN(start[i]!) || !deps[i]!.every((d) => done[d])) return false;
    if (a.type === 'power-on') return state.get(a.hostId) === 'off';
    if (a.type === 'power-off')
      return (
        !(touching.get(a.hostId) ?? 0) &&
        ![...where.values()].includes(a.hostId) &&
        ['up', 'maintenance'].includes(state.get(a.hostId) ?? '')
      );
    const v = vms.get(a.vmId),
      u = used.get(a.to),
      k = cap.get(a.to);
    return (
      !!v &&
      !!u &&
      !!k &&
      where.get(a.vmId) === a.from &&
      !moving.has(a.vmId) &&
      state.get(a.to) === 'up' &&
      progress.migrating < limits.perCluster &&
      (touching.get(a.from) ?? 0) < limits.perHost &&
      (touching.get(a.to) ?? 0) < limits.perHost &&
      u.vcpus + v.vcpus <= k.vcpus &&
      u.memoryMiB + v.memoryMiB <= k.memoryMiB &&
      (!inOrder || roomFirst(i, v, u, k)) &&
      (pc.none || !pc.refuses(a.vmId, a.to, { only: 'continuous' }))
    );
  };
  // A migration into a host starts before earlier ones into it only if the host keeps room for them.
  const roomFirst = (i: number, v: PlanVm, u: Amounts, k: Amounts) => {
    let c = u.vcpus + v.vcpus,
      m = u.memoryMiB + v.memoryMiB;
    for (const j of incoming.get((actions[i] as { to: string }).to) ?? []) {
      if (j >= i) break;
      if (!Number.isNaN(start[j]!)) continue;
      const w = vms.get((actions[j] as { vmId: string }).vmId);
      c += w?.vcpus ?? 0;
      m += w?.memoryMiB ?? 0;
    }
    return c <= k.vcpus && m <= k.memoryMiB;
  };
  const begin = (i: number) => {
    const a = actions[i]!;
    start[i] = t;
    inflight.push({ i, end: t + dur[i]! });
    if (a.type === 'power-on') state.set(a.hostId, 'booting');
    else if (a.type === 'power-off') {
      state.set(a.hostId, 'off');
      pc.power(a.hostId, false);
    } else {
      const v = vms.get(a.vmId)!,
        u = used.get(a.to)!;
      u.vcpus += v.vcpus;
      u.memoryMiB += v.memoryMiB;
      pc.arrive(a.vmId, a.to);
      moving.add(a.vmId);
      progress.migrating++;
      for (const h of [a.from, a.to]) touching.set(h, (touching.get(h) ?? 0) + 1);
    }
  };
  const end = (i: number) => {
    done[i] = true;
    progress.end(actions[i]!);
  };
  let left = n;
  while (left > 0 || inflight.length) {
    for (const i of order)
      if (can(i, true)) {
        begin(i);
        left--;
      }
    if (!inflight.length) {
      if (!left) break;
      // Nothing runs and nothing may start in order: start any action that may start at all.
      const k = order.find((i) => can(i, false));
      if (k === undefined) return { stuck: start.findIndex((s) => Number.isNaN(s)), where, used, state, pc };
      begin(k);
      left--;
      continue;
    }
    t = Math.min(...inflight.map((f) => f.end));
    const ending = inflight.filter((f) => f.end <= t).sort((x, y) => x.i - y.i);
    inflight = inflight.filter((f) => f.end > t);
    for (const f of ending) end(f.i);
  }
  return { start };
}

/** A move through a pivot host for the stuck migration, or undefined when no host can hold its VM. */
function pivotFor(c: PlanCluster, actions: readonly PlanAction[], s: Stuck, m: ScheduleModels) {
  const a = actions[s.stuck];
  if (a?.type !== 'migrate') return undefined;
  const v = c.vms.find((x) => x.id === a.vmId)!;
  const pivot = c.hosts.find((h) => {
    const u = s.used.get(h.id)!;
    return (
      h.id !== a.from &&
      h.id !== a.to &&
      s.state.get(h.id) === 'up' &&
      s.pc.inZone(v.id, h.id) &&
      u.vcpus + v.vcpus <= h.capacity.vcpus &&
      u.memoryMiB + v.memoryMiB <= h.capacity.memoryMiB &&
      !s.pc.refuses(v.id, h.id, { only: 'continuous' })
    );
  });
  if (!pivot) return undefined;
  const p = predictBlockMigration(
    {
      memMiB: v.memoryMiB,
      dirtyMiBps: 0,
      bandwidthMbps: m.bandwidthMbps,
      diskBytes: (v.localDiskGiB ?? 0) * 2 ** 30,
      writeMiBps: 0,
    },
    { mode: 'precopy' },
  );
  const there: PlanAction = {
    ...a,
    from: a.from,
    to: pivot.id,
    reason: `through ${pivot.name} to break a cycle of moves (no target had room)`,
    cost: { timeS: p.totalMs / 1000, dataMiB: p.bytes / 2 ** 20 },
  };
  return { at: s.stuck, there, on: { ...a, from: pivot.id } as PlanAction };
}

/**
 * Schedule a plan: every action gets a start, a duration (migrations: their `cost.timeS`; power-on:
 * the host's boot time; power-off: its shutdown time) and the actions it waits for. List scheduling
 * with the critical path as priority; noDelay VMs' migrations first. When no action can start and
 * none runs (a cycle: A waits for B's room and B for A's), one VM of the cycle goes through a pivot
 * host with room and on to its target later (each VM once). The wave schedule of the same plan is a
 * valid schedule too: when the plan is valid in its order and waves finish sooner, they are returned,
 * so a schedule is never longer than waves. Suspend/resume is not used: the control plane's suspend
 * pauses a VM in place and cannot resume it on another host.
 * @throws RangeError when the moves wait on each other and no host can hold one of them in between
 */
export function schedulePlan(
  c: PlanCluster,
  plan: Plan,
  limits: ConcurrencyLimits = DEFAULT_CONCURRENCY,
  models: ScheduleModels = DEFAULT_SCHEDULE_MODELS,
): Schedule {
  const noDelay = (c.constraints ?? []).filter((x) => x.hard && x.type === 'noDelay');
  const first = new Set(noDelay.flatMap((x) => (x.type === 'noDelay' ? x.vms : [])));
  const inOrder = checkPlan(c, plan).length === 0;
  let actions = plan.actions.map(strip);
  let pivots = 0;
  const routed = new Set<string>();
  const candidates: Omit<Schedule, 'wavesS'>[] = [];
  for (;;) {
    const deps = planDependencies(c, actions);
    const dur = actions.map((a) => actionDurationS(a, models));
    const r = listSchedule(c, actions, deps, dur, limits, first);
    if ('start' in r) {
      candidates.push(timed(c, actions, r.start, dur, deps, 'list', pivots));
      break;
    }
    if (inOrder) break;
    const stuck = actions[r.stuck];
    const p =
      stuck?.type === 'migrate' && !routed.has(stuck.vmId) ? pivotFor(c, actions, r, models) : undefined;
    if (stuck && stuck.type !== 'migrate')
      throw new RangeError(
        `${stuck.type} of ${stuck.hostName} can never start: ${stuck.type === 'power-off' ? 'VMs stay on it' : 'the host is not off'}`,
      );
    if (!p) {
      const waiting = actions.filter((a, i) => i >= r.stuck && a.type === 'migrate');
      throw new RangeError(
        `moves ${waiting.map((a) => (a as { vmName: string }).vmName).join(', ')} wait on each other's room and no other host can hold ${(stuck as { vmName?: string })?.vmName ?? 'any of them'} in between`,
      );
    }
    routed.add((stuck as { vmId: string }).vmId);
    actions = [...actions.slice(0, p.at), p.there, p.on, ...actions.slice(p.at + 1)];
    pivots++;
  }
  let wavesS: number | undefined;
  if (inOrder) {
    const waves = scheduleWaves(c, plan, limits);
    const dur = plan.actions.map((a) => actionDurationS(a, models));
    const start = new Array<number>(dur.length).fill(0);
    wavesS = 0;
    for (const w of waves) {
      for (const i of w) start[i] = wavesS;
      wavesS += Math.max(0, ...w.map((i) => dur[i]!));
    }
    candidates.push(
      timed(c, plan.actions.map(strip), start, dur, planDependencies(c, plan.actions), 'waves', 0),
    );
  }
  const best = candidates.sort(
    (x, y) =>
      x.noDelay.length - y.noDelay.length || x.makespanS - y.makespanS || (x.method === 'list' ? -1 : 1),
  )[0]!;
  return { ...best, ...(wavesS !== undefined ? { wavesS } : {}) };
}

/** A plan action without schedule fields (a stored plan may carry them). */
function strip(a: PlanAction): PlanAction {
  const { startS: _s, durationS: _d, after: _a, ...rest } = a as TimedAction;
  return rest as PlanAction;
}

/**
 * The actions in order of start, migrations before power actions at one instant (so the actions at
 * 0 are the first wave of the plan as stored), and never before an action they wait for (Kahn's
 * topological order, the start as priority).
 */
function startOrder(actions: readonly PlanAction[], start: readonly number[], deps: readonly number[][]) {
  const key = (i: number) => [start[i]!, actions[i]!.type === 'migrate' ? 0 : 1, i] as const;
  const before = (x: number, y: number) => {
    const a = key(x),
      b = key(y);
    return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
  };
  const waiting = deps.map((d) => d.length);
  const next: number[][] = actions.map(() => []);
  deps.forEach((d, i) => d.forEach((j) => next[j]!.push(i)));
  const ready = [...actions.keys()].filter((i) => waiting[i] === 0).sort(before);
  const order: number[] = [];
  while (ready.length) {
    const i = ready.shift()!;
    order.push(i);
    for (const k of next[i]!)
      if (--waiting[k]! === 0) {
        const at = ready.findIndex((r) => before(k, r) < 0);
        ready.splice(at < 0 ? ready.length : at, 0, k);
      }
  }
  return order;
}

/** Actions sorted by start with their schedule, the makespan and the noDelay verdicts. */
function timed(
  c: PlanCluster,
  actions: readonly PlanAction[],
  start: readonly number[],
  dur: readonly number[],
  deps: readonly number[][],
  method: 'list' | 'waves',
  pivots: number,
): Omit<Schedule, 'wavesS'> {
  const order = startOrder(actions, start, deps);
  const pos = new Map(order.map((i, k) => [i, k]));
  const out: TimedAction[] = order.map((i) => ({
    ...actions[i]!,
    startS: start[i]!,
    durationS: dur[i]!,
    after: deps[i]!.map((d) => pos.get(d)!).sort((x, y) => x - y),
  }));
  const makespanS = Math.max(0, ...out.map((a) => a.startS + a.durationS));
  return { actions: out, makespanS, method, pivots, noDelay: scheduleNoDelay(c, out) };
}

/**
 * The `noDelay` constraints a timed schedule breaks (BtrPlace `NoDelay`): a listed VM whose first
 * migration starts after 0 s, against that action.
 */
export function scheduleNoDelay(c: PlanCluster, actions: readonly TimedAction[]): PlanViolation[] {
  const noDelay = (c.constraints ?? []).filter((x) => x.hard && x.type === 'noDelay');
  if (!noDelay.length) return [];
  const starts = new Map<string, number>();
  for (const a of actions) if (a.type === 'migrate' && !starts.has(a.vmId)) starts.set(a.vmId, a.startS);
  const pc = new PlanConstraints(c);
  return checkAll(noDelay, { ...pc, starts }).map((x) => ({
    action: actions.findIndex((a) => a.type === 'migrate' && a.vmId === x.vmIds[0]),
    reason: `waits ${(starts.get(x.vmIds[0]!) ?? 0).toFixed(1)} s: ${x.message}`,
    constraint: x.constraint.id,
  }));
}
