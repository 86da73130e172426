/**
 * The worker thread's code, as a string run with `new Worker(src, { eval: true })`: the CLI is one
 * esbuild bundle, so a worker file beside the sources would not exist at run time. It instantiates
 * HiGHS (WebAssembly compiled once by the main thread, its own instance per thread), builds the model from CSC arrays with createModel, sets
 * the limits and the warm start, runs, and posts progress (each better incumbent, the dual bound)
 * and the end. A shared flag set by the main thread interrupts it at HiGHS's next checkpoint.
 *
 * Messages: `{ type: 'progress', bound?, objective?, colValue? }` then `{ type: 'done', status,
 * modelStatus, objective?, colValue?, bound, message? }`.
 */
export const HIGHS_WORKER_SOURCE = String.raw`
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { highsPath, wasmModule, model: m, options: o, stop } = workerData;
const flag = new Int32Array(stop);
const post = (msg) => parentPort.postMessage(msg);
(async () => {
  const highs = await require(highsPath)(wasmModule ? { wasmModule } : {});
  const ms = highs.constants.modelStatus;
  const cb = highs.constants.callbackType;
  const inf = (x) => (x === null ? Infinity : x === -1e300 ? -Infinity : x);
  const model = highs.createModel({
    numCols: m.numCols,
    numRows: m.numRows,
    offset: m.offset,
    colCost: m.colCost,
    colLower: m.colLower,
    colUpper: m.colUpper,
    rowLower: m.rowLower.map((x) => (x === -Infinity ? -highs.infinity : x)),
    rowUpper: m.rowUpper.map((x) => (x === Infinity ? highs.infinity : x)),
    matrix: { format: 'csc', numRows: m.numRows, numCols: m.numCols, starts: m.starts, indices: m.indices, values: m.values },
    integrality: o.relaxation ? undefined : m.integrality,
  });
  try {
    const opts = { output_flag: false, mip_rel_gap: o.mipRelGap ?? 1e-6 };
    if (o.timeLimitS !== undefined) opts.time_limit = o.timeLimitS;
    if (o.maxNodes !== undefined) opts.mip_max_nodes = o.maxNodes;
    model.options.set(opts);
    if (o.warmStart && !o.relaxation) model.setSolution({ colValue: o.warmStart });
    let bound = -Infinity;
    const progress = (data) => {
      const b = data && data.mip_dual_bound;
      if (typeof b === 'number' && Number.isFinite(b) && b > bound) {
        bound = b;
        post({ type: 'progress', bound });
      }
    };
    const stopNow = (e) => {
      progress(e.data);
      if (Atomics.load(flag, 0) === 1) e.interrupt();
    };
    const run = model.run({
      [cb.mipInterrupt]: stopNow,
      [cb.simplexInterrupt]: (e) => {
        if (Atomics.load(flag, 0) === 1) e.interrupt();
      },
      [cb.mipImprovingSolution]: (e) => {
        progress(e.data);
        if (e.data.mip_solution)
          post({ type: 'progress', objective: e.data.objective_function_value, colValue: e.data.mip_solution });
      },
    });
    const st = run.modelStatus;
    const status =
      st === ms.optimal ? 'optimal'
      : st === ms.infeasible ? 'infeasible'
      : st === ms.timeLimit || st === ms.iterationLimit || st === ms.solutionLimit ? 'time-limit'
      : st === ms.interrupted ? 'interrupted'
      : st === ms.empty ? 'optimal'
      : 'error';
    const primal = Number(model.info.get('primal_solution_status')) === 2;
    const objective = primal ? model.getObjectiveValue() : undefined;
    let dual = bound;
    if (o.relaxation) dual = status === 'optimal' ? objective : -Infinity;
    else {
      try {
        const b = Number(model.info.get('mip_dual_bound'));
        if (Number.isFinite(b)) dual = Math.max(dual, b);
      } catch {}
      if (status === 'optimal' && objective !== undefined) dual = Math.max(dual, objective - Math.abs(objective) * (o.mipRelGap ?? 1e-6));
    }
    post({
      type: 'done',
      status,
      modelStatus: st,
      objective,
      colValue: primal ? model.getSolution().colValue : undefined,
      bound: dual,
      message: status === 'error' ? 'HiGHS ended with model status ' + st : undefined,
    });
  } finally {
    model.dispose();
  }
})().catch((e) => post({ type: 'done', status: 'error', bound: -Infinity, message: String(e && e.message || e) }));
`;
