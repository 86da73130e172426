/**
 * A pool of long-lived HiGHS worker threads for many small solves (the LNS's sub-MILPs): starting a
 * worker and instantiating HiGHS cost more than a small solve (230 ms against 90 ms measured), so
 * each worker takes job after job, running the one-shot worker code of highs-worker-source.ts per
 * job with its own `workerData` and port, and keeps its HiGHS instance for a bounded number of
 * jobs (each builds and disposes its own model). A worker that overruns its deadline
 * or is cancelled and does not answer is terminated and replaced; the best incumbent and bound it
 * posted are returned, as with solveMilp().
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { MilpModel } from '../../policies/optimize/milp-model.ts';
import type { MilpSolveOptions, MilpSolveResult, MilpSolver } from '../../policies/optimize/solver-port.ts';
import { compiledHighs, plain, type HighsSolverOptions } from './highs-solver.ts';
import { HIGHS_WORKER_SOURCE } from './highs-worker-source.ts';

/** Jobs one HiGHS instance serves before a fresh one is made (bounds what a leak could cost). */
const JOBS_PER_INSTANCE = 50;

/**
 * Runs the one-shot worker code once per message, with that job's data and a port tagged with its
 * id; the HiGHS instance (WebAssembly instantiation costs more than a small solve) is shared by
 * JOBS_PER_INSTANCE jobs in a row (each job builds and disposes its own model).
 */
const POOL_SOURCE = String.raw`
'use strict';
const { parentPort } = require('node:worker_threads');
const body = new Function('require', ${JSON.stringify(HIGHS_WORKER_SOURCE)});
let cached, uses = 0;
parentPort.on('message', ({ id, data }) => {
  const port = { postMessage: (msg) => parentPort.postMessage({ id, msg }) };
  body((name) => {
    if (name === 'node:worker_threads') return { parentPort: port, workerData: data };
    if (name !== data.highsPath) return require(name);
    const factory = require(name);
    if (++uses > ${JOBS_PER_INSTANCE}) [cached, uses] = [undefined, 1];
    return (opts) => (cached ??= factory(opts));
  });
});
`;

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

/** A MilpSolver backed by a pool, and the way to stop its workers. */
export interface HighsPool extends MilpSolver {
  /** Terminates every worker (pending solves end as interrupted). */
  close(): Promise<void>;
}

/**
 * A pool of `size` workers (default 2).
 * @example const pool = highsPool({ size: 2 }); await optimize(inst, pool, { strategy: 'lns' }); await pool.close();
 */
export function highsPool(o: HighsSolverOptions & { size?: number } = {}): HighsPool {
  const size = Math.max(1, o.size ?? 2);
  const highsPath = createRequire(import.meta.url).resolve('highs');
  const idle: Worker[] = [];
  const all = new Set<Worker>();
  const waiting: ((w: Worker) => void)[] = [];
  const handlers = new Map<number, (m: Msg) => void>();
  let nextId = 0;
  const spawn = () => {
    const w = new Worker(POOL_SOURCE, { eval: true });
    w.unref();
    w.on('message', ({ id, msg }: { id: number; msg: Msg }) => handlers.get(id)?.(msg));
    all.add(w);
    return w;
  };
  const acquire = (): Promise<Worker> => {
    const w = idle.pop();
    if (w) return Promise.resolve(w);
    if (all.size < size) return Promise.resolve(spawn());
    return new Promise((res) => waiting.push(res));
  };
  const release = (w: Worker, broken: boolean) => {
    if (broken) {
      all.delete(w);
      void w.terminate();
      if (!waiting.length) return;
      w = spawn();
    }
    const next = waiting.shift();
    if (next) next(w);
    else {
      w.unref(); // an idle worker does not keep the process alive
      idle.push(w);
    }
  };

  const solve = async (model: MilpModel, so: MilpSolveOptions = {}): Promise<MilpSolveResult> => {
    const compiled = await compiledHighs();
    const worker = await acquire();
    worker.ref();
    const id = nextId++;
    const stop = new SharedArrayBuffer(4);
    const flag = new Int32Array(stop);
    const { signal, ...rest } = so;
    const graceMs = (o.graceS ?? 2) * 1000;
    return new Promise<MilpSolveResult>((resolve) => {
      let best: { objective?: number; colValue?: Float64Array } = {};
      let bound = -Infinity;
      let settled = false;
      const timers: NodeJS.Timeout[] = [];
      const finish = (r: MilpSolveResult, broken: boolean) => {
        if (settled) return;
        settled = true;
        for (const t of timers) clearTimeout(t);
        signal?.removeEventListener('abort', onAbort);
        handlers.delete(id);
        worker.off('exit', onExit);
        release(worker, broken);
        resolve(r);
      };
      const cutOff = (why: string) =>
        finish(
          { status: 'interrupted', colValue: best.colValue, objective: best.objective, bound, message: why },
          true,
        );
      const stopWorker = (why: string) => {
        Atomics.store(flag, 0, 1);
        timers.push(setTimeout(() => cutOff(why), graceMs));
      };
      const onAbort = () => stopWorker('cancelled');
      const onExit = (code: number) => cutOff(`the solver's worker exited (code ${code})`);
      worker.on('exit', onExit);
      handlers.set(id, (m) => {
        if (m.type === 'progress') {
          if (m.bound !== undefined) bound = Math.max(bound, m.bound);
          if (m.colValue && (best.objective === undefined || (m.objective ?? Infinity) < best.objective))
            best = { objective: m.objective, colValue: m.colValue };
          return;
        }
        const status = m.status === 'interrupted' && !signal?.aborted ? 'time-limit' : m.status;
        const own = m.colValue !== undefined && m.objective !== undefined;
        finish(
          {
            status,
            colValue: own ? m.colValue : best.colValue,
            objective: own ? m.objective : best.objective,
            bound: Math.max(bound, m.bound),
            message: m.message ?? (m.status === 'interrupted' ? 'cancelled' : undefined),
          },
          false,
        );
      });
      worker.postMessage({
        id,
        data: { highsPath, wasmModule: compiled, model: plain(model), options: rest, stop },
      });
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
      if (so.timeLimitS !== undefined) {
        const deadlineS = so.timeLimitS + (o.deadlineSlackS ?? 10);
        timers.push(
          setTimeout(() => stopWorker(`no answer ${deadlineS} s after the start`), deadlineS * 1000),
        );
      }
    });
  };
  return {
    solve,
    async close() {
      const ws = [...all];
      all.clear();
      idle.length = 0;
      await Promise.all(ws.map((w) => w.terminate()));
    },
  };
}
