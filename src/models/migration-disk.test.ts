import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { predictMigration } from './migration.ts';
import { uniformCalibration } from './migration-calibration.ts';
import { predictBlockMigration, type BlockMigrationCalibration } from './migration-disk.ts';

// Round numbers: the link gives 100 MiB/s, no fixed costs, sparse ranges cost like data.
const memCal = uniformCalibration({ streamMiBps: 1000, zstdRatio: 0.25, zstdMiBps: 1000, xbzrleRatio: 0.5 });
const cal: BlockMigrationCalibration = { maxMirrorMiBps: 1000, zeroMiBps: 1000, mirrorSetupMs: 0 };
const link = (8 * 100 * 2 ** 20) / 1e6; // Mbit/s giving exactly 100 MiB/s
const MiB = 2 ** 20;

test('the mirror converges like pre-copy, then the memory moves on what the writes leave of the link', () => {
  // 400 MiB disk at 100 MiB/s, 25 MiB/s of writes: passes of 4, 1, 0.25, … s → 4 / (1 − 1/4) = 5.333 s
  // and 533.3 MiB. Memory: 100 MiB at 100 − 25 = 75 MiB/s = 1.333 s, while 33.3 MiB more are written.
  const r = predictBlockMigration(
    { memMiB: 100, dirtyMiBps: 0, bandwidthMbps: link, diskBytes: 400 * MiB, writeMiBps: 25 },
    { mode: 'precopy', maxDowntimeMs: 100 },
    cal,
    memCal,
  );
  assert.ok(r.converged);
  assert.ok(Math.abs(r.mirrorMs - 16000 / 3) < 1, `${r.mirrorMs}`);
  assert.ok(Math.abs(r.memory.totalMs - 4000 / 3) < 1e-6, `${r.memory.totalMs}`);
  assert.ok(Math.abs(r.totalMs - 20000 / 3) < 1, `${r.totalMs}`);
  assert.ok(Math.abs(r.diskBytes / MiB - (1600 / 3 + 100 / 3)) < 0.01, `${r.diskBytes / MiB}`);
});

test('only the allocated part costs a stream; the sparse rest is written as cheap zeroes', () => {
  const sparse = { ...cal, zeroMiBps: 10_000 };
  const r = predictBlockMigration(
    {
      memMiB: 100,
      dirtyMiBps: 0,
      bandwidthMbps: link,
      diskBytes: 1024 * MiB,
      allocatedBytes: 24 * MiB,
      writeMiBps: 0,
    },
    { mode: 'precopy' },
    sparse,
    memCal,
  );
  // 24 MiB at 100 MiB/s + 1000 MiB at 10 000 MiB/s = 0.24 + 0.1 s
  assert.ok(Math.abs(r.mirrorMs - 340) < 1e-6, `${r.mirrorMs}`);
  assert.equal(r.diskBytes, 24 * MiB);
});

test('a guest writing faster than the mirror sends never lets it become READY', () => {
  const r = predictBlockMigration(
    { memMiB: 100, dirtyMiBps: 0, bandwidthMbps: link, diskBytes: 100 * MiB, writeMiBps: 150 },
    { mode: 'precopy' },
    cal,
    memCal,
  );
  assert.equal(r.converged, false);
  assert.match(r.note, /never catches up/);
});

test('property: shared disks cost nothing; more disk data or writes never make a move cheaper', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 16, max: 4096 }),
      fc.double({ min: 0, max: 50, noNaN: true }),
      fc.integer({ min: 1, max: 8192 }),
      fc.integer({ min: 1, max: 8192 }),
      fc.double({ min: 0, max: 20, noNaN: true }),
      fc.integer({ min: 100, max: 10_000 }),
      (mem, dirty, d1, d2, w, bw) => {
        const base = { memMiB: mem, dirtyMiBps: dirty, bandwidthMbps: bw };
        const o = { mode: 'precopy' as const, maxDowntimeMs: 300 };
        const shared = predictBlockMigration({ ...base, diskBytes: 0, writeMiBps: w }, o, cal, memCal);
        assert.equal(shared.totalMs, predictMigration(base, o, memCal).totalMs);
        assert.equal(shared.diskBytes, 0);
        const [small, big] = [Math.min(d1, d2), Math.max(d1, d2)];
        const a = predictBlockMigration({ ...base, diskBytes: small * MiB, writeMiBps: w }, o, cal, memCal);
        const b = predictBlockMigration({ ...base, diskBytes: big * MiB, writeMiBps: w }, o, cal, memCal);
        assert.ok(b.mirrorMs >= a.mirrorMs - 1e-6 && b.diskBytes >= a.diskBytes - 1);
        assert.ok(a.bytes >= small * MiB, 'at least the disk is sent');
        assert.ok(a.totalMs >= a.mirrorMs && a.totalMs >= shared.totalMs);
      },
    ),
  );
});

test('bad inputs are refused with the field named', () => {
  const base = { memMiB: 64, dirtyMiBps: 0, bandwidthMbps: 1000, writeMiBps: 0 };
  assert.throws(() => predictBlockMigration({ ...base, diskBytes: -1 }, { mode: 'precopy' }), /diskBytes/);
  assert.throws(
    () => predictBlockMigration({ ...base, diskBytes: 1, writeMiBps: -1 }, { mode: 'precopy' }),
    /writeMiBps/,
  );
});
