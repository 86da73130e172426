import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  CalibrationError,
  checkMigrationCalibration,
  DEFAULT_CALIBRATION,
  uniformCalibration,
} from './migration-calibration.ts';
import { planMigration, predictMigration } from './migration.ts';

test('DEFAULT_CALIBRATION is src/models/migration-calibration.json, valid', () => {
  const file = JSON.parse(readFileSync(new URL('./migration-calibration.json', import.meta.url), 'utf8'));
  assert.deepEqual(DEFAULT_CALIBRATION, file);
  assert.equal(checkMigrationCalibration(file), file);
});

test('a bad calibration is refused with every bad field named', () => {
  assert.throws(() => checkMigrationCalibration(null), /expected an object, got null/);
  assert.throws(() => checkMigrationCalibration([]), CalibrationError);
  const bad = structuredClone(DEFAULT_CALIBRATION) as unknown as Record<string, unknown>;
  bad.dirtySampleGain = 'fast';
  (bad.modes as Record<string, Record<string, unknown>>).precopy!.streamMiBps = -3;
  delete (bad.modes as Record<string, unknown>).postcopy;
  assert.throws(
    () => checkMigrationCalibration(bad, 'my.json'),
    (e: Error) =>
      e instanceof CalibrationError &&
      /^Bad my\.json: /.test(e.message) &&
      e.message.includes('dirtySampleGain must be a number, got "fast"') &&
      e.message.includes('modes["precopy"].streamMiBps must be in 0.1..1000000, got -3') &&
      e.message.includes('modes["postcopy"] is missing'),
  );
  const noModes = { ...DEFAULT_CALIBRATION, modes: undefined };
  assert.throws(() => checkMigrationCalibration(noModes), /modes must be an object/);
});

test('the models and the planner use the calibration they are given, the file by default', () => {
  const i = { memMiB: 1024, usedMiB: 600, dirtyMiBps: 20, bandwidthMbps: 10_000 };
  const o = { mode: 'precopy' as const, maxDowntimeMs: 300 };
  assert.deepEqual(predictMigration(i, o), predictMigration(i, o, DEFAULT_CALIBRATION));
  const slow = uniformCalibration({ streamMiBps: 50 });
  const fast = uniformCalibration({ streamMiBps: 500 });
  const idle = { ...i, dirtyMiBps: 0 };
  assert.ok(
    Math.abs(predictMigration(idle, o, slow).totalMs / predictMigration(idle, o, fast).totalMs - 10) < 1e-3,
  );
  const p = { ...i, downtimeTargetMs: 300 };
  assert.deepEqual(planMigration(p), planMigration(p, DEFAULT_CALIBRATION));
  // At 50 MiB/s a guest dirtying 40 MiB/s over 600 MiB cannot move within 10 s, in any mode.
  const hot = { ...p, dirtyMiBps: 40, maxTotalMs: 10_000, allowCompression: false, allowAutoConverge: false };
  assert.equal(planMigration(hot, fast).options?.mode, 'precopy');
  const refused = planMigration(hot, slow);
  assert.equal(refused.ok, false);
  assert.match(refused.reason, /No setting meets 300 ms downtime within 10000 ms/);
});

test('each mode has its own parameters: a slower zstd stream slows only multifd zstd', () => {
  const cal = structuredClone(DEFAULT_CALIBRATION);
  cal.modes['precopy+multifd-zstd'].streamMiBps /= 4;
  cal.modes['precopy+multifd-zstd'].linkEfficiency = 10;
  const i = { memMiB: 512, usedMiB: 300, dirtyMiBps: 0, bandwidthMbps: 100_000 };
  const z = { mode: 'precopy' as const, multifdZstd: true };
  assert.ok(predictMigration(i, z, cal).totalMs > predictMigration(i, z).totalMs);
  assert.equal(
    predictMigration(i, { mode: 'precopy' }, cal).totalMs,
    predictMigration(i, { mode: 'precopy' }).totalMs,
  );
});
