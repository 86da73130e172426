/**
 * The exact optimizer, synchronous: for the simulator, whose consolidation step runs inside a
 * synchronous clock callback. Same model (milp-model.ts), warm starts (warm-start.ts), decoding and
 * verification (milp-solution.ts, placementValid) as the asynchronous `optimize()`, without the
 * split into parts and the parallel workers: one model, one synchronous solve. Its default limit is
 * deterministic (HiGHS `mip_max_nodes`), so the same instance always gives the same answer; a
 * wall-clock `timeLimitS` is honoured when given, and then the answer depends on the machine.
 * Pure orchestration: the solver is a port (solver-port.ts).
 */
import type { OptimizeResult, PackInstance } from './instance.ts';
import {
  admissibility,
  buildMilpModel,
  defaultMigrationWeight,
  type MilpModelOptions,
} from './milp-model.ts';
import { canonicalPlacement, decodePlacement, encodePlacement, placementObjective } from './milp-solution.ts';
import { packSolution } from './optimize.ts';
import type { MilpSolverSync } from './solver-port.ts';
import { placementValid, warmStarts } from './warm-start.ts';

/** Options of one synchronous run; every field is optional. */
export interface OptimizeSyncOptions extends MilpModelOptions {
  /** Branch-and-bound nodes (HiGHS `mip_max_nodes`; default 200): the deterministic limit. */
  maxNodes?: number;
  /** Wall-clock limit, seconds: only when asked for (the run is then not reproducible). */
  timeLimitS?: number;
  /** Relative gap at which the solve stops (default 1e-6). */
  mipRelGap?: number;
}

/** Default branch-and-bound node limit of a synchronous run. */
export const DEFAULT_MAX_NODES = 200;

/**
 * Optimize an instance synchronously: warm start from the best valid heuristic, one MILP solve
 * (node-limited), the solver's placement kept only if it is valid and better.
 * @example optimizeSync(instance, await highsSyncSolver(), { maxNodes: 200, free })
 */
export function optimizeSync(
  inst: PackInstance,
  solver: MilpSolverSync,
  o: OptimizeSyncOptions = {},
): OptimizeResult {
  const oo = { ...o, migrationWeight: o.migrationWeight ?? defaultMigrationWeight(inst) };
  const adm = admissibility(inst, oo);
  const notes: string[] = [];
  if (adm.some((hs) => hs.length === 0))
    return {
      status: 'infeasible',
      source: 'none',
      bound: Infinity,
      gap: 1,
      elapsedS: 0,
      notes: ['a VM has no admissible host'],
    };
  const objectiveOf = (p: ArrayLike<number>) =>
    placementObjective(inst, { migrationWeight: oo.migrationWeight }, p, oo);
  const moves = (p: ArrayLike<number>) =>
    inst.vms.filter((v, i) => v.hostId !== undefined && inst.hosts[p[i]!]!.id !== v.hostId).length;
  const warm = warmStarts(inst, adm)
    .filter((c) => o.maxMoves === undefined || moves(c.hostOfVm) <= o.maxMoves)
    .sort((a, b) => objectiveOf(a.hostOfVm) - objectiveOf(b.hostOfVm))[0];
  if (warm) notes.push(`warm start: ${warm.heuristic} (objective ${objectiveOf(warm.hostOfVm).toFixed(4)})`);

  const model = buildMilpModel(inst, oo);
  const canonical = warm && canonicalPlacement(model, warm.hostOfVm);
  const warmCols =
    warm && encodePlacement(model, canonical && placementValid(inst, canonical) ? canonical : warm.hostOfVm);
  const r = model.unplaceable.length
    ? { status: 'infeasible' as const, bound: Infinity, colValue: undefined, message: undefined }
    : solver.solve(model, {
        maxNodes: o.timeLimitS === undefined ? (o.maxNodes ?? DEFAULT_MAX_NODES) : o.maxNodes,
        timeLimitS: o.timeLimitS,
        mipRelGap: o.mipRelGap,
        warmStart: warmCols,
      });
  let incumbent: ArrayLike<number> | undefined = warm?.hostOfVm;
  let fromSolver = false;
  if (r.colValue) {
    const dec = decodePlacement(model, r.colValue);
    if (dec.every((h) => h >= 0) && placementValid(inst, dec)) {
      if (!incumbent || objectiveOf(dec) < objectiveOf(incumbent) - 1e-9) {
        incumbent = dec;
        fromSolver = true;
      }
    } else notes.push("the solver's placement breaks a capacity or constraint check; the warm start is kept");
  }
  if (r.message) notes.push(`solver: ${r.message}`);
  if (model.unencoded.length) notes.push(`checked after solving, not encoded: ${model.unencoded.join(', ')}`);
  if (!incumbent)
    return {
      status: r.status === 'infeasible' ? 'infeasible' : 'error',
      source: 'none',
      bound: r.bound,
      gap: 1,
      elapsedS: 0,
      notes,
      unencoded: model.unencoded,
      parts: 1,
    };
  const objective = objectiveOf(incumbent);
  const bound = Math.min(Number.isFinite(r.bound) ? r.bound : -Infinity, objective);
  return {
    status: r.status === 'optimal' ? 'optimal' : r.status === 'error' ? 'error' : 'time-limit',
    incumbent: packSolution(inst, incumbent),
    source: fromSolver ? 'solver' : 'warm-start',
    objective,
    bound,
    gap: objective > 0 && Number.isFinite(bound) ? Math.max(0, (objective - bound) / objective) : 1,
    elapsedS: 0,
    notes,
    unencoded: model.unencoded,
    parts: 1,
  };
}
