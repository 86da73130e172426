/**
 * Evaluate the migration models on recorded runs for `npm run bench:migration`: per mode, mean and
 * worst error of total time, downtime and bytes, before (the old model and defaults,
 * bench/migration-legacy.ts) and after (the calibration file), and leave-one-configuration-out
 * cross-validated, on single runs and on the per-configuration medians of repeated runs, with the
 * run-to-run spread of identical configurations; optionally refit and write the calibration file.
 */
import { writeFileSync } from 'node:fs';
import { DEFAULT_CALIBRATION, type MigrationCalibration } from '../src/models/migration-calibration.ts';
import {
  crossValidate,
  evaluate,
  fitCalibration,
  predictRun,
  type ModeErrors,
  type RecordedRun,
} from '../src/models/migration-fit.ts';
import { medianRuns, repeatSpread, type ModeSpread } from '../src/models/migration-repeats.ts';
import { legacyPredictRun } from './migration-legacy.ts';

export interface Evaluation {
  runs: number;
  converged: number;
  loadAvg: { min: number; median: number; max: number };
  before: ModeErrors[];
  after: ModeErrors[];
  crossValidated: ModeErrors[];
  /** The same on the per-configuration medians of repeated runs (as single runs when not repeated). */
  medians: { runs: number; after: ModeErrors[]; crossValidated: ModeErrors[] };
  /** Run-to-run spread of identical configurations (empty rows when nothing was repeated). */
  spread: ModeSpread[];
  calibration: MigrationCalibration;
}

const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(0)} %` : '—');
const ms = (x: number) => (Number.isFinite(x) ? `${x.toFixed(0)} ms` : '—');

/** Evaluate (and with `refit`, refit into `calibrationPath`) on `runs`; prints a table to `log`. */
export function evaluateRuns(
  runs: RecordedRun[],
  o: { refit: boolean; calibrationPath: string; from: string; log: (s: string) => void },
): Evaluation {
  let cal = DEFAULT_CALIBRATION;
  const medians = medianRuns(runs);
  if (o.refit) {
    // Fitted on the medians: repeats of one configuration weigh as one, and their noise averages out.
    cal = fitCalibration(medians, DEFAULT_CALIBRATION);
    cal = {
      about: DEFAULT_CALIBRATION.about,
      fitted: {
        date: new Date().toISOString(),
        from: o.from,
        runs: runs.length,
        accel: [...new Set(runs.map((r) => r.accel))].join(', '),
        method:
          'on the per-configuration medians of repeated runs: medians for dirtySampleGain (nominal / sampled rate) and nonZeroShare; per mode, robust least squares on log errors of total time, bytes and downtime (+20 ms), Nelder-Mead within physical bounds (fitBounds); xbzrleRatio and autoConvergeFactor on their modes (src/models/migration-fit.ts)',
      },
      ...Object.fromEntries(Object.entries(cal).filter(([k]) => k !== 'about' && k !== 'fitted')),
    } as MigrationCalibration;
    writeFileSync(o.calibrationPath, JSON.stringify(cal, null, 2) + '\n');
    o.log(`refitted and wrote ${o.calibrationPath}`);
  }
  const loads = runs.map((r) => r.loadAvg[0] ?? NaN).sort((a, b) => a - b);
  const e: Evaluation = {
    runs: runs.length,
    converged: runs.filter((r) => r.converged).length,
    loadAvg: {
      min: loads[0] ?? NaN,
      median: loads[Math.floor(loads.length / 2)] ?? NaN,
      max: loads.at(-1) ?? NaN,
    },
    before: evaluate(runs, legacyPredictRun),
    after: evaluate(runs, (r) => predictRun(r, cal)),
    crossValidated: crossValidate(runs, cal),
    medians: {
      runs: medians.length,
      after: evaluate(medians, (r) => predictRun(r, cal)),
      crossValidated: crossValidate(medians, cal),
    },
    spread: repeatSpread(runs),
    calibration: cal,
  };
  o.log(
    `\n${e.converged}/${e.runs} runs converged; load average (1 min) ${e.loadAvg.min}..${e.loadAvg.max}, median ${e.loadAvg.median}`,
  );
  o.log(
    'mode                  | runs | model  | total mean/worst | downtime mean/worst (abs. mean/worst)   | bytes mean/worst | conv. misses',
  );
  for (const [name, rows] of [
    ['before', e.before],
    ['after', e.after],
    ['cv', e.crossValidated],
    ...(medians.length < runs.length
      ? ([
          ['med', e.medians.after],
          ['med-cv', e.medians.crossValidated],
        ] as const)
      : []),
  ] as const)
    for (const x of rows)
      o.log(
        `${x.mode.padEnd(21)} | ${String(x.n).padStart(4)} | ${name.padEnd(6)} | ${pct(x.total.mean).padStart(6)} / ${pct(x.total.worst).padStart(6)} | ${pct(x.downtime.mean).padStart(7)} / ${pct(x.downtime.worst).padStart(7)} (${ms(x.downtime.meanAbsMs)} / ${ms(x.downtime.worstAbsMs)}) | ${pct(x.bytes.mean).padStart(6)} / ${pct(x.bytes.worst).padStart(6)} | ${x.convergenceMisses}`,
      );
  if (medians.length < runs.length) {
    o.log(
      `\n"med": the ${medians.length} per-configuration medians of the repeated runs. Run-to-run spread of identical configurations (median absolute deviation / median; the floor no model beats here):`,
    );
    o.log('mode                  | configs | total  | bytes  | downtime (abs.)');
    for (const x of e.spread)
      o.log(
        `${x.mode.padEnd(21)} | ${String(x.configurations).padStart(7)} | ${pct(x.total).padStart(6)} | ${pct(x.bytes).padStart(6)} | ${ms(x.downtimeAbsMs)}`,
      );
  } else o.log('\n(no repeated configurations: run with -- --repeat N for the run-to-run spread)');
  return e;
}
