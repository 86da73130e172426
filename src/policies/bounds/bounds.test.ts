import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { PackInstance } from '../optimize/instance.ts';
import { boundGap, l1Bound, l2Bound, l2Identical, lowerBound } from './bounds.ts';

/** An instance with one host per capacity vector and one VM per demand vector. */
function inst(
  caps: number[][],
  demands: number[][],
  dims = (caps[0] ?? [0]).map((_, d) => `d${d}`),
): PackInstance {
  return {
    dims,
    hosts: caps.map((capacity, i) => ({ id: `h${i}`, name: `h${i}`, capacity, idleW: 100, on: true })),
    vms: demands.map((demand, i) => ({ id: `v${i}`, demand, moveCostS: 1 })),
  };
}

/** Fewest hosts of any feasible placement, by trying every assignment (Infinity if none fits). */
function bruteForceOptimum(p: PackInstance): number {
  const H = p.hosts.length,
    N = p.vms.length,
    D = p.dims.length;
  const used = p.hosts.map(() => new Array<number>(D).fill(0));
  const count = new Array<number>(H).fill(0);
  let best = Infinity;
  const go = (i: number, open: number) => {
    if (open >= best) return;
    if (i === N) {
      best = open;
      return;
    }
    const dem = p.vms[i]!.demand;
    for (let h = 0; h < H; h++) {
      if (!dem.every((x, d) => used[h]![d]! + x <= p.hosts[h]!.capacity[d]! + 1e-9)) continue;
      dem.forEach((x, d) => (used[h]![d]! += x));
      count[h]!++;
      go(i + 1, open + (count[h] === 1 ? 1 : 0));
      count[h]!--;
      dem.forEach((x, d) => (used[h]![d]! -= x));
    }
  };
  go(0, 0);
  return best;
}

test('table: known L1 and L2 values (L2 > L1 when large items cannot share a bin)', () => {
  const rows: { C: number; items: number[]; l1: number; l2: number }[] = [
    // three items above C/2: no two share a bin, L1 = ⌈18/10⌉ = 2, L2 = 3
    { C: 10, items: [6, 6, 6], l1: 2, l2: 3 },
    // Martello & Toth's L2 example pattern: 4 items of 51 with C = 100, L1 = 3, L2 = 4
    { C: 100, items: [51, 51, 51, 51], l1: 3, l2: 4 },
    // K = 5: J1 = {6, 6} (> C − K), J3 = {5, 5, 5}: L2 = 2 + ⌈15/10⌉ = 4 (the optimum); L1 = ⌈27/10⌉ = 3
    { C: 10, items: [6, 6, 5, 5, 5], l1: 3, l2: 4 },
    // K = 4: J1 = {7, 7} (> 6), J3 = {4, 4, 4}: 2 + ⌈12/10⌉ = 4; L1 = ⌈26/10⌉ = 3
    { C: 10, items: [7, 7, 4, 4, 4], l1: 3, l2: 4 },
    // Falkenauer's triplet class (J. Heuristics 2(1), 1996): items in (250, 500), each triple fills a bin of
    // 1000 exactly, so L1 = L2 = the optimum n/3
    { C: 1000, items: [380, 330, 290, 260, 370, 370, 449, 300, 251], l1: 3, l2: 3 },
    // small items only: L2 = L1
    { C: 10, items: [3, 3, 3, 3], l1: 2, l2: 2 },
    { C: 10, items: [], l1: 0, l2: 0 },
  ];
  for (const r of rows) {
    const p = inst(
      r.items.map(() => [r.C]),
      r.items.map((x) => [x]),
    );
    assert.equal(l1Bound(p).value, r.l1, `L1 of ${r.items} in ${r.C}`);
    assert.equal(l2Bound(p).value, r.l2, `L2 of ${r.items} in ${r.C}`);
    assert.equal(l2Identical(r.items, r.C), r.l2);
  }
});

