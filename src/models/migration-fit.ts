/**
 * Fit the migration models' calibration to recorded real runs, and evaluate them: per-mode errors,
 * leave-one-configuration-out cross-validation. Pure functions (the benchmark records and reads runs).
 */
import {
  CALIBRATED_MODES,
  type CalibratedMode,
  type MigrationCalibration,
  type ModeCalibration,
} from './migration-calibration.ts';
import { predictMigration, type MigrationModelOptions, type MigrationPrediction } from './migration.ts';

/** One real migration as `npm run bench:migration` records it (bench/results/migration*.json). */
export interface RecordedRun {
  /**
   * Benchmark mode name: stop-and-copy, precopy, postcopy, precopy+multifd-zstd, precopy+xbzrle,
   * precopy+auto-converge.
   */
  mode: string;
  /** precopy+xbzrle: XBZRLE's cache, MiB. */
  xbzrleCacheMiB?: number;
  /** Which repetition of its configuration this run was (0-based; absent: run once). */
  repeat?: number;
  memMiB: number;
  /** The workload's working set and the rate the guest's dirtier was told to dirty it, MiB, MiB/s. */
  wwsMiB: number;
  dirtyMiBps: number;
  bandwidthMbps: number;
  accel: string;
  /** Non-zero 4 KiB pages of the guest's RAM counted just before the migration, MiB. */
  nonZeroMiB: number;
  /** QEMU calc-dirty-rate (page sampling under TCG) just before the migration, MiB/s. */
  dirtySampledMiBps: number;
  /** The rate the guest really dirtied from the migration's start to its first heartbeat after, MiB/s. */
  guestDirtyMiBps?: number;
  /** The machine's 1-, 5- and 15-minute load averages at the start, and its CPUs. */
  loadAvg: number[];
  cpus?: number;
  converged: boolean;
  guestOk: boolean;
  measured?: {
    totalMs: number;
    downtimeMs: number;
    bytes: number;
    rounds: number;
    modeUsed?: string;
    normalPages?: number;
    normalBytes?: number;
    zeroPages?: number;
    mbps?: number;
    setupMs?: number;
    precopyBytes?: number;
    downtimeBytes?: number;
    postcopyBytes?: number;
    multifdBytes?: number;
  };
  error?: string;
}

/** The model's options for a benchmark mode (the benchmark's driver settings, as the model sees them). */
export function modelOptions(mode: string, r?: Pick<RecordedRun, 'xbzrleCacheMiB'>): MigrationModelOptions {
  switch (mode) {
    case 'precopy+xbzrle':
      return {
        mode: 'precopy',
        maxDowntimeMs: 300,
        xbzrle: true,
        ...(r?.xbzrleCacheMiB ? { xbzrleCacheMiB: r.xbzrleCacheMiB } : {}),
      };
    case 'precopy+auto-converge':
      return { mode: 'precopy', maxDowntimeMs: 300, autoConverge: true };
    case 'stop-and-copy':
      return { mode: 'stop-and-copy' };
    case 'postcopy':
      return { mode: 'postcopy', postcopyAfterMs: 1000 };
    case 'precopy+multifd-zstd':
      return { mode: 'precopy', maxDowntimeMs: 300, multifdZstd: true };
    default:
      return { mode: 'precopy', maxDowntimeMs: 300 };
  }
}

/**
 * The dirty rate a planner would use for a run: QEMU's page-sampling reading times the calibrated
 * gain (the workload's nominal rate when the reading is missing).
 */
export function plannedDirty(r: RecordedRun, cal: MigrationCalibration): number {
  return Number.isFinite(r.dirtySampledMiBps) ? r.dirtySampledMiBps * cal.dirtySampleGain : r.dirtyMiBps;
}

/** A run's host load per CPU (1-min load average / CPUs; 2 CPUs when not recorded); NaN if unknown. */
export const loadPerCpu = (r: RecordedRun) => (r.loadAvg[0] ?? NaN) / (r.cpus ?? 2);

/** Predict a recorded run with a calibration, from what was measured before it (never after). */
export function predictRun(r: RecordedRun, cal: MigrationCalibration): MigrationPrediction {
  return predictMigration(
    {
      memMiB: r.memMiB,
      usedMiB: Number.isFinite(r.nonZeroMiB) ? r.nonZeroMiB : r.memMiB * cal.nonZeroShare,
      wwsMiB: r.wwsMiB,
      dirtyMiBps: plannedDirty(r, cal),
      bandwidthMbps: r.bandwidthMbps,
      hostLoadPerCpu: loadPerCpu(r),
    },
    modelOptions(r.mode, r),
    cal,
  );
}

