/**
 * The optimizer's `lns` strategy, for data-center scale: a valid start (the one given, the
 * heuristics' best, or a repair of the current placement), the instance split into parts the
 * constraints do not cross (zones, when VMs stay in their zone), large-neighbourhood search on each
 * (lns.ts) sharing the time limit, and the bound: per part the largest of L1/L2 (src/policies/bounds/)
 * and the LP relaxation when the part is small enough, summed, raised by integrality. BtrPlace's
 * partitioned repair (Hermenier et al., IEEE TDSC 2013). Pure: the solver is a port.
 */
import { lowerBound } from '../bounds/bounds.ts';
import { seededRandom } from '../../runtime/random.ts';
import { GLOBAL_CONSTRAINT_TYPES, selects, type Constraint } from '../../core/constraints/index.ts';
import type { OptimizeResult, PackInstance, PackSolution } from './instance.ts';
import { lns } from './lns.ts';
import { admissibility, buildMilpModel, defaultMigrationWeight, hostCosts } from './milp-model.ts';
import { placementObjective } from './milp-solution.ts';
import type { OptimizeOptions } from './optimize.ts';
import { repairPlacement } from './repair.ts';
import type { MilpSolver } from './solver-port.ts';
import { placementValid, warmStarts } from './warm-start.ts';

/** Above this many VMs, `strategy: 'auto'` uses LNS. */
export const LNS_AUTO_THRESHOLD = 300;
/** Parts with more admissible pairs than this get no LP relaxation (it would not finish in time). */
export const LP_BOUND_MAX_COLUMNS = 40_000;
/** Above this many VM × host pairs, the O(V·H) heuristics are not run for a start. */
const HEURISTICS_MAX_PAIRS = 4_000_000;

/**
 * Independent parts: per zone of the VMs' current hosts, zones joined by constraints whose VMs
 * cross them and by host-set counts (maxOnline, runningCapacity) whose hosts do: a count stays whole.
 */
export function zoneParts(inst: PackInstance, stayInZone = true): { vms: number[]; hosts: number[] }[] {
  const hostIndex = new Map(inst.hosts.map((h, i) => [h.id, i]));
  const whole = [{ vms: inst.vms.map((_, i) => i), hosts: inst.hosts.map((_, i) => i) }];
  if (!stayInZone || inst.vms.some((v) => v.hostId === undefined || !hostIndex.has(v.hostId))) return whole;
  const zoneOf = (v: PackInstance['vms'][number]) => inst.hosts[hostIndex.get(v.hostId!)!]!.zone ?? '';
  const parent = new Map<string, string>();
  const find = (z: string): string => {
    while (parent.get(z) !== z) z = parent.get(z)!;
    return z;
  };
  for (const h of inst.hosts) parent.set(h.zone ?? '', h.zone ?? '');
  const vmById = new Map(inst.vms.map((v) => [v.id, v]));
  for (const c of inst.constraints ?? []) {
    const zs = c.vms.flatMap((id) => (vmById.has(id) ? [find(zoneOf(vmById.get(id)!))] : []));
    for (const z of zs) parent.set(find(z), find(zs[0]!));
    // A count over a host set couples every host of it (as optimize.ts's partition).
    if (c.hard && (c.type === 'maxOnline' || c.type === 'runningCapacity')) {
      const hz = inst.hosts.flatMap((h) => (selects(c, h) ? [find(h.zone ?? '')] : []));
      for (const z of hz) parent.set(find(z), find(hz[0]!));
    }
  }
  const parts = new Map<string, { vms: number[]; hosts: number[] }>();
  const get = (z: string) => {
    const r = find(z);
    if (!parts.has(r)) parts.set(r, { vms: [], hosts: [] });
    return parts.get(r)!;
  };
  inst.vms.forEach((v, i) => get(zoneOf(v)).vms.push(i));
  inst.hosts.forEach((h, i) => get(h.zone ?? '').hosts.push(i));
  return [...parts.values()].filter((p) => p.vms.length);
}

function subInstance(inst: PackInstance, part: { vms: number[]; hosts: number[] }): PackInstance {
  const ids = new Set(part.vms.map((v) => inst.vms[v]!.id));
  // Rules about every VM (host rules, lonely, preserve) judge the part's VMs even when they list none.
  const constraints = (inst.constraints ?? [])
    .filter((c) => GLOBAL_CONSTRAINT_TYPES.includes(c.type) || c.vms.some((v) => ids.has(v)))
    .map((c): Constraint => ({ ...c, vms: c.vms.filter((v) => ids.has(v)) }));
  return {
    dims: inst.dims,
    hosts: part.hosts.map((h) => inst.hosts[h]!),
    vms: part.vms.map((v) => inst.vms[v]!),
    constraints,
  };
}

