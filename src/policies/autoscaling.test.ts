import assert from 'node:assert/strict';
import { test } from 'node:test';
import { scalingDecision } from './autoscaling.ts';

const g = { min: 1, max: 6, desired: 2, secondsSinceLastScale: 1000 };
const pol = {
  scaleOutAbove: 70,
  scaleInBelow: 20,
  adjustmentType: 'change' as const,
  adjustment: 2,
  cooldownS: 300,
};

test('scaling by change, exact and percent, clamped to [min, max], with a cooldown', () => {
  assert.equal(scalingDecision(g, pol, 80).desired, 4);
  assert.equal(scalingDecision(g, pol, 10).desired, 1); // 2 − 2 = 0, clamped to min 1
  assert.equal(scalingDecision(g, pol, 50).desired, 2);
  assert.equal(scalingDecision({ ...g, desired: 6 }, pol, 99).desired, 6);
  assert.match(
    scalingDecision({ ...g, secondsSinceLastScale: 100 }, pol, 99).reason,
    /in cooldown \(100 of 300 s\)/,
  );
  assert.equal(
    scalingDecision(g, { ...pol, adjustmentType: 'exact', adjustment: 5, exactIn: 2 }, 99).desired,
    5,
  );
  // percent: 50 % of 2 = 1 (at least one)
  assert.equal(scalingDecision(g, { ...pol, adjustmentType: 'percent', adjustment: 50 }, 99).desired, 3);
  assert.throws(() => scalingDecision(g, { ...pol, scaleInBelow: 80 }, 50), /must be below/);
});
