import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RecordedRun } from './migration-fit.ts';
import { median, medianRuns, repeatSpread, runKey } from './migration-repeats.ts';

const run = (mode: string, totalMs: number | undefined, extra: Partial<RecordedRun> = {}): RecordedRun => ({
  mode,
  memMiB: 256,
  wwsMiB: 128,
  dirtyMiBps: 20,
  bandwidthMbps: 1000,
  accel: 'tcg',
  nonZeroMiB: 200,
  dirtySampledMiBps: 20,
  loadAvg: [2, 1, 1],
  cpus: 2,
  converged: totalMs !== undefined,
  guestOk: true,
  ...(totalMs !== undefined
    ? { measured: { totalMs, downtimeMs: totalMs / 100, bytes: 1000, rounds: 3 } }
    : {}),
  ...extra,
});

test('median() of odd, even and non-finite inputs', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([NaN, 5]), 5);
  assert.ok(Number.isNaN(median([])));
});

test('medianRuns(): one run per configuration and mode, medians of inputs and measurements', () => {
  const runs = [
    run('precopy', 1000, { repeat: 0, loadAvg: [1, 1, 1], nonZeroMiB: 190 }),
    run('precopy', 3000, { repeat: 1, loadAvg: [5, 1, 1], nonZeroMiB: 200 }),
    run('precopy', 1200, { repeat: 2, loadAvg: [3, 1, 1], nonZeroMiB: 210 }),
    run('postcopy', 900),
    run('precopy', 700, { bandwidthMbps: 200 }),
  ];
  const m = medianRuns(runs);
  assert.equal(m.length, 3);
  const pre = m.find((r) => r.mode === 'precopy' && r.bandwidthMbps === 1000)!;
  assert.equal(pre.measured!.totalMs, 1200);
  assert.equal(pre.measured!.downtimeMs, 12);
  assert.equal(pre.loadAvg[0], 3);
  assert.equal(pre.nonZeroMiB, 200);
  assert.equal(pre.repeat, undefined);
  // A run recorded once comes back unchanged.
  assert.deepEqual(
    m.find((r) => r.mode === 'postcopy'),
    runs[3],
  );
  // Different XBZRLE caches are different configurations.
  assert.notEqual(runKey(run('precopy+xbzrle', 1, { xbzrleCacheMiB: 64 })), runKey(run('precopy+xbzrle', 1)));
});

test('medianRuns(): a configuration converged when most repeats did; measured from those that did', () => {
  const [two] = medianRuns([run('precopy', undefined), run('precopy', 2000), run('precopy', 4000)]);
  assert.ok(two!.converged);
  assert.equal(two!.measured!.totalMs, 3000);
  const [one] = medianRuns([run('precopy', undefined), run('precopy', undefined), run('precopy', 4000)]);
  assert.ok(!one!.converged && !one!.measured);
});

test('repeatSpread(): median absolute deviation / median per configuration, averaged per mode', () => {
  const runs = [
    // MAD of 1000, 1200, 3000 around 1200: median(200, 0, 1800) = 200 → 1/6
    run('precopy', 1000),
    run('precopy', 1200),
    run('precopy', 3000),
    // 800 vs 1200 around 1000: MAD 200 → 1/5
    run('precopy', 800, { dirtyMiBps: 0 }),
    run('precopy', 1200, { dirtyMiBps: 0 }),
    run('postcopy', 500), // one run: no spread
  ];
  const s = repeatSpread(runs);
  const pre = s.find((x) => x.mode === 'precopy')!;
  assert.equal(pre.configurations, 2);
  assert.ok(Math.abs(pre.total - (1 / 6 + 1 / 5) / 2) < 1e-12, `${pre.total}`);
  assert.equal(pre.bytes, 0);
  assert.equal(pre.downtimeAbsMs, (2 + 2) / 2);
  const post = s.find((x) => x.mode === 'postcopy')!;
  assert.equal(post.configurations, 0);
  assert.ok(Number.isNaN(post.total));
  assert.equal(s.at(-1)!.mode, 'all');
});
