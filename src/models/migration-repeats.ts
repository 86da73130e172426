/**
 * Repeated migration runs (`npm run bench:migration -- --repeat N`): the per-configuration medians
 * the models are fitted and evaluated on, and the run-to-run spread of identical configurations, the
 * error floor no model can beat on the machine that ran them. Pure functions.
 */
import { configOf, type RecordedRun } from './migration-fit.ts';

/** What makes runs identical: guest size, dirty rate, link, mode (and XBZRLE's cache). */
export const runKey = (r: RecordedRun) => `${configOf(r)}/${r.mode}/${r.xbzrleCacheMiB ?? ''}`;

/** Median of the finite numbers in `xs` (NaN when none). */
export function median(xs: number[]): number {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}

function groups(runs: RecordedRun[]): RecordedRun[][] {
  const g = new Map<string, RecordedRun[]>();
  for (const r of runs) g.set(runKey(r), [...(g.get(runKey(r)) ?? []), r]);
  return [...g.values()];
}

/**
 * One run per configuration and mode: inputs and measurements are the medians of its repeats (a
 * configuration converged when most of its repeats did; measurements are the converged ones').
 * Runs recorded once come back as they were.
 */
export function medianRuns(runs: RecordedRun[]): RecordedRun[] {
  return groups(runs).map((g) => {
    if (g.length === 1) return g[0]!;
    const ok = g.filter((r) => r.converged && r.measured);
    const first = g[0]!;
    const med = (f: (r: RecordedRun) => number | undefined, from = g) => median(from.map((r) => f(r) ?? NaN));
    const out: RecordedRun = {
      ...first,
      nonZeroMiB: med((r) => r.nonZeroMiB),
      dirtySampledMiBps: med((r) => r.dirtySampledMiBps),
      loadAvg: first.loadAvg.map((_, k) => med((r) => r.loadAvg[k])),
      converged: ok.length * 2 > g.length,
      guestOk: g.every((r) => r.guestOk),
    };
    delete out.repeat;
    delete out.measured;
    delete out.guestDirtyMiBps;
    const gd = med((r) => r.guestDirtyMiBps);
    if (Number.isFinite(gd)) out.guestDirtyMiBps = gd;
    if (out.converged)
      out.measured = {
        totalMs: med((r) => r.measured?.totalMs, ok),
        downtimeMs: med((r) => r.measured?.downtimeMs, ok),
        bytes: med((r) => r.measured?.bytes, ok),
        rounds: med((r) => r.measured?.rounds, ok),
      };
    return out;
  });
}

/** Run-to-run spread of one mode over its configurations with at least two converged runs. */
export interface ModeSpread {
  mode: string;
  /** Configurations with repeats compared. */
  configurations: number;
  /** Mean over configurations of the median absolute deviation / median, total time and bytes. */
  total: number;
  bytes: number;
  /** Mean over configurations of the median absolute deviation of the downtime, ms. */
  downtimeAbsMs: number;
}

/** Per mode (and 'all'), the spread of identical configurations: what no model can beat here. */
export function repeatSpread(runs: RecordedRun[]): ModeSpread[] {
  const rows = groups(runs)
    .map((g) => g.filter((r) => r.converged && r.measured))
    .filter((g) => g.length >= 2)
    .map((g) => {
      const rel = (f: (r: RecordedRun) => number) => {
        const m = median(g.map(f));
        return median(g.map((r) => Math.abs(f(r) - m))) / m;
      };
      const d = median(g.map((r) => r.measured!.downtimeMs));
      return {
        mode: g[0]!.mode,
        total: rel((r) => r.measured!.totalMs),
        bytes: rel((r) => r.measured!.bytes),
        down: median(g.map((r) => Math.abs(r.measured!.downtimeMs - d))),
      };
    });
  const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : NaN);
  return [...new Set(runs.map((r) => r.mode)), 'all'].map((mode) => {
    const mine = rows.filter((x) => mode === 'all' || x.mode === mode);
    return {
      mode,
      configurations: mine.length,
      total: mean(mine.map((x) => x.total)),
      bytes: mean(mine.map((x) => x.bytes)),
      downtimeAbsMs: mean(mine.map((x) => x.down)),
    };
  });
}
