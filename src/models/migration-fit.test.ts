import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uniformCalibration, type MigrationCalibration } from './migration-calibration.ts';
import {
  configOf,
  crossValidate,
  evaluate,
  fitBounds,
  fitCalibration,
  modelOptions,
  OPTION_BOUNDS,
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
  switchoverShare: 0.5,
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
  for (const k of [
    'streamMiBps',
    'linkEfficiency',
    'setupMs',
    'dirtyShare',
    'loadSensitivity',
    'switchoverShare',
  ] as const)
    assert.ok(Math.abs(got[k]! / truth.modes.precopy[k]! - 1) < 0.05, `${k}: ${JSON.stringify(got)}`);
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

test('fitBounds(): each mode fits only what it uses', () => {
  const keys = (m: Parameters<typeof fitBounds>[0]) => fitBounds(m).map(([k]) => k);
  assert.ok(
    !keys('stop-and-copy').includes('dirtyShare') && !keys('stop-and-copy').includes('switchoverShare'),
  );
  assert.ok(keys('precopy').includes('switchoverShare') && !keys('precopy').includes('wireRatio'));
  assert.ok(!keys('postcopy').includes('switchoverShare'));
  assert.ok(keys('precopy+multifd-zstd').includes('wireRatio'));
  assert.ok(!keys('precopy+multifd-zstd').includes('switchoverShare'));
});

test('fitCalibration() keeps a parameter the runs cannot identify inside its bounds', () => {
  // Runs made by a 1e6 MiB/s stream: every run is link-bound, the stream is not identifiable.
  const wild: MigrationCalibration = structuredClone(truth);
  wild.modes.precopy = { ...wild.modes.precopy, streamMiBps: 1e6, loadSensitivity: 0 };
  const runs = syntheticRuns().map((r) => {
    const p = predictRun({ ...r, bandwidthMbps: 200 }, wild);
    return { ...r, bandwidthMbps: 200, measured: { ...r.measured!, totalMs: p.totalMs, bytes: p.bytes } };
  });
  const fit = fitCalibration(runs, wild).modes.precopy;
  for (const [k, lo, hi] of fitBounds('precopy'))
    assert.ok(fit[k]! >= lo * 0.999 && fit[k]! <= hi * 1.001, `${k} = ${fit[k]} outside ${lo}..${hi}`);
  // Switch-over share: the pre-copy's last remainder (and only it) is scaled.
  const half = structuredClone(truth);
  half.modes.precopy.switchoverShare = 0.25;
  const r = runs.find((x) => x.dirtyMiBps > 0)!;
  const [a, b] = [predictRun(r, truth), predictRun(r, half)];
  assert.ok(b.downtimeMs < a.downtimeMs && b.bytes === a.bytes, `${a.downtimeMs} ${b.downtimeMs}`);
});

test('modelOptions() maps the XBZRLE (with its cache) and auto-converge bench modes', () => {
  assert.deepEqual(modelOptions('precopy+xbzrle', { xbzrleCacheMiB: 64 }), {
    mode: 'precopy',
    maxDowntimeMs: 300,
    xbzrle: true,
    xbzrleCacheMiB: 64,
  });
  assert.deepEqual(modelOptions('precopy+auto-converge'), {
    mode: 'precopy',
    maxDowntimeMs: 300,
    autoConverge: true,
  });
});

test('fitCalibration() fits xbzrleRatio and autoConvergeFactor on their modes, within bounds', () => {
  const made: MigrationCalibration = { ...truth, xbzrleRatio: 0.3, autoConvergeFactor: 0.6 };
  const make = (rates: number[]) => {
    const runs: RecordedRun[] = [];
    for (const r of syntheticRuns().filter((x) => x.dirtyMiBps === 40 && x.bandwidthMbps === 1000))
      for (const dirty of rates)
        for (const mode of ['precopy', 'precopy+xbzrle', 'precopy+auto-converge']) {
          const x: RecordedRun = {
            ...r,
            mode,
            dirtyMiBps: dirty,
            dirtySampledMiBps: dirty / 1.25,
            ...(mode === 'precopy+xbzrle' ? { xbzrleCacheMiB: 64 } : {}),
          };
          const p = predictRun(x, made);
          if (p.converged)
            runs.push({
              ...x,
              measured: { totalMs: p.totalMs, downtimeMs: p.downtimeMs, bytes: p.bytes, rounds: 1 },
            });
        }
    return runs;
  };
  // Dirtying fast enough for QEMU to throttle (more than half of what is sent, twice).
  const runs = make([40, 150, 250]);
  assert.ok(
    runs.some((r) => r.mode === 'precopy+xbzrle') && runs.some((r) => r.mode === 'precopy+auto-converge'),
  );
  const start = { ...truth, xbzrleRatio: 0.9, autoConvergeFactor: 0.95 };
  const fit = fitCalibration(runs, start);
  assert.ok(Math.abs(fit.xbzrleRatio / 0.3 - 1) < 0.1, `xbzrleRatio ${fit.xbzrleRatio}`);
  assert.ok(Math.abs(fit.autoConvergeFactor / 0.6 - 1) < 0.1, `autoConvergeFactor ${fit.autoConvergeFactor}`);
  assert.ok(
    fit.xbzrleRatio >= OPTION_BOUNDS.xbzrleRatio[0] &&
      fit.autoConvergeFactor <= OPTION_BOUNDS.autoConvergeFactor[1],
  );
  // Too slow a dirtying never throttles: the factor is not identifiable and keeps its value.
  assert.equal(fitCalibration(make([10, 40]), start).autoConvergeFactor, 0.95);
});
