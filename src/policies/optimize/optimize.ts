/**
 * The exact optimizer: warm-start from the best constraint-aware heuristic, split the instance into
 * independent parts (VMs that share no admissible host and no constraint: the zones, when VMs stay
 * in their zone), solve each part's MILP through the injected solver (in parallel workers), decode,
 * verify capacity and every hard constraint (checkAll), and report incumbent, bound and gap.
 * Decomposition as in BtrPlace's partitioned solving (Hermenier et al., IEEE TDSC 2013). Pure
 * orchestration: the solver is a port (solver-port.ts).
 */
import { GLOBAL_CONSTRAINT_TYPES, selects, type Constraint } from '../../core/constraints/index.ts';
import type { OptimizeResult, PackInstance, PackSolution } from './instance.ts';
import {
  admissibility,
  buildMilpModel,
  defaultMigrationWeight,
  hostCosts,
  type MilpModelOptions,
} from './milp-model.ts';
import { canonicalPlacement, decodePlacement, encodePlacement, placementObjective } from './milp-solution.ts';
import { givenStart, LNS_AUTO_THRESHOLD, optimizeLns } from './lns-optimize.ts';
import type { MilpSolveResult, MilpSolver } from './solver-port.ts';
import type { Random } from '../../runtime/random.ts';
import { placementValid, warmStarts } from './warm-start.ts';

/** Options of one optimizer run; every field is optional. */
export interface OptimizeOptions extends MilpModelOptions {
  /** Wall-clock limit of the whole run, seconds (default 10): parts run `parallel` at a time, in rounds sharing it. */
  timeLimitS?: number;
  /** Deterministic limit: branch-and-bound nodes per part (the simulator's choice). */
  maxNodes?: number;
  /** Relative gap at which a part counts as solved (default 1e-6). */
  mipRelGap?: number;
  /** Cancels the run: the best incumbent so far and the bound known are returned. */
  signal?: AbortSignal;
  /** A lower bound on the objective known from elsewhere (L1/L2 on hosts, with `hostCost: 'hosts'`). */
  knownBound?: number;
  /** Solve independent parts separately (default true). */
  decompose?: boolean;
  /** Parts solved at once (default 2). */
  parallel?: number;
  /** Seconds now, for `elapsedS` (a clock's now(); 0 when absent); LNS needs it to keep `timeLimitS`. */
  now?: () => number;
  /**
   * `milp` (default): the whole MILP per part; `lns`: large-neighbourhood search with exact
   * sub-MILPs (lns-optimize.ts); `auto`: LNS above LNS_AUTO_THRESHOLD VMs. `maxMoves` always uses the MILP.
   */
  strategy?: 'milp' | 'lns' | 'auto';
  /** LNS: the seeded source of its random choices (default seed 0). */
  random?: Random;
  /** A placement to start from (VM id → host id), used when complete and valid (LNS: instead of the heuristics). */
  start?: ReadonlyMap<string, string>;
  /** LNS: called with every improvement (objective, hosts used, seconds since its part's search began). */
  onImprove?: (objective: number, hostsUsed: number, elapsedS: number) => void;
  /** LNS: deterministic limit on rounds of neighbourhoods per part (with `maxNodes`, no wall clock). */
  maxRounds?: number;
}

/** Union-find over VM and host indices: the independent parts of an instance. */
export function partition(
  inst: PackInstance,
  adm: readonly (readonly number[])[],
): { vms: number[]; hosts: number[] }[] {
  const V = inst.vms.length;
  const parent = Array.from({ length: V + inst.hosts.length }, (_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]!]!;
    return i;
  };
  const union = (a: number, b: number) => (parent[find(a)] = find(b));
  adm.forEach((hs, v) => hs.forEach((h) => union(v, V + h)));
  const vmIndex = new Map(inst.vms.map((v, i) => [v.id, i]));
  for (const c of inst.constraints ?? []) {
    const ms = c.vms.map((id) => vmIndex.get(id)).filter((i) => i !== undefined);
    for (let k = 1; k < ms.length; k++) union(ms[0]!, ms[k]!);
    // A count over a host set couples the VMs of all its hosts.
    if (c.hard && (c.type === 'maxOnline' || c.type === 'runningCapacity')) {
      const hs = inst.hosts.flatMap((h, i) => (selects(c, h) ? [V + i] : []));
      for (let k = 1; k < hs.length; k++) union(hs[0]!, hs[k]!);
    }
  }
  const parts = new Map<number, { vms: number[]; hosts: number[] }>();
  const get = (r: number) => {
    let p = parts.get(r);
    if (!p) parts.set(r, (p = { vms: [], hosts: [] }));
    return p;
  };
  for (let v = 0; v < V; v++) get(find(v)).vms.push(v);
  for (let h = 0; h < inst.hosts.length; h++) if (parts.has(find(V + h))) get(find(V + h)).hosts.push(h);
  return [...parts.values()];
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