/** Runs of the benchmark with a timeout: a predicted pre-copy longer than this did not converge. */
const TIMEOUT_MS = 30_000;
/** Downtimes are compared with this much slack, ms: a 2-ms vs 5-ms difference is noise, not error. */
const DOWN_SLACK_MS = 20;

/**
 * Loss of one prediction against one run: robust (soft-L1) log errors of total time, bytes and
 * downtime, so that a run slowed by the machine's other load does not drag the fit. A run that timed
 * out only says it took longer than the timeout: a prediction under it costs its log distance.
 */
function loss(r: RecordedRun, p: MigrationPrediction): number {
  const predictedOk = p.converged && p.totalMs <= TIMEOUT_MS;
  const l = (a: number, b: number) => {
    const e = Math.log(Math.max(a, 1e-9) / Math.max(b, 1e-9));
    return 2 * (Math.sqrt(1 + (e / 0.2) ** 2) - 1) * 0.04;
  };
  if (!r.converged || !r.measured) return predictedOk ? 1 + l(p.totalMs, TIMEOUT_MS) : 0;
  if (!predictedOk) return 4;
  const m = r.measured;
  return (
    l(p.totalMs, m.totalMs) +
    l(p.bytes, m.bytes) +
    0.5 * l(p.downtimeMs + DOWN_SLACK_MS, m.downtimeMs + DOWN_SLACK_MS)
  );
}

/**
 * Fitted parameters of a mode and their search box (inside the calibration file's valid ranges): each
 * maps to an unconstrained number through a logistic curve, on a log scale between the bounds. The
 * bounds are physical, so that a parameter the runs cannot identify stays plausible instead of
 * fitting noise: no mode moves memory faster than 5 GiB/s on these hosts (multifd zstd measured
 * ~2 GiB/s uncapped), none scans zero pages slower than 500 MiB/s (a loaded CPU still tests a page
 * for zero in microseconds: slower fits were the machine's load, confounded with guest size), the
 * link limiter delivers 0.5–2× its cap, load at most quarters the stream per unit of load per CPU.
 * The dirty share may be tiny: multifd's two zstd threads take both CPUs from the guest's vCPU (its
 * runs re-send almost nothing at 100 MiB/s of dirtying). A mode fits only what it uses: stop-and-copy
 * has no dirty share or switch-over, post-copy no switch-over, only compressed modes a wire ratio;
 * multifd takes pre-copy's switch-over (its runs are too short to identify it).
 */
export function fitBounds(mode: CalibratedMode): [keyof ModeCalibration, number, number][] {
  const all: [keyof ModeCalibration, number, number][] = [
    ['streamMiBps', 10, 5000],
    ['linkEfficiency', 0.5, 2],
    ['setupMs', 1, 2000],
    ['zeroScanMiBps', 500, 1e5],
    ['loadSensitivity', 0.001, 3],
    ['downtimeFloorMs', 0.1, 500],
    ['dirtyShare', 0.01, 1],
    ['switchoverShare', 0.02, 1],
    ['wireRatio', 0.01, 1.5],
  ];
  return all.filter(
    ([k]) =>
      (k !== 'wireRatio' || mode === 'precopy+multifd-zstd') &&
      (k !== 'dirtyShare' || mode !== 'stop-and-copy') &&
      (k !== 'switchoverShare' || mode === 'precopy'),
  );
}

/** Bounds of the global factors the option modes fit (XBZRLE's delta ratio, auto-converge's step). */
export const OPTION_BOUNDS = { xbzrleRatio: [0.02, 1], autoConvergeFactor: [0.3, 1] } as const;

const logistic = (x: number) => 1 / (1 + Math.exp(-x));
const fromFree = (x: number, lo: number, hi: number) => lo * (hi / lo) ** logistic(x);
const toFree = (v: number, lo: number, hi: number) => {
  const u = Math.min(
    0.999,
    Math.max(0.001, Math.log(Math.min(hi, Math.max(lo, v)) / lo) / Math.log(hi / lo)),
  );
  return Math.log(u / (1 - u));
};

/**
 * Nelder–Mead simplex minimisation (Nelder & Mead, Computer Journal 1965), standard coefficients.
 * @returns the best point found within `maxEvals` evaluations
 */
