import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkPowerModel,
  facilityEnergy,
  HP_PROLIANT_ML110_G4,
  HP_PROLIANT_ML110_G5,
  idlePowerW,
  maxPowerW,
  powerW,
} from './power.ts';

test('powerW() interpolates the SPECpower table linearly between 10 % points', () => {
  const cases: [number, number, number][] = [
    // load, G4 watts, G5 watts
    [0, 86, 93.7],
    [0.1, 89.4, 97],
    [0.05, 87.7, 95.35], // halfway 86→89.4 and 93.7→97
    [0.35, 97.75, 107.5], // halfway 96→99.5 and 105→110
    [0.99, 116.7, 134.8], // 114 + 0.9·3 and 133 + 0.9·2
    [1, 117, 135],
  ];
  for (const [u, g4, g5] of cases) {
    assert.ok(Math.abs(powerW(HP_PROLIANT_ML110_G4, u) - g4) < 1e-9, `G4 at ${u}`);
    assert.ok(Math.abs(powerW(HP_PROLIANT_ML110_G5, u) - g5) < 1e-9, `G5 at ${u}`);
  }
});

test('powerW() rejects utilization outside [0, 1]', () => {
  assert.throws(() => powerW(HP_PROLIANT_ML110_G4, 1.0001), /between|\[0, 1\]/);
  assert.throws(() => powerW(HP_PROLIANT_ML110_G4, -0.1), RangeError);
  assert.throws(() => powerW(HP_PROLIANT_ML110_G4, Number.NaN), RangeError);
});

test('linear model goes from idle to peak; idle and peak helpers read both kinds', () => {
  const lin = { type: 'linear', idleW: 100, maxW: 200 } as const;
  assert.equal(powerW(lin, 0.25), 125);
  assert.equal(idlePowerW(lin), 100);
  assert.equal(maxPowerW(HP_PROLIANT_ML110_G5), 135);
  assert.equal(idlePowerW(HP_PROLIANT_ML110_G4), 86);
});

test('checkPowerModel() names what is wrong', () => {
  assert.deepEqual(checkPowerModel(HP_PROLIANT_ML110_G4), []);
  assert.match(checkPowerModel({ type: 'specpower', wattsAt: [1, 2] }).join(), /11 values/);
  assert.match(checkPowerModel({ type: 'linear', idleW: 300, maxW: 200 }).join(), /idleW <= maxW/);
  assert.equal(facilityEnergy(100, 1.5), 150);
  assert.throws(() => facilityEnergy(1, 0.9), RangeError);
});
