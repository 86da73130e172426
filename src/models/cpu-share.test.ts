import assert from 'node:assert/strict';
import { test } from 'node:test';
import { shareCpu, VmRole } from './cpu-share.ts';

test('shareCpu() gives each VM its request, capped to one core, when the sum fits', () => {
  const out = new Float64Array(3);
  // host 2 × 1860 MIPS; requests 2000 (capped to 1860), 500, 300 → 2660 ≤ 3720
  const r = shareCpu(out, 3, [2000, 500, 300], [0, 0, 0], 3720, 1860);
  assert.deepEqual([...out], [1860, 500, 300]);
  assert.equal(r.oversubscribed, false);
  assert.equal(r.availableMips, 3720 - 2660);
});

test('shareCpu() scales every VM by capacity / total and floors when oversubscribed', () => {
  const out = new Float64Array(3);
  // capped requests 1860 + 1860 + 1000 = 4720 > 3720 → factor 3720/4720 = 0.78813…
  // 1860·0.788 = 1465.9 → 1465; 1000·0.788 = 788.1 → 788
  const r = shareCpu(out, 3, [2500, 1900, 1000], [0, 0, 0], 3720, 1860);
  assert.deepEqual([...out], [1465, 1465, 788]);
  assert.equal(r.oversubscribed, true);
  assert.equal(r.availableMips, 0);
});

test('shareCpu() gives a migrating-out VM 90 % and reserves 10 % for a migrating-in VM', () => {
  const out = new Float64Array(2);
  shareCpu(out, 2, [1000, 1000], [VmRole.migratingOut, VmRole.migratingIn], 5320, 2660);
  assert.ok(Math.abs(out[0]! - 900) < 1e-9);
  assert.ok(Math.abs(out[1]! - 100) < 1e-9);
});
