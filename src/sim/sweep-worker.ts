/**
 * The worker thread of a parallel sweep (src/sim/sweep.ts). This module is its own entry: the main
 * thread imports it only for its URL, and the worker loads that URL (a chunk of the CLI's esbuild
 * bundle, or this .ts file under tsx), so the worker runs the very code of the sequential run.
 *
 * The worker keeps one workload at a time (the last day it read): memory stays at one day per worker.
 * Messages in: `{ cell }` (one cell to run). Messages out: `{ type: 'ready' }` once, then per cell
 * `{ type: 'step', index, step, total }` (at most every 200 ms), and `{ type: 'done', index, row, series }` or
 * `{ type: 'error', index, name, message, code? }`.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import type { MilpSolverSync } from '../policies/optimize/solver-port.ts';
import type { SimMode } from './datacenter-sim.ts';
import type { ScenarioSpec } from './scenario.ts';
import type { CellResult, SweepCell } from './run.ts';
import type { Workload } from './workload.ts';

/** This module's URL: what the main thread gives `new Worker`. */
export const SWEEP_WORKER_URL = import.meta.url;

/** Marks a worker started for a sweep (other workers that load this chunk do nothing). */
export const SWEEP_WORKER_KIND = 'nubis-sweep';

/** What every worker of a sweep is started with (structured-clonable). */
export interface SweepWorkerData {
  kind: typeof SWEEP_WORKER_KIND;
  scenario: ScenarioSpec;
  mode: SimMode;
  hosts?: number;
  optimalFreeVms?: number;
  /** Load HiGHS before the first cell (some policy of the grid is `optimal`). */
  milp: boolean;
}

/** A message from a sweep worker. */
export type SweepWorkerMessage =
  | { type: 'ready' }
  | { type: 'step'; index: number; step: number; total: number }
  | ({ type: 'done'; index: number } & CellResult)
  | { type: 'error'; index: number; name: string; message: string; code?: string };

/**
 * Least time between two step messages: each one wakes the main thread, and under CPU contention
 * those wake-ups cost the worker its time slice (a message per few steps cost a third of a worker's
 * CPU in a profile). The progress bar redraws at 10 Hz anyway.
 */
const STEP_MESSAGE_MS = 200;

async function serve(data: SweepWorkerData): Promise<void> {
  const port = parentPort!;
  const { loadWorkload, runCell, workloadKey } = await import('./run.ts');
  let milp: MilpSolverSync | undefined;
  if (data.milp) milp = await (await import('../drivers/highs/highs-sync.ts')).highsSyncSolver();
  let loaded: { key: string; w: Workload } | undefined;
  port.on('message', ({ cell }: { cell: SweepCell }) => {
    try {
      const key = workloadKey(data.scenario, cell);
      if (loaded?.key !== key) {
        loaded = undefined; // let the previous day go before reading the next one
        loaded = { key, w: loadWorkload(data.scenario, cell.day, cell.seed) };
      }
      let last = 0;
      const r = runCell({ ...data, milp }, cell, loaded.w, (step, total) => {
        const now = performance.now();
        if (now - last < STEP_MESSAGE_MS) return;
        last = now;
        port.postMessage({ type: 'step', index: cell.index, step, total } satisfies SweepWorkerMessage);
      });
      port.postMessage({ type: 'done', index: cell.index, ...r } satisfies SweepWorkerMessage);
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      const code = (err as { code?: unknown }).code;
      port.postMessage({
        type: 'error',
        index: cell.index,
        name: err.name,
        message: err.message,
        code: typeof code === 'string' ? code : undefined,
      } satisfies SweepWorkerMessage);
    }
  });
  port.postMessage({ type: 'ready' } satisfies SweepWorkerMessage);
}

if (!isMainThread && (workerData as SweepWorkerData | undefined)?.kind === SWEEP_WORKER_KIND)
  void serve(workerData as SweepWorkerData);
