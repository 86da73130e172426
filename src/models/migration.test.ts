import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planMigration, predictMigration, xbzrleResendRatio } from './migration.ts';
import { uniformCalibration } from './migration-calibration.ts';

// Round numbers: 100 MiB/s stream, no fixed costs.
const cal = uniformCalibration({ streamMiBps: 1000, zstdRatio: 0.25, zstdMiBps: 1000, xbzrleRatio: 0.5 });
const link = (8 * 100 * 2 ** 20) / 1e6; // Mbit/s giving exactly 100 MiB/s

test('stop-and-copy: downtime is the whole copy', () => {
  // 400 MiB at 100 MiB/s = 4 s
  const r = predictMigration(
    { memMiB: 400, dirtyMiBps: 50, bandwidthMbps: link },
    { mode: 'stop-and-copy' },
    cal,
  );
  assert.ok(Math.abs(r.totalMs - 4000) < 1e-6 && Math.abs(r.downtimeMs - 4000) < 1e-6);
});

test('pre-copy rounds shrink geometrically while dirty rate < bandwidth', () => {
  // 400 MiB, 25 MiB/s dirty: round 1 sends 400 MiB in 4 s (100 dirtied), round 2 100 MiB in 1 s (25),
  // round 3 25 MiB in 0.25 s (6.25 MiB remain: 62.5 ms ≤ 100 ms limit) → stop.
  // total 4 + 1 + 0.25 + 0.0625 s; downtime 62.5 ms; bytes 400 + 100 + 25 + 6.25 MiB
  const r = predictMigration(
    { memMiB: 400, dirtyMiBps: 25, bandwidthMbps: link },
    { mode: 'precopy', maxDowntimeMs: 100 },
    cal,
  );
  assert.ok(r.converged);
  assert.ok(Math.abs(r.totalMs - 5312.5) < 1e-6, `${r.totalMs}`);
  assert.ok(Math.abs(r.downtimeMs - 62.5) < 1e-6);
  assert.ok(Math.abs(r.bytes - 531.25 * 2 ** 20) < 1);
  assert.equal(r.rounds, 4);
});

test('pre-copy does not converge when the working set outruns the link, and says why', () => {
  // 200 MiB/s dirty over a 128 MiB working set: every round re-sends 128 MiB = 1.28 s > 300 ms
  const r = predictMigration(
    { memMiB: 512, dirtyMiBps: 200, wwsMiB: 128, bandwidthMbps: link },
    { mode: 'precopy', maxDowntimeMs: 300 },
    cal,
  );
  assert.equal(r.converged, false);
  assert.match(r.note, /does not converge.*200 MiB\/s dirtied against 100 MiB\/s sent/);
  // Xen's rule makes it finish, with the working set copied while paused
  const x = predictMigration(
    { memMiB: 512, dirtyMiBps: 200, wwsMiB: 128, bandwidthMbps: link },
    { mode: 'precopy', maxDowntimeMs: 300, stopAfterRounds: 3 },
    cal,
  );
  assert.ok(x.converged && Math.abs(x.downtimeMs - 1280) < 1e-6);
});

test('post-copy finishes with a tiny downtime whatever the dirty rate', () => {
  const r = predictMigration(
    { memMiB: 512, dirtyMiBps: 500, wwsMiB: 128, bandwidthMbps: link },
    { mode: 'postcopy', postcopyAfterMs: 1000 },
    cal,
  );
  assert.ok(r.converged && r.downtimeMs < 20);
  // 1 s warm-up sends 100 MiB; 128 MiB dirtied, of which 100/512 had been sent: 25 MiB go again;
  // 512 − 100 + 25 = 437 MiB remain → 4.37 s + 1 s
  assert.ok(Math.abs(r.totalMs - 5370) < 1e-6, `${r.totalMs}`);
});