export function nelderMead(f: (x: number[]) => number, x0: number[], step = 0.5, maxEvals = 4000): number[] {
  const n = x0.length;
  let pts = [x0, ...x0.map((_, k) => x0.map((v, j) => (j === k ? v + step : v)))].map((x) => ({
    x,
    y: f(x),
  }));
  let evals = n + 1;
  while (evals < maxEvals) {
    pts.sort((a, b) => a.y - b.y);
    if (Math.abs(pts[n]!.y - pts[0]!.y) < 1e-10) break;
    const c = x0.map((_, j) => pts.slice(0, n).reduce((s, p) => s + p.x[j]!, 0) / n);
    const at = (t: number) => c.map((v, j) => v + t * (pts[n]!.x[j]! - v));
    const r = at(-1);
    const yr = f(r);
    evals++;
    if (yr < pts[0]!.y) {
      const e = at(-2);
      const ye = f(e);
      evals++;
      pts[n] = ye < yr ? { x: e, y: ye } : { x: r, y: yr };
    } else if (yr < pts[n - 1]!.y) pts[n] = { x: r, y: yr };
    else {
      const k = at(yr < pts[n]!.y ? -0.5 : 0.5);
      const yk = f(k);
      evals++;
      if (yk < Math.min(yr, pts[n]!.y)) pts[n] = { x: k, y: yk };
      else {
        pts = pts.map((p, i) => {
          if (i === 0) return p;
          const x = p.x.map((v, j) => pts[0]!.x[j]! + 0.5 * (v - pts[0]!.x[j]!));
          return { x, y: f(x) };
        });
        evals += n;
      }
    }
  }
  pts.sort((a, b) => a.y - b.y);
  return pts[0]!.x;
}

const median = (xs: number[]) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length
    ? s.length % 2
      ? s[(s.length - 1) / 2]!
      : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
    : NaN;
};

/**
 * Fit a calibration to recorded runs. The global factors are medians: the dirty-sampling gain is the
 * median of nominal / sampled rate over dirtying runs, the non-zero share the median of counted
 * non-zero memory / RAM. Each mode's parameters are then fitted by least squares on log errors of
 * total time, bytes and downtime (Nelder–Mead from `start`, restarted once from its result);
 * modes without runs keep `start`'s parameters. The compression ratio is free for compressed
 * modes only.
 */
export function fitCalibration(runs: RecordedRun[], start: MigrationCalibration): MigrationCalibration {
  const gain = median(
    runs
      .filter((r) => r.dirtyMiBps > 0 && r.dirtySampledMiBps > 0)
      .map((r) => r.dirtyMiBps / r.dirtySampledMiBps),
  );
  const share = median(runs.map((r) => r.nonZeroMiB / r.memMiB));
  const load = median(runs.map(loadPerCpu));
  const cal: MigrationCalibration = {
    ...start,
    dirtySampleGain: Number.isFinite(gain) ? round3(gain) : start.dirtySampleGain,
    nonZeroShare: Number.isFinite(share) ? round3(share) : start.nonZeroShare,
    typicalLoadPerCpu: Number.isFinite(load) ? round3(load) : start.typicalLoadPerCpu,
    modes: { ...start.modes },
  };
  for (const mode of CALIBRATED_MODES) {
    const mine = runs.filter((r) => r.mode === mode);
    if (!mine.length) continue;
    cal.modes[mode] = fitMode(mine, cal, mode);
  }
  // The option modes use pre-copy's parameters and fit their one factor, on runs that dirty memory
  // (without dirtying neither option changes anything: the factor would fit noise).
  for (const [mode, key] of [
    ['precopy+xbzrle', 'xbzrleRatio'],
    ['precopy+auto-converge', 'autoConvergeFactor'],
  ] as const) {
    const mine = runs.filter((r) => r.mode === mode && r.dirtyMiBps > 0);
    if (!mine.length) continue;
    const [lo, hi] = OPTION_BOUNDS[key];
    const f = (x: number[]) =>
      mine.reduce((s, r) => s + loss(r, predictRun(r, { ...cal, [key]: fromFree(x[0]!, lo, hi) })), 0);
    let x = [toFree(cal[key], lo, hi)];
    for (let i = 0; i < 4; i++) x = nelderMead(f, x, i % 2 ? 0.2 : 1);
    if (f(x) < f([toFree(cal[key], lo, hi)])) cal[key] = round3(fromFree(x[0]!, lo, hi));
  }
  return cal;
}

