import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { PackInstance } from '../../policies/optimize/instance.ts';
import { optimize } from '../../policies/optimize/optimize.ts';
import { optimizeSync } from '../../policies/optimize/optimize-sync.ts';
import { placementValid } from '../../policies/optimize/warm-start.ts';
import { highsSolver } from './highs-solver.ts';
import { highsSyncSolver } from './highs-sync.ts';

const sync = await highsSyncSolver();

test('optimizeSync proves the known optimum: three VMs of 6 on hosts of 10 need three hosts', () => {
  const inst: PackInstance = {
    dims: ['cpu'],
    hosts: ['a', 'b', 'c', 'd'].map((id) => ({ id, name: id, capacity: [10], idleW: 100, on: true })),
    vms: ['x', 'y', 'z'].map((id) => ({ id, demand: [6], hostId: 'a', moveCostS: 5 })),
  };
  const r = optimizeSync(inst, sync);
  assert.equal(r.status, 'optimal');
  assert.equal(r.incumbent!.hostsUsed, 3);
  assert.equal(r.incumbent!.migrations, 2); // one stays on a
  assert.ok(r.bound <= r.objective! + 1e-9 && r.gap < 1e-4);
});

test('property: optimizeSync reaches the objective of the worker-based optimize() on small instances', async () => {
  const worker = highsSolver();
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 }), fc.nat(3)), {
        minLength: 1,
        maxLength: 7,
      }),
      async (vms) => {
        const inst: PackInstance = {
          dims: ['cpu', 'memoryMiB'],
          hosts: [0, 1, 2, 3].map((i) => ({
            id: `h${i}`,
            name: `h${i}`,
            capacity: [10, 10],
            idleW: 100,
            on: true,
          })),
          vms: vms.map(([c, m, h], i) => ({
            id: `v${i}`,
            demand: [c, m],
            hostId: `h${h}`,
            moveCostS: 1 + i,
          })),
        };
        // Current placements may overload a host: both must repair it (or both find no placement).
        const a = optimizeSync(inst, sync);
        const b = await optimize(inst, worker, { timeLimitS: 20 });
        assert.equal(a.status === 'infeasible', b.status === 'infeasible');
        if (!a.incumbent || !b.incumbent) return;
        const hostIndex = new Map(inst.hosts.map((h, i) => [h.id, i]));
        assert.ok(
          placementValid(
            inst,
            inst.vms.map((v) => hostIndex.get(a.incumbent!.placement.get(v.id)!)!),
          ),
        );
        if (a.status === 'optimal' && b.status === 'optimal')
          assert.ok(Math.abs(a.objective! - b.objective!) < 1e-4, `${a.objective} vs ${b.objective}`);
      },
    ),
    { numRuns: 12, seed: 14 },
  );
});
