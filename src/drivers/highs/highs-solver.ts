/**
 * HiGHS (WebAssembly) in a worker thread, one worker per solve: the event loop stays free while
 * branch-and-bound runs. Cancelling (AbortSignal) asks the worker to stop at HiGHS's next
 * checkpoint and, if it does not answer within the grace period, terminates it; a hard deadline
 * (time limit + grace) does the same for a stuck solve. Either way the best columns and bound
 * known so far are returned (the caller falls back to its warm start when there are none).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { MilpModel } from '../../policies/optimize/milp-model.ts';
import type { MilpSolveOptions, MilpSolveResult, MilpSolver } from '../../policies/optimize/solver-port.ts';
import { HIGHS_WORKER_SOURCE } from './highs-worker-source.ts';

/** How the worker is run. */
export interface HighsSolverOptions {
  /** Seconds a cancelled or overdue worker gets to answer before it is terminated (default 2). */
  graceS?: number;
  /** Seconds past the time limit before a solve is cut off (default 10; no deadline without a limit). */
  deadlineSlackS?: number;
}

type Msg =
  | { type: 'progress'; bound?: number; objective?: number; colValue?: Float64Array }
  | {
      type: 'done';
      status: MilpSolveResult['status'];
      objective?: number;
      colValue?: Float64Array;
      bound: number;
      message?: string;
    };

let highsPath: string | undefined;
let wasmModule: Promise<WebAssembly.Module | undefined> | undefined;

/** HiGHS's WebAssembly, compiled once per process and shared with every worker (undefined: each compiles its own). */
export function compiledHighs(): Promise<WebAssembly.Module | undefined> {
  wasmModule ??= WebAssembly.compile(
    readFileSync(createRequire(import.meta.url).resolve('highs/runtime')),
  ).catch(() => undefined);
  return wasmModule;
}

/**
 * Solve one MILP in a fresh worker.
 * @example await solveMilp(buildMilpModel(inst), { timeLimitS: 10, warmStart })
 */
export async function solveMilp(
  model: MilpModel,
  o: MilpSolveOptions = {},
  w: HighsSolverOptions = {},
): Promise<MilpSolveResult> {
  highsPath ??= createRequire(import.meta.url).resolve('highs');
  const compiled = await compiledHighs();
  const graceMs = (w.graceS ?? 2) * 1000;
  const stop = new SharedArrayBuffer(4);
  const flag = new Int32Array(stop);
  const { signal, ...rest } = o;
  return new Promise<MilpSolveResult>((resolve) => {
    let best: { objective?: number; colValue?: Float64Array } = {};
    let bound = -Infinity;
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const worker = new Worker(HIGHS_WORKER_SOURCE, {
      eval: true,
      workerData: { highsPath, wasmModule: compiled, model: plain(model), options: rest, stop },
    });
    const finish = (r: MilpSolveResult) => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      signal?.removeEventListener('abort', onAbort);
      void worker.terminate();
      resolve(r);
    };
    // What is known when the worker will not say more: its last incumbent and bound.
    const cutOff = (why: string) =>
      finish({
        status: 'interrupted',
        colValue: best.colValue,
        objective: best.objective,
        bound,
        message: why,
      });
    const stopWorker = (why: string) => {
      Atomics.store(flag, 0, 1);
      timers.push(setTimeout(() => cutOff(why), graceMs));
    };
    const onAbort = () => stopWorker('cancelled');
    worker.on('message', (m: Msg) => {
      if (m.type === 'progress') {
        if (m.bound !== undefined) bound = Math.max(bound, m.bound);
        if (m.colValue && (best.objective === undefined || (m.objective ?? Infinity) < best.objective))
          best = { objective: m.objective, colValue: m.colValue };
        return;
      }
      const status = m.status === 'interrupted' && !signal?.aborted ? 'time-limit' : m.status;
      const own = m.colValue !== undefined && m.objective !== undefined;
      finish({
        status,
        colValue: own ? m.colValue : best.colValue,
        objective: own ? m.objective : best.objective,
        bound: Math.max(bound, m.bound),
        message: m.message ?? (m.status === 'interrupted' ? 'cancelled' : undefined),
      });
    });
    worker.on('error', (e) => finish({ status: 'error', bound, message: e.message }));
    worker.on('exit', (code) => cutOff(`the solver's worker exited (code ${code})`));
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    if (o.timeLimitS !== undefined) {
      const deadlineS = o.timeLimitS + (w.deadlineSlackS ?? 10);
      timers.push(setTimeout(() => stopWorker(`no answer ${deadlineS} s after the start`), deadlineS * 1000));
    }
  });
}

/** The model's arrays only (structured clone copies typed arrays; no functions or maps). */
export function plain(m: MilpModel) {
  const { numCols, numRows, offset, colCost, colLower, colUpper, integrality } = m;
  const { rowLower, rowUpper, starts, indices, values } = m;
  return {
    numCols,
    numRows,
    offset,
    colCost,
    colLower,
    colUpper,
    integrality,
    rowLower,
    rowUpper,
    starts,
    indices,
    values,
  };
}

/** The solver port of the optimizer, backed by HiGHS workers. */
export function highsSolver(w: HighsSolverOptions = {}): MilpSolver {
  return { solve: (model, o) => solveMilp(model, o, w) };
}