function fitMode(runs: RecordedRun[], cal: MigrationCalibration, mode: CalibratedMode): ModeCalibration {
  const free = fitBounds(mode);
  const build = (x: number[]): ModeCalibration => {
    const m = { ...cal.modes[mode] };
    if (mode === 'precopy+multifd-zstd') m.switchoverShare = cal.modes.precopy.switchoverShare;
    for (const [k, lo, hi] of fixedOutside(mode)) m[k] = Math.min(hi, Math.max(lo, m[k] ?? 1));
    free.forEach(([k, lo, hi], j) => (m[k] = fromFree(x[j]!, lo, hi)));
    return m;
  };
  const f = (x: number[]) => {
    const c = { ...cal, modes: { ...cal.modes, [mode]: build(x) } };
    return runs.reduce((s, r) => s + loss(r, predictRun(r, c)), 0);
  };
  // Two starts (the given parameters, and the middle of every range), restarted until settled.
  let best: number[] | undefined;
  for (const x0 of [free.map(([k, lo, hi]) => toFree(cal.modes[mode][k] ?? 1, lo, hi)), free.map(() => 0)]) {
    let x = x0;
    for (let i = 0; i < 6; i++) x = nelderMead(f, x, i % 2 ? 0.2 : 1);
    if (!best || f(x) < f(best)) best = x;
  }
  const m = build(best!);
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, round3(v)])) as unknown as ModeCalibration;
}

/** Parameters a mode does not fit keep their value (1 when unset: no contention, full switch-over). */
function fixedOutside(mode: CalibratedMode): [keyof ModeCalibration, number, number][] {
  const fitted = new Set(fitBounds(mode).map(([k]) => k));
  return (['dirtyShare', 'switchoverShare'] as const).filter((k) => !fitted.has(k)).map((k) => [k, 0, 1]);
}

const round3 = (v: number) => Number(v.toPrecision(4));

/** Errors of a model on the runs of one mode: relative errors (|p − m| / m) and downtime in ms. */
export interface ModeErrors {
  mode: string;
  /** Runs compared (both measured and predicted converged within the timeout). */
  n: number;
  /** Runs where the model and QEMU disagreed on convergence. */
  convergenceMisses: number;
  total: { mean: number; worst: number };
  downtime: { mean: number; worst: number; meanAbsMs: number; worstAbsMs: number };
  bytes: { mean: number; worst: number };
}

/** Per-mode errors of `predict` on `runs` (each run predicted from what was measured before it). */
export function evaluate(
  runs: RecordedRun[],
  predict: (r: RecordedRun) => MigrationPrediction,
): ModeErrors[] {
  const modes = [...new Set(runs.map((r) => r.mode))];
  return [...modes, 'all'].map((mode) => {
    const mine = runs.filter((r) => mode === 'all' || r.mode === mode);
    const t: number[] = [],
      d: number[] = [],
      dAbs: number[] = [],
      b: number[] = [];
    let misses = 0;
    for (const r of mine) {
      const p = predict(r);
      const predictedOk = p.converged && p.totalMs <= TIMEOUT_MS;
      if (predictedOk !== (r.converged && !!r.measured)) misses++;
      if (!predictedOk || !r.measured) continue;
      const m = r.measured;
      t.push(Math.abs(p.totalMs - m.totalMs) / m.totalMs);
      b.push(Math.abs(p.bytes - m.bytes) / m.bytes);
      d.push(Math.abs(p.downtimeMs - m.downtimeMs) / Math.max(m.downtimeMs, 1));
      dAbs.push(Math.abs(p.downtimeMs - m.downtimeMs));
    }
    const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : NaN);
    const worst = (xs: number[]) => (xs.length ? Math.max(...xs) : NaN);
    return {
      mode,
      n: t.length,
      convergenceMisses: misses,
      total: { mean: mean(t), worst: worst(t) },
      downtime: { mean: mean(d), worst: worst(d), meanAbsMs: mean(dAbs), worstAbsMs: worst(dAbs) },
      bytes: { mean: mean(b), worst: worst(b) },
    };
  });
}

/** A run's configuration: guest size, dirty rate, link (all its modes share it). */
export const configOf = (r: RecordedRun) => `${r.memMiB}/${r.dirtyMiBps}/${r.bandwidthMbps}`;

/**
 * Leave-one-configuration-out cross-validation: for each configuration, fit on the runs of every
 * other configuration and predict its runs; the per-mode errors of those held-out predictions.
 */
export function crossValidate(runs: RecordedRun[], start: MigrationCalibration): ModeErrors[] {
  const configs = [...new Set(runs.map(configOf))];
  const held = new Map<RecordedRun, MigrationPrediction>();
  for (const c of configs) {
    const cal = fitCalibration(
      runs.filter((r) => configOf(r) !== c),
      start,
    );
    for (const r of runs) if (configOf(r) === c) held.set(r, predictRun(r, cal));
  }
  return evaluate(runs, (r) => held.get(r)!);
}
