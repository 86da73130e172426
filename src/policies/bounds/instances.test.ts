import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { lowerBound } from './bounds.ts';
import {
  BASELINES,
  planetLabInstance,
  randomInstance,
  runHeuristic,
  solutionOf,
  type TraceDay,
} from './instances.ts';

test('random instances are seeded: the same options give the same instance, another seed another', () => {
  const a = randomInstance({ vms: 50, seed: 7, shape: 'bimodal', start: true });
  const b = randomInstance({ vms: 50, seed: 7, shape: 'bimodal', start: true });
  const c = randomInstance({ vms: 50, seed: 8, shape: 'bimodal', start: true });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.vms, c.vms);
  assert.equal(a.vms.length, 50);
  assert.deepEqual(a.dims, ['cpu', 'memoryMiB']);
});

test('a random start placement never overfills a host and places every VM when there is room', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 1000 }),
      fc.constantFrom('uniform', 'bimodal', 'large' as const),
      (seed, shape) => {
        const p = randomInstance({ vms: 80, seed, shape, start: true });
        const used = new Map<string, number[]>();
        for (const v of p.vms) {
          assert.ok(v.hostId, `${v.id} has a start host`);
          const u = used.get(v.hostId) ?? [0, 0];
          v.demand.forEach((x, d) => (u[d] = u[d]! + x));
          used.set(v.hostId, u);
        }
        for (const h of p.hosts) (used.get(h.id) ?? [0, 0]).forEach((x, d) => assert.ok(x <= h.capacity[d]!));
      },
    ),
    { numRuns: 30, seed: 14 },
  );
});

test('every baseline places every VM within capacity and never beats the lower bound', () => {
  for (const shape of ['uniform', 'bimodal', 'large'] as const) {
    const p = randomInstance({ vms: 300, seed: 3, shape, start: true });
    const lb = lowerBound(p).hosts;
    for (const h of BASELINES) {
      const s = runHeuristic(p, h);
      assert.equal(s.placement.size, p.vms.length);
      const used = new Map<string, number[]>();
      for (const v of p.vms) {
        const to = s.placement.get(v.id)!;
        const u = used.get(to) ?? [0, 0];
        v.demand.forEach((x, d) => (u[d] = u[d]! + x));
        used.set(to, u);
      }
      for (const host of p.hosts)
        (used.get(host.id) ?? [0, 0]).forEach((x, d) => assert.ok(x <= host.capacity[d]! + 1e-9));
      assert.equal(s.hostsUsed, used.size);
      assert.ok(s.hostsUsed >= lb, `${h} used ${s.hostsUsed} < bound ${lb}`);
      assert.ok(s.migrations <= p.vms.length);
    }
  }
});

test('runHeuristic names a VM that fits on no host', () => {
  const p = randomInstance({ vms: 3, seed: 1, hosts: 1 });
  const big = { ...p, vms: [...p.vms, { id: 'huge', demand: [1000, 1], moveCostS: 1 }] };
  assert.throws(() => runHeuristic(big, 'ffd'), /huge fits on no host/);
});

test('solutionOf counts hosts, migrations and their cost from the current hosts', () => {
  const p = {
    dims: ['cpu'],
    hosts: [],
    vms: [
      { id: 'a', demand: [1], hostId: 'h1', moveCostS: 2 },
      { id: 'b', demand: [1], hostId: 'h2', moveCostS: 3 },
      { id: 'c', demand: [1], moveCostS: 5 },
    ],
  };
  const s = solutionOf(p, ['h1', 'h1', 'h3']);
  assert.equal(s.hostsUsed, 2);
  assert.equal(s.migrations, 1);
  assert.equal(s.moveCostS, 3);
});

test('PlanetLab-derived instances: demand = utilization × the type MIPS, RAM of the type, G4/G5 hosts', () => {
  const spv = 289;
  const day: TraceDay = { names: ['a', 'b', 'c', 'd'], samplesPerVm: spv, samples: new Uint8Array(4 * spv) };
  for (let v = 0; v < 4; v++)
    for (let k = 0; k < spv; k++) day.samples[v * spv + k] = (10 * (v + 1) + k) % 100;
  const p = planetLabInstance(day, { interval: 5, seed: 1 });
  assert.deepEqual(
    p.vms.map((v) => v.demand),
    [
      [0.15 * 2500, 870],
      [0.25 * 2000, 1740],
      [0.35 * 1000, 1740],
      [0.45 * 500, 613],
    ],
  );
  assert.deepEqual(
    p.hosts.map((h) => h.capacity),
    [
      [3720, 4096],
      [5320, 4096],
      [3720, 4096],
      [5320, 4096],
    ],
  );
  assert.equal(p.hosts[0]!.idleW, 86);
  assert.equal(p.hosts[1]!.idleW, 93.7);
  // beyond the day's files, VMs reuse files at a shifted interval
  const big = planetLabInstance(day, { interval: 5, vms: 8, seed: 1 });
  assert.equal(big.vms[4]!.name, 'a');
  assert.equal(big.vms[4]!.demand[0], (((10 + 42) % 100) / 100) * 1000);
  assert.throws(() => planetLabInstance(day, { interval: 288, seed: 1 }), /interval/);
});