/** A cheap bound on a part's objective: the per-dimension sum bound on hosts times the cheapest host. */
function trivialBound(inst: PackInstance, cost: readonly number[]): number {
  if (!inst.vms.length) return 0;
  let hosts = 1;
  inst.dims.forEach((_, d) => {
    const need = inst.vms.reduce((s, v) => s + v.demand[d]!, 0);
    const caps = inst.hosts.map((h) => h.capacity[d]!).sort((a, b) => b - a);
    let k = 0,
      sum = 0;
    while (sum < need - 1e-9 && k < caps.length) sum += caps[k++]!;
    hosts = Math.max(hosts, k);
  });
  return hosts * Math.min(...cost);
}

/** Solve one part: its model, warm start and solver run; its placement (global host indices). */
async function solvePart(
  inst: PackInstance,
  part: { vms: number[]; hosts: number[] },
  warm: Int32Array | undefined,
  solver: MilpSolver,
  o: OptimizeOptions & { migrationWeight: number },
) {
  const sub = subInstance(inst, part);
  const model = buildMilpModel(sub, o);
  const local = warm ? Int32Array.from(part.vms, (v) => part.hosts.indexOf(warm[v]!)) : undefined;
  // In the symmetry rows' order (when that keeps every constraint, unencoded ones included).
  const canonical = local && canonicalPlacement(model, local);
  const warmCols =
    local && encodePlacement(model, canonical && placementValid(sub, canonical) ? canonical : local);
  let r: MilpSolveResult;
  if (model.unplaceable.length) r = { status: 'infeasible', bound: Infinity };
  else
    r = await solver.solve(model, {
      timeLimitS: o.timeLimitS,
      maxNodes: o.maxNodes,
      mipRelGap: o.mipRelGap,
      warmStart: warmCols,
      signal: o.signal,
    });
  let placement: Int32Array | undefined;
  let fromSolver = false;
  if (r.colValue) {
    const dec = decodePlacement(model, r.colValue);
    if (dec.every((h) => h >= 0) && placementValid(sub, dec)) {
      const better =
        !local || placementObjective(sub, model, dec, o) < placementObjective(sub, model, local, o) - 1e-9;
      if (better) {
        placement = Int32Array.from(dec, (h) => part.hosts[h]!);
        fromSolver = true;
      }
    }
  }
  let bound = Math.max(r.bound, trivialBound(sub, hostCosts(sub, o.hostCost)));
  if (o.hostCost !== 'power' && Number.isFinite(bound)) {
    // objective = hosts + migration term, 0 ≤ migration term ≤ M and hosts integral: hosts ≥ ⌈bound − M⌉.
    const m = sub.vms.reduce(
      (s, v) => s + (v.hostId !== undefined ? o.migrationWeight * Math.max(0, v.moveCostS) : 0),
      0,
    );
    bound = Math.max(bound, Math.ceil(bound - m - 1e-6));
  }
  return { r, placement, fromSolver, bound, unencoded: model.unencoded, unplaceable: model.unplaceable };
}

/** Runs `fns` at most `k` at a time, in order. */
async function pool<T>(fns: (() => Promise<T>)[], k: number): Promise<T[]> {
  const out: T[] = new Array(fns.length);
  let next = 0;
  const lane = async () => {
    while (next < fns.length) {
      const i = next++;
      out[i] = await fns[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(k, fns.length)) }, lane));
  return out;
}

