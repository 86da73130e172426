/**
 * HiGHS (WebAssembly) in the caller's thread: once the module is loaded (asynchronously, before a
 * simulation starts), `Model.run()` is synchronous, so the simulator's consolidation step can solve
 * inside its clock callbacks. Limits are HiGHS's own: `mip_max_nodes` (deterministic, the default
 * for the simulator) or `time_limit` (wall clock: not reproducible). The worker driver
 * (highs-solver.ts) is the one for the control plane, whose event loop must stay free.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { MilpModel } from '../../policies/optimize/milp-model.ts';
import type {
  MilpSolveOptions,
  MilpSolveResult,
  MilpSolverSync,
} from '../../policies/optimize/solver-port.ts';

/* The parts of the highs package's API used here (it is loaded with require: the CLI bundle keeps packages external). */
interface HighsModel {
  options: { set(o: Record<string, unknown>): void };
  setSolution(s: { colValue: Float64Array }): void;
  run(): { modelStatus: number };
  info: { get(name: string): unknown };
  getObjectiveValue(): number;
  getSolution(): { colValue: ArrayLike<number> };
  dispose(): void;
}
interface Highs {
  infinity: number;
  constants: { modelStatus: Record<string, number> };
  createModel(data: Record<string, unknown>): HighsModel;
}

let loaded: Promise<Highs> | undefined;

/** Load HiGHS once per process (its WebAssembly compiled from the package's runtime file). */
function loadHighs(): Promise<Highs> {
  loaded ??= (async () => {
    const req = createRequire(import.meta.url);
    const wasmModule = await WebAssembly.compile(readFileSync(req.resolve('highs/runtime')));
    const loader = req('highs') as (o: { wasmModule: WebAssembly.Module }) => Promise<Highs>;
    return loader({ wasmModule });
  })();
  return loaded;
}

/** Solve one MILP with a loaded HiGHS, synchronously. */
function solveSync(highs: Highs, m: MilpModel, o: Omit<MilpSolveOptions, 'signal'>): MilpSolveResult {
  const ms = highs.constants.modelStatus;
  const inf = highs.infinity;
  let model: HighsModel;
  try {
    model = highs.createModel({
      numCols: m.numCols,
      numRows: m.numRows,
      offset: m.offset,
      colCost: m.colCost,
      colLower: m.colLower,
      colUpper: m.colUpper,
      rowLower: m.rowLower.map((x) => (x === -Infinity ? -inf : x)),
      rowUpper: m.rowUpper.map((x) => (x === Infinity ? inf : x)),
      matrix: {
        format: 'csc',
        numRows: m.numRows,
        numCols: m.numCols,
        starts: m.starts,
        indices: m.indices,
        values: m.values,
      },
      integrality: o.relaxation ? undefined : m.integrality,
    });
  } catch (e) {
    return { status: 'error', bound: -Infinity, message: (e as Error).message };
  }
  try {
    const opts: Record<string, unknown> = { output_flag: false, mip_rel_gap: o.mipRelGap ?? 1e-6 };
    if (o.timeLimitS !== undefined) opts.time_limit = o.timeLimitS;
    if (o.maxNodes !== undefined) opts.mip_max_nodes = o.maxNodes;
    model.options.set(opts);
    if (o.warmStart && !o.relaxation) model.setSolution({ colValue: o.warmStart });
    const st = model.run().modelStatus;
    const status: MilpSolveResult['status'] =
      st === ms.optimal || st === ms.empty
        ? 'optimal'
        : st === ms.infeasible
          ? 'infeasible'
          : st === ms.timeLimit || st === ms.iterationLimit || st === ms.solutionLimit
            ? 'time-limit'
            : st === ms.interrupted
              ? 'interrupted'
              : 'error';
    const primal = Number(model.info.get('primal_solution_status')) === 2;
    const objective = primal ? model.getObjectiveValue() : undefined;
    let bound = -Infinity;
    if (o.relaxation) bound = status === 'optimal' && objective !== undefined ? objective : -Infinity;
    else {
      const b = Number(model.info.get('mip_dual_bound'));
      if (Number.isFinite(b)) bound = b;
      if (status === 'optimal' && objective !== undefined)
        bound = Math.max(bound, objective - Math.abs(objective) * (o.mipRelGap ?? 1e-6));
    }
    return {
      status,
      colValue: primal ? Float64Array.from(model.getSolution().colValue) : undefined,
      objective,
      bound,
      message: status === 'error' ? `HiGHS ended with model status ${st}` : undefined,
    };
  } catch (e) {
    return { status: 'error', bound: -Infinity, message: (e as Error).message };
  } finally {
    model.dispose();
  }
}

/**
 * A synchronous MILP solver backed by HiGHS in this thread; await it once before the run.
 * @example const milp = await highsSyncSolver(); simulate({ ...input, policy: optimalPolicy(milp) })
 */
export async function highsSyncSolver(): Promise<MilpSolverSync> {
  const highs = await loadHighs();
  return { solve: (model, o) => solveSync(highs, model, o) };
}