test('planMigration() picks the least intrusive setting that converges, or refuses with the reason', () => {
  const easy = planMigration(
    { memMiB: 256, dirtyMiBps: 10, bandwidthMbps: link, downtimeTargetMs: 300 },
    cal,
  );
  assert.equal(easy.ok, true);
  assert.deepEqual(easy.options, { mode: 'precopy', maxDowntimeMs: 300 });
  // Compression lifts the effective stream to 400 MiB/s (link / 0.25), enough for 200 MiB/s dirtying
  const hot = planMigration(
    { memMiB: 512, dirtyMiBps: 200, wwsMiB: 128, bandwidthMbps: link, downtimeTargetMs: 300 },
    cal,
  );
  assert.equal(hot.options?.multifdZstd, true);
  const noComp = planMigration(
    {
      memMiB: 512,
      dirtyMiBps: 200,
      wwsMiB: 128,
      bandwidthMbps: link,
      downtimeTargetMs: 300,
      allowCompression: false,
      allowAutoConverge: false,
    },
    cal,
  );
  assert.equal(noComp.options?.mode, 'postcopy');
  const refused = planMigration(
    {
      memMiB: 512,
      dirtyMiBps: 200,
      wwsMiB: 128,
      bandwidthMbps: link,
      downtimeTargetMs: 300,
      allowCompression: false,
      allowAutoConverge: false,
      allowPostcopy: false,
    },
    cal,
  );
  assert.equal(refused.ok, false);
  assert.match(refused.reason, /No setting meets 300 ms downtime: precopy: pre-copy does not converge/);
});

test('XBZRLE: re-sent pages found in the cache go as deltas, the rest whole', () => {
  assert.equal(xbzrleResendRatio(128, undefined, 0.5), 0.5);
  assert.equal(xbzrleResendRatio(128, 256, 0.5), 0.5);
  assert.equal(xbzrleResendRatio(128, 64, 0.5), 0.75); // half the pages hit
  assert.equal(xbzrleResendRatio(128, 0, 0.5), 1);
  const i = { memMiB: 400, dirtyMiBps: 25, wwsMiB: 128, bandwidthMbps: link };
  const plain = predictMigration(i, { mode: 'precopy', maxDowntimeMs: 100 }, cal);
  const small = predictMigration(
    i,
    { mode: 'precopy', maxDowntimeMs: 100, xbzrle: true, xbzrleCacheMiB: 64 },
    cal,
  );
  const big = predictMigration(
    i,
    { mode: 'precopy', maxDowntimeMs: 100, xbzrle: true, xbzrleCacheMiB: 512 },
    cal,
  );
  // Round 0 is the same 400 MiB; re-sends shrink with the cache.
  assert.ok(
    big.bytes < small.bytes && small.bytes < plain.bytes,
    `${big.bytes} ${small.bytes} ${plain.bytes}`,
  );
  assert.ok(plain.bytes - big.bytes > 0 && big.bytes > 400 * 2 ** 20);
});

test('auto-converge: no throttle while the guest dirties less than half of what is sent', () => {
  const i = { memMiB: 400, dirtyMiBps: 25, bandwidthMbps: link };
  const plain = predictMigration(i, { mode: 'precopy', maxDowntimeMs: 100 }, cal);
  assert.deepEqual(
    predictMigration(i, { mode: 'precopy', maxDowntimeMs: 100, autoConverge: true }, cal),
    plain,
  );
});

test('auto-converge: a pre-copy that cannot converge does once the guest is throttled', () => {
  const i = { memMiB: 512, dirtyMiBps: 150, wwsMiB: 256, bandwidthMbps: link };
  assert.equal(predictMigration(i, { mode: 'precopy', maxDowntimeMs: 300 }, cal).converged, false);
  const r = predictMigration(i, { mode: 'precopy', maxDowntimeMs: 300, autoConverge: true }, cal);
  assert.ok(r.converged && r.downtimeMs <= 300, JSON.stringify(r));
  // A stronger throttle (smaller factor per round) converges in fewer rounds.
  const strong = predictMigration(
    i,
    { mode: 'precopy', maxDowntimeMs: 300, autoConverge: true },
    {
      ...cal,
      autoConvergeFactor: 0.4,
    },
  );
  assert.ok(strong.rounds < r.rounds, `${strong.rounds} vs ${r.rounds}`);
});