test('L1 with unequal hosts counts the fewest largest hosts', () => {
  // total 14: the 10 alone is not enough, 10 + 5 is
  assert.equal(l1Bound(inst([[5], [10], [2]], [[7], [7]])).value, 2);
  assert.equal(l1Bound(inst([[5], [10], [2]], [[3], [3]])).value, 1);
});

test('lowerBound takes the maximum over dimensions and bounds and names the winner', () => {
  // CPU: L1 = 1; memory: three items over half the capacity, L1 = 2, L2 = 3
  const p = inst(
    [
      [100, 10],
      [100, 10],
      [100, 10],
    ],
    [
      [10, 6],
      [10, 6],
      [10, 6],
    ],
    ['cpu', 'mem'],
  );
  const lb = lowerBound(p);
  assert.equal(lb.hosts, 3);
  assert.deepEqual(lb.winner, { bound: 'l2', dim: 'mem' });
  assert.deepEqual(lb.l1.perDim, [1, 2]);
  assert.deepEqual(lb.l2.perDim, [1, 3]);
  const l1wins = lowerBound(inst([[10], [10]], [[4], [4], [4]]));
  assert.deepEqual(l1wins.winner, { bound: 'l1', dim: 'd0' });
  assert.equal(l1wins.hosts, 2);
});

test('an item larger than every host gives a bound above the number of hosts (infeasible)', () => {
  const p = inst([[10], [10]], [[11]]);
  assert.equal(lowerBound(p).hosts, 3);
});

test('boundGap is relative to the hosts used', () => {
  assert.equal(boundGap(10, 8), 0.2);
  assert.equal(boundGap(0, 0), 0);
  assert.equal(boundGap(5, 5), 0);
});

const smallInstance = fc
  .record({
    dims: fc.integer({ min: 1, max: 2 }),
    identical: fc.boolean(),
    hosts: fc.integer({ min: 1, max: 4 }),
    vms: fc.integer({ min: 0, max: 7 }),
    seedCaps: fc.array(fc.integer({ min: 4, max: 20 }), { minLength: 8, maxLength: 8 }),
    seedDemands: fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 14, maxLength: 14 }),
  })
  .map((r) => {
    const caps = Array.from({ length: r.hosts }, (_, h) =>
      Array.from({ length: r.dims }, (_, d) => (r.identical ? r.seedCaps[d]! : r.seedCaps[(h * 2 + d) % 8]!)),
    );
    const demands = Array.from({ length: r.vms }, (_, i) =>
      Array.from({ length: r.dims }, (_, d) => r.seedDemands[(i * 2 + d) % 14]!),
    );
    return inst(caps, demands);
  });

test('property: every bound is at most the brute-forced optimum of small feasible instances', () => {
  fc.assert(
    fc.property(smallInstance, (p) => {
      const opt = bruteForceOptimum(p);
      const lb = lowerBound(p);
      if (opt === Infinity) {
        // infeasible: nothing to compare with, but the bound must not claim fewer hosts than L1
        assert.ok(lb.hosts >= lb.l1.value);
        return;
      }
      assert.ok(lb.l1.value <= opt, `L1 ${lb.l1.value} > optimum ${opt}`);
      assert.ok(lb.l2.value <= opt, `L2 ${lb.l2.value} > optimum ${opt}`);
      assert.ok(lb.hosts <= opt);
      assert.equal(lb.hosts, Math.max(...lb.l1.perDim, ...lb.l2.perDim, 0));
    }),
    { numRuns: 400, seed: 14 },
  );
});

test('property: with identical hosts L2 is at least L1 (Martello & Toth: L2 dominates L1)', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 30 }), (items) => {
      const p = inst(
        items.map(() => [100]),
        items.map((x) => [x]),
      );
      assert.ok(l2Bound(p).value >= l1Bound(p).value);
    }),
    { numRuns: 300, seed: 14 },
  );
});
