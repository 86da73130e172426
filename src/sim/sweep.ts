/**
 * Parameter sweeps in parallel: the cells of an experiment's grid (days × seeds × policies) run in
 * `node:worker_threads` workers, `jobs` at a time, and come back as the same rows, in the same
 * order, with the same numbers as `runExperiment` in one thread (only `wallMs` and `peakRssMiB`
 * differ). Each worker reads the days it runs itself, one at a time: memory is about jobs × one day.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import {
  experimentCells,
  experimentSeeds,
  runExperiment,
  seriesKey,
  workloadKey,
  type CellResult,
  type ExperimentOptions,
  type ResultRow,
  type RunOutput,
  type SweepCell,
} from './run.ts';
import { dayName } from './planetlab.ts';
import { parsePolicy } from '../policies/registry.ts';
import type { SweepWorkerData, SweepWorkerMessage } from './sweep-worker.ts';

export interface SweepOptions extends ExperimentOptions {
  /**
   * Worker threads (default: os.availableParallelism()). 1, a grid of one cell, or an
   * `onOptimalRound` callback (which cannot cross threads) run in this thread, as `runExperiment`.
   */
  jobs?: number;
}

/** A cell of the grid failed in a worker; the other workers were stopped. */
export class SweepCellError extends Error {
  constructor(
    readonly cell: SweepCell,
    message: string,
    /** The failed cell's error's `code`, if it had one. */
    readonly causeCode?: string,
  ) {
    super(message);
  }
}

/**
 * The worker threads a grid of `cells` cells gets for a `jobs` option (default: the CPUs); 1 means
 * the cells run in the caller's thread.
 * @throws RangeError when `jobs` is not an integer >= 1
 */
export function sweepJobs(jobs: number | undefined, cells: number): number {
  if (jobs !== undefined && (!Number.isInteger(jobs) || jobs < 1))
    throw new RangeError(`jobs must be an integer >= 1, got ${jobs}`);
  return Math.max(1, Math.min(jobs ?? availableParallelism(), cells));
}

/** A cell as words: `day 20110303, policy lr-rs:1.2, seed 3`. */
export function cellName(cell: SweepCell): string {
  return `${cell.day ? `day ${dayName(cell.day)}, ` : ''}policy ${cell.policy}, seed ${cell.seed}`;
}

/**
 * Runs a worker's module: ESM by URL, registering tsx first when the module is TypeScript (tests,
 * NUBIS_NO_BUNDLE=1; the worker does not inherit the main thread's loader hooks).
 */
const BOOTSTRAP = `const { workerData } = require('node:worker_threads');
(async () => {
  if (workerData.tsx) (await import(workerData.tsx)).register();
  await import(workerData.url);
})();`;

/**
 * The cells not yet given to a worker, grouped by workload (day). A worker takes the next cell of
 * the day it has loaded, else the first cell of a day no worker is on, else the first cell left:
 * each day is read by as few workers as possible (rows are put back in grid order anyway).
 */
export class CellQueue {
  /** Per workload key, its cells left in reverse grid order (the next one is the last). */
  private readonly byKey = new Map<string, SweepCell[]>();
  private readonly workersOn = new Map<string, number>();
  private left: number;

  constructor(
    cells: readonly SweepCell[],
    private readonly keyOf: (cell: SweepCell) => string,
  ) {
    for (const c of cells) {
      const k = keyOf(c);
      if (!this.byKey.has(k)) this.byKey.set(k, []);
      this.byKey.get(k)!.push(c);
    }
    for (const q of this.byKey.values()) q.reverse();
    this.left = cells.length;
  }

  /** The next cell for a worker whose previous cell was `previous` (undefined: none left). */
  take(previous: SweepCell | undefined): SweepCell | undefined {
    if (this.left === 0) return undefined;
    const prevKey = previous && this.keyOf(previous);
    let key: string | undefined;
    if (prevKey !== undefined && this.byKey.has(prevKey)) key = prevKey;
    else {
      for (const k of this.byKey.keys())
        if (!this.workersOn.get(k)) {
          key = k;
          break;
        }
      key ??= this.byKey.keys().next().value;
    }
    if (prevKey !== undefined && prevKey !== key)
      this.workersOn.set(prevKey, this.workersOn.get(prevKey)! - 1);
    if (prevKey !== key) this.workersOn.set(key!, (this.workersOn.get(key!) ?? 0) + 1);
    const q = this.byKey.get(key!)!;
    const cell = q.pop()!;
    if (q.length === 0) this.byKey.delete(key!);
    this.left--;
    return cell;
  }
}

