import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uniformCalibration, type MigrationCalibration } from './migration-calibration.ts';
import {
  configOf,
  crossValidate,
  evaluate,
  fitCalibration,
  nelderMead,
  predictRun,
  type RecordedRun,
} from './migration-fit.ts';

// Known parameters: pre-copy on a TCG-like host (CPU-bound at 300 MiB/s, 60 % of the dirty rate left).
const truth: MigrationCalibration = {
  ...uniformCalibration({ streamMiBps: 1000 }),
  dirtySampleGain: 1.25,
  nonZeroShare: 0.5,
};
truth.modes.precopy = {
  streamMiBps: 300,
  linkEfficiency: 0.9,
  setupMs: 200,
  zeroScanMiBps: 800,
  downtimeFloorMs: 50,
  wireRatio: 1,
  dirtyShare: 0.6,
  loadSensitivity: 0.5,
};

/** Runs "measured" exactly as the true model predicts (QEMU's sampling reads 1 / gain of the rate). */
function syntheticRuns(): RecordedRun[] {
  const runs: RecordedRun[] = [];
  for (const memMiB of [512, 1024])
    for (const nonZeroMiB of [200, 400])
      for (const dirty of [0, 10, 40])
        for (const bw of [200, 1000, 10000]) {
          const r: RecordedRun = {
            mode: 'precopy',
            memMiB,
            wwsMiB: 128,
            dirtyMiBps: dirty,
            bandwidthMbps: bw,
            accel: 'tcg',
            nonZeroMiB,
            dirtySampledMiBps: dirty / 1.25,
            loadAvg: [[0.5, 2, 6, 1][runs.length % 4]!, 1, 1],
            cpus: 2,
            converged: true,
            guestOk: true,
          };
          const p = predictRun(r, truth);
          if (!p.converged || p.totalMs > 30_000) continue;
          r.measured = { totalMs: p.totalMs, downtimeMs: p.downtimeMs, bytes: p.bytes, rounds: p.rounds };
          runs.push(r);
        }
  return runs;
}

test('nelderMead() finds the minimum of a shifted quadratic', () => {
  const x = nelderMead((v) => (v[0]! - 3) ** 2 + 2 * (v[1]! + 1) ** 2, [0, 0]);
  assert.ok(Math.abs(x[0]! - 3) < 1e-3 && Math.abs(x[1]! + 1) < 1e-3, `${x}`);
});

test('fitCalibration() recovers the parameters that made synthetic runs, from far-off defaults', () => {
  const runs = syntheticRuns();
  assert.ok(runs.length >= 12, `${runs.length} runs`);
  const fit = fitCalibration(
    runs,
    uniformCalibration({ streamMiBps: 1400, setupMs: 100, downtimeFloorMs: 5 }),
  );
  assert.equal(fit.dirtySampleGain, 1.25); // median of nominal / sampled
  assert.equal(fit.nonZeroShare, 0.3906); // median of non-zero / RAM: 400/1024 = 200/512 // median of non-zero / RAM
  const got = fit.modes.precopy;
  for (const k of ['streamMiBps', 'linkEfficiency', 'setupMs', 'dirtyShare', 'loadSensitivity'] as const)
    assert.ok(Math.abs(got[k] / truth.modes.precopy[k] - 1) < 0.05, `${k}: ${JSON.stringify(got)}`);
  // Modes without runs keep the starting parameters.
  assert.equal(fit.modes.postcopy.streamMiBps, 1400);
  // And the fitted model reproduces the runs.
  for (const e of evaluate(runs, (r) => predictRun(r, fit)))
    assert.ok(e.total.mean < 0.02, JSON.stringify(e));
});

test('evaluate() reports mean and worst relative errors per mode and convergence misses', () => {
  const base = syntheticRuns()[0]!;
  const runs: RecordedRun[] = [
    { ...base, measured: { ...base.measured!, totalMs: 1000, bytes: 100, downtimeMs: 10 } },
    { ...base, measured: { ...base.measured!, totalMs: 2000, bytes: 100, downtimeMs: 10 } },
    { ...base, converged: false, measured: undefined },
  ];
  const p = { converged: true, totalMs: 1500, downtimeMs: 20, bytes: 150, rounds: 2, note: '' };
  const [pre, all] = evaluate(runs, () => p);
  assert.equal(pre!.mode, 'precopy');
  assert.equal(all!.mode, 'all');
  assert.equal(pre!.n, 2);
  assert.equal(pre!.convergenceMisses, 1); // predicted to converge, timed out
  assert.ok(Math.abs(pre!.total.mean - 0.375) < 1e-12 && Math.abs(pre!.total.worst - 0.5) < 1e-12);
  assert.ok(Math.abs(pre!.bytes.mean - 0.5) < 1e-12);
  assert.equal(pre!.downtime.meanAbsMs, 10);
});

test('crossValidate() holds out each configuration: exact runs stay exact', () => {
  const runs = syntheticRuns();
  assert.ok(new Set(runs.map(configOf)).size > 5);
  const [pre] = crossValidate(runs, truth);
  assert.ok(pre!.total.mean < 0.02 && pre!.bytes.mean < 0.02, JSON.stringify(pre));
});