function solutionOf(inst: PackInstance, hostOfVm: ArrayLike<number>): PackSolution {
  const placement = new Map<string, string>();
  let migrations = 0,
    moveCostS = 0;
  inst.vms.forEach((v, i) => {
    const h = inst.hosts[hostOfVm[i]!]!.id;
    placement.set(v.id, h);
    if (v.hostId !== undefined && v.hostId !== h) {
      migrations++;
      moveCostS += Math.max(0, v.moveCostS);
    }
  });
  return { placement, hostsUsed: new Set(placement.values()).size, migrations, moveCostS };
}

/** A caller's start as host indices, when it places every VM validly. */
export function givenStart(inst: PackInstance, start?: ReadonlyMap<string, string>): Int32Array | undefined {
  if (!start) return undefined;
  const index = new Map(inst.hosts.map((h, i) => [h.id, i]));
  const p = Int32Array.from(inst.vms, (v) => index.get(start.get(v.id) ?? '') ?? -1);
  return p.every((h) => h >= 0) && placementValid(inst, p) ? p : undefined;
}

/** The valid starts at hand, best objective first. */
function starts(inst: PackInstance, o: OptimizeOptions, w: number) {
  // Repair mode: a VM not free stays where it is.
  const keepsPinned = (p: Int32Array) =>
    !o.free ||
    inst.vms.every(
      (v, i) => v.hostId === undefined || o.free!.has(v.id) || inst.hosts[p[i]!]!.id === v.hostId,
    );
  const given = givenStart(inst, o.start);
  if (given && keepsPinned(given)) return [{ hostOfVm: given, from: 'the start given' }];
  const out: { hostOfVm: Int32Array; from: string }[] = [];
  if (inst.vms.length * inst.hosts.length <= HEURISTICS_MAX_PAIRS)
    for (const c of warmStarts(inst, admissibility(inst, { ...o, migrationWeight: w })))
      out.push({ hostOfVm: c.hostOfVm, from: c.heuristic });
  if (inst.vms.some((v) => v.hostId !== undefined)) {
    const r = repairPlacement(inst, o);
    if (r)
      out.push({
        hostOfVm: r.hostOfVm,
        from: r.mustMove.length ? `repair (${r.mustMove.length} VM(s) had to move)` : 'current',
      });
  }
  const objective = (p: Int32Array) => placementObjective(inst, { migrationWeight: w }, p, o);
  return out
    .filter((c) => keepsPinned(c.hostOfVm))
    .sort((a, b) => objective(a.hostOfVm) - objective(b.hostOfVm));
}

/** A part's bound: L1/L2 on hosts, the LP relaxation when affordable, integrality. */
async function partBound(
  sub: PackInstance,
  solver: MilpSolver,
  o: OptimizeOptions,
  w: number,
  lpLimitS: number,
): Promise<{ bound: number; lp?: number }> {
  const cost = hostCosts(sub, o.hostCost);
  let bound = lowerBound(sub).hosts * Math.min(...cost);
  let lp: number | undefined;
  const D = sub.hosts.length;
  if (sub.vms.length * D <= LP_BOUND_MAX_COLUMNS && lpLimitS > 0) {
    const model = buildMilpModel(sub, { ...o, migrationWeight: w });
    if (model.xCount <= LP_BOUND_MAX_COLUMNS) {
      const r = await solver.solve(model, { relaxation: true, timeLimitS: lpLimitS, signal: o.signal });
      if (r.status === 'optimal' && Number.isFinite(r.bound)) bound = Math.max(bound, (lp = r.bound));
    }
  }
  if (o.hostCost !== 'power') {
    // hosts integral, 0 ≤ migration term ≤ M: hosts ≥ ⌈bound − M⌉, and the objective ≥ hosts.
    const m = sub.vms.reduce((s, v) => s + (v.hostId !== undefined ? w * Math.max(0, v.moveCostS) : 0), 0);
    bound = Math.max(bound, Math.ceil(bound - m - 1e-6));
  }
  return { bound, lp };
}

/**
 * Optimize by large-neighbourhood search (`optimize(..., { strategy: 'lns' })` lands here): same
 * result contract as the MILP (incumbent, bound, gap); `source` is `solver` when LNS improved on the start.
 */