/** Run every cell of the grid, `jobs` at a time in worker threads; rows in `runExperiment`'s order. */
export async function runSweep(o: SweepOptions): Promise<RunOutput> {
  const cells = experimentCells(o);
  const jobs = sweepJobs(o.jobs, cells.length);
  if (jobs <= 1 || o.onOptimalRound) return runExperiment(o);
  const { SWEEP_WORKER_URL, SWEEP_WORKER_KIND } = await import('./sweep-worker.ts');
  const data: SweepWorkerData & { url: string; tsx?: string } = {
    kind: SWEEP_WORKER_KIND,
    scenario: o.scenario,
    mode: o.mode,
    hosts: o.hosts,
    optimalFreeVms: o.optimalFreeVms,
    milp: o.policies.some((p) => parsePolicy(p).type === 'optimal'),
    url: SWEEP_WORKER_URL,
    tsx: SWEEP_WORKER_URL.endsWith('.ts') ? import.meta.resolve('tsx/esm/api') : undefined,
  };
  const results: (CellResult | undefined)[] = new Array(cells.length);
  const running = new Map<number, number>(); // cell index → fraction done
  let finished = 0;
  const queue = new CellQueue(cells, (c) => workloadKey(o.scenario, c));
  const workers: Worker[] = [];
  const progress = (label: string) => {
    let done = finished;
    for (const f of running.values()) done += f;
    o.onProgress?.(done, cells.length, label, finished);
  };
  await new Promise<void>((resolve, reject) => {
    let failed = false;
    const fail = (e: Error) => {
      if (failed) return;
      failed = true;
      for (const w of workers) void w.terminate();
      reject(e);
    };
    const labelOf = (c: SweepCell) => `${c.day ? dayName(c.day) : 'synthetic'} ${c.policy}`;
    const give = (w: Worker, busy: { cell?: SweepCell }) => {
      const cell = queue.take(busy.cell);
      busy.cell = cell;
      if (!cell) {
        void w.terminate();
        if (finished === cells.length) resolve();
        return;
      }
      running.set(cell.index, 0);
      w.postMessage({ cell });
    };
    for (let i = 0; i < jobs; i++) {
      const w = new Worker(BOOTSTRAP, { eval: true, workerData: data });
      workers.push(w);
      const busy: { cell?: SweepCell } = {};
      w.on('message', (m: SweepWorkerMessage) => {
        if (failed) return;
        if (m.type === 'ready') give(w, busy);
        else if (m.type === 'step') {
          running.set(m.index, m.step / Math.max(1, m.total));
          progress(labelOf(cells[m.index]!));
        } else if (m.type === 'done') {
          results[m.index] = { row: m.row, series: m.series };
          running.delete(m.index);
          finished++;
          progress(labelOf(cells[m.index]!));
          if (finished === cells.length) {
            for (const x of workers) void x.terminate();
            resolve();
          } else give(w, busy);
        } else {
          const cell = cells[m.index]!;
          fail(new SweepCellError(cell, `${cellName(cell)}: ${m.message}`, m.code));
        }
      });
      w.on('error', (e) => {
        const cell = busy.cell;
        fail(
          cell
            ? new SweepCellError(cell, `${cellName(cell)}: ${e.message}`)
            : new Error(`A sweep worker failed to start: ${e.message}`),
        );
      });
      w.on('exit', (code) => {
        if (code !== 0 && !failed && finished < cells.length && busy.cell)
          fail(new SweepCellError(busy.cell, `${cellName(busy.cell)}: the worker exited with code ${code}`));
      });
    }
  });
  const severalSeeds = experimentSeeds(o).length > 1;
  const rows: ResultRow[] = [];
  const series = new Map<string, CellResult['series']>();
  for (const r of results) {
    rows.push(r!.row);
    series.set(seriesKey(r!.row.day, r!.row.policy, r!.row.seed, severalSeeds), r!.series);
  }
  return { rows, series };
}
