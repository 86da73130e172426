import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { predictDiskMigration } from './block-migration.ts';
import { DEFAULT_CALIBRATION, predictMigration } from './migration.ts';

const base = { memMiB: 1024, dirtyMiBps: 10, bandwidthMbps: 1000 };
const precopy = { mode: 'precopy' as const };

test('predictDiskMigration() without local disks is predictMigration()', () => {
  const m = predictMigration(base, precopy);
  const d = predictDiskMigration(base, precopy);
  assert.equal(d.totalMs, m.totalMs);
  assert.equal(d.bytes, m.bytes);
  assert.equal(d.diskMs, 0);
});

test('predictDiskMigration() mirrors D·s/(s−w) MiB in D/(s−w) s before memory moves', () => {
  // 1000 Mbit/s = 119.2 MiB/s on the wire; the calibration may cap the stream lower.
  const s = Math.min((1000 * 1e6) / 8 / 2 ** 20, DEFAULT_CALIBRATION.maxStreamMiBps);
  const d = predictDiskMigration({ ...base, diskMiB: 1024, diskWriteMiBps: 2 }, precopy);
  const m = predictMigration(base, precopy);
  assert.ok(Math.abs(d.diskMs - (1024 / (s - 2)) * 1000) < 1e-6);
  assert.ok(Math.abs(d.diskBytes - ((1024 * s) / (s - 2)) * 2 ** 20) < 1);
  assert.ok(Math.abs(d.totalMs - (m.totalMs + d.diskMs)) < 1e-6);
  assert.equal(d.downtimeMs, m.downtimeMs, 'the mirror does not add downtime');
});

test('predictDiskMigration() does not converge when disk writes outpace the stream', () => {
  const d = predictDiskMigration({ ...base, diskMiB: 10, diskWriteMiBps: 10_000 }, precopy);
  assert.equal(d.converged, false);
  assert.equal(d.totalMs, Infinity);
});

test('predictDiskMigration(): more disk or a higher write rate never makes it faster', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 100_000 }),
      fc.integer({ min: 0, max: 100_000 }),
      fc.double({ min: 0, max: 50, noNaN: true }),
      fc.double({ min: 0, max: 50, noNaN: true }),
      (d1, d2, w1, w2) => {
        const a = predictDiskMigration(
          { ...base, diskMiB: Math.min(d1, d2), diskWriteMiBps: Math.min(w1, w2) },
          precopy,
        );
        const b = predictDiskMigration(
          { ...base, diskMiB: Math.max(d1, d2), diskWriteMiBps: Math.max(w1, w2) },
          precopy,
        );
        return b.totalMs >= a.totalMs && b.bytes >= a.bytes;
      },
    ),
  );
});