export async function optimizeLns(
  inst: PackInstance,
  solver: MilpSolver,
  o: OptimizeOptions = {},
): Promise<OptimizeResult> {
  const t0 = o.now?.() ?? 0;
  const elapsed = () => (o.now ? o.now() - t0 : 0);
  const limit = o.timeLimitS ?? 10;
  const w = o.migrationWeight ?? defaultMigrationWeight(inst);
  const notes: string[] = ['strategy: large-neighbourhood search'];
  const candidates = starts(inst, o, w);
  const start = candidates[0];
  const parts = zoneParts(inst, o.stayInZone !== false);
  if (!start) {
    const bounds = await Promise.all(parts.map((p) => partBound(subInstance(inst, p), solver, o, w, 0)));
    return {
      status: 'error',
      source: 'none',
      bound: bounds.reduce((s, b) => s + b.bound, 0),
      gap: 1,
      elapsedS: elapsed(),
      notes: [...notes, 'no valid start: no heuristic or repair placed every VM'],
      parts: parts.length,
    };
  }
  notes.push(`start: ${start.from}`);
  const random = o.random ?? seededRandom(0);
  const hostOfVm = Int32Array.from(start.hostOfVm);
  const startObjective = placementObjective(inst, { migrationWeight: w }, hostOfVm, o);
  // Without a clock (deterministic runs) the LP gets a generous safety limit.
  const lpLimit = o.now ? Math.min(limit / 4, 5) : 60;
  let subSolves = 0,
    rounds = 0;
  // Parts one after another (each search runs `parallel` neighbourhoods), the LP bounds beside them.
  const boundsP = Promise.all(parts.map((p) => partBound(subInstance(inst, p), solver, o, w, lpLimit)));
  // Hosts used and objective per part, for onImprove's view of the whole.
  const partHosts = parts.map((p) => new Set(p.vms.map((v) => hostOfVm[v]!)).size);
  const subs = parts.map((p) => {
    const local = new Map(p.hosts.map((h, i) => [h, i]));
    return { sub: subInstance(inst, p), startLocal: Int32Array.from(p.vms, (v) => local.get(hostOfVm[v]!)!) };
  });
  const partObj = subs.map((x) => placementObjective(x.sub, { migrationWeight: w }, x.startLocal, o));
  for (const [k, p] of parts.entries()) {
    const { sub, startLocal } = subs[k]!;
    const left = limit - elapsed();
    const r = await lns(sub, startLocal, solver, {
      ...o,
      random: random.fork(),
      migrationWeight: w,
      timeLimitS: o.now ? left / (parts.length - k) : undefined,
      now: o.now,
      maxRounds: o.maxRounds,
      maxNodes: o.maxNodes,
      parallel: o.parallel,
      signal: o.signal,
      onImprove: (objective, hosts) => {
        partHosts[k] = hosts;
        partObj[k] = objective;
        const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
        o.onImprove?.(sum(partObj), sum(partHosts), elapsed());
      },
    });
    p.vms.forEach((v, i) => (hostOfVm[v] = p.hosts[r.hostOfVm[i]!]!));
    subSolves += r.subSolves;
    rounds += r.rounds;
  }
  const bounds = await boundsP;
  const lps = bounds.filter((b) => b.lp !== undefined).length;
  notes.push(
    `${rounds} round(s), ${subSolves} sub-MILP(s); bound per part: L1/L2${lps ? `, LP relaxation in ${lps} of ${parts.length}` : ''}`,
  );
  let valid = placementValid(inst, hostOfVm);
  let objective = placementObjective(inst, { migrationWeight: w }, hostOfVm, o);
  if (!valid || objective > startObjective + 1e-9) {
    notes.push('the search ended on a worse or invalid placement; the start is kept');
    hostOfVm.set(start.hostOfVm);
    objective = startObjective;
    valid = true;
  }
  const bound = Math.min(
    objective,
    Math.max(
      bounds.reduce((s, b) => s + b.bound, 0),
      o.knownBound ?? -Infinity,
    ),
  );
  const gap = objective > 0 ? Math.max(0, (objective - bound) / objective) : 0;
  return {
    status: gap <= (o.mipRelGap ?? 1e-6) ? 'optimal' : 'time-limit',
    incumbent: solutionOf(inst, hostOfVm),
    source: objective < startObjective - 1e-9 ? 'solver' : 'warm-start',
    objective,
    bound,
    gap,
    elapsedS: elapsed(),
    notes,
    parts: parts.length,
  };
}