/** The solution record of a placement. */
export function packSolution(inst: PackInstance, hostOfVm: ArrayLike<number>): PackSolution {
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

/**
 * Optimize an instance: fewest hosts (or least idle power), then the cheapest moves, under
 * capacity and the hard constraints.
 * @example await optimize(instance, highsSolver(), { timeLimitS: 10 })
 */
export async function optimize(
  inst: PackInstance,
  solver: MilpSolver,
  o: OptimizeOptions = {},
): Promise<OptimizeResult> {
  const strategy = o.strategy ?? 'milp';
  if (
    o.maxMoves === undefined &&
    (strategy === 'lns' || (strategy === 'auto' && inst.vms.length > LNS_AUTO_THRESHOLD))
  )
    return optimizeLns(inst, solver, o);
  const t0 = o.now?.() ?? 0;
  const elapsed = () => (o.now ? o.now() - t0 : 0);
  const oo = { ...o, migrationWeight: o.migrationWeight ?? defaultMigrationWeight(inst) };
  const adm = admissibility(inst, oo);
  const notes: string[] = [];
  const unplaceable = inst.vms.filter((_, i) => adm[i]!.length === 0);
  if (unplaceable.length) {
    const names = unplaceable.slice(0, 5).map((v) => v.name ?? v.id);
    return {
      status: 'infeasible',
      source: 'none',
      bound: Infinity,
      gap: 1,
      elapsedS: elapsed(),
      notes: [`no admissible host for ${names.join(', ')}${unplaceable.length > 5 ? ', ...' : ''}`],
    };
  }
  const objectiveOf = (p: ArrayLike<number>) =>
    placementObjective(inst, { migrationWeight: oo.migrationWeight }, p, oo);
  const moves = (p: ArrayLike<number>) =>
    inst.vms.filter((v, i) => v.hostId !== undefined && inst.hosts[p[i]!]!.id !== v.hostId).length;
  const given = givenStart(inst, o.start);
  const candidates = [
    ...(given ? [{ hostOfVm: given, heuristic: 'given' as const }] : []),
    ...warmStarts(inst, adm),
  ]
    .filter((c) => o.maxMoves === undefined || moves(c.hostOfVm) <= o.maxMoves)
    .sort((a, b) => objectiveOf(a.hostOfVm) - objectiveOf(b.hostOfVm));
  const warm = candidates[0];
  if (warm) notes.push(`warm start: ${warm.heuristic} (objective ${objectiveOf(warm.hostOfVm).toFixed(4)})`);
  else notes.push('no heuristic found a valid placement to start from');

  const parts =
    o.decompose === false || o.maxMoves !== undefined
      ? [{ vms: inst.vms.map((_, i) => i), hosts: inst.hosts.map((_, i) => i) }]
      : partition(inst, adm);
  const rounds = Math.ceil(parts.length / Math.max(1, o.parallel ?? 2));
  const perPart = { ...oo, timeLimitS: (o.timeLimitS ?? 10) / rounds };
  const results = await pool(
    parts.map((p) => () => solvePart(inst, p, warm?.hostOfVm, solver, perPart)),
    o.parallel ?? 2,
  );

  const unencoded = [...new Set(results.flatMap((r) => r.unencoded))];
  const combined = new Int32Array(inst.vms.length).fill(-1);
  let fromSolver = false,
    fellBack = false;
  results.forEach((r, k) => {
    const p = parts[k]!;
    if (r.placement) {
      fromSolver = true;
      p.vms.forEach((v, i) => (combined[v] = r.placement![i]!));
    } else if (warm) p.vms.forEach((v) => (combined[v] = warm.hostOfVm[v]!));
  });
  let incumbent: Int32Array | undefined = combined.every((h) => h >= 0) ? combined : undefined;
  if (incumbent && fromSolver && !placementValid(inst, incumbent)) {
    // A constraint the model does not encode broke: keep the heuristic's placement instead.
    notes.push(
      `the solver's placement breaks a constraint the model does not encode (${unencoded.join(', ') || 'none listed'}); the warm start is kept`,
    );
    incumbent = warm?.hostOfVm;
    fromSolver = false;
    fellBack = true;
  }
  const statuses = results.map((r) => r.r.status);
  const proven = statuses.every((s) => s === 'optimal');
  const infeasible = statuses.includes('infeasible') && !incumbent;
  let bound = Math.max(
    results.reduce((s, r) => s + r.bound, 0),
    o.knownBound ?? -Infinity,
  );
  for (const r of results) if (r.r.message && r.r.status !== 'optimal') notes.push(`solver: ${r.r.message}`);
  if (unencoded.length) notes.push(`checked after solving, not encoded: ${unencoded.join(', ')}`);
  if (!incumbent)
    return {
      status: infeasible ? 'infeasible' : 'error',
      source: 'none',
      bound,
      gap: 1,
      elapsedS: elapsed(),
      notes,
      unencoded,
      parts: parts.length,
    };
  const objective = objectiveOf(incumbent);
  bound = Math.min(bound, objective);
  const gap = objective > 0 ? Math.max(0, (objective - bound) / objective) : 0;
  return {
    status: proven && !fellBack ? 'optimal' : statuses.includes('error') ? 'error' : 'time-limit',
    incumbent: packSolution(inst, incumbent),
    source: fromSolver ? 'solver' : 'warm-start',
    objective,
    bound,
    gap,
    elapsedS: elapsed(),
    notes,
    unencoded,
    parts: parts.length,
  };
}
