import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { planConsolidation, summarize, type PlanCluster, type PlanHost } from '../plans/plan.ts';
import { planBound } from './plan-bound.ts';

const host = (id: string, zone?: string, vcpus = 16, memoryMiB = 32768): PlanHost => ({
  id,
  name: id,
  state: 'up',
  capacity: { vcpus, memoryMiB },
  idleW: 100,
  ...(zone ? { zone } : {}),
});
const vm = (id: string, hostId: string, vcpus = 2, memoryMiB = 4096) => ({
  id,
  name: id,
  hostId,
  vcpus,
  memoryMiB,
  sinceMigrationS: Infinity,
});
const opts = {
  spareHosts: 0,
  holdDownS: 3600,
  paybackHorizonS: 3600,
  migrationJPerMiB: 20,
  bandwidthMbps: 1000,
};

test('a consolidation plan reports the bound, the hosts left with VMs and the gap', () => {
  const c: PlanCluster = {
    hosts: [host('a'), host('b'), host('c')],
    vms: [vm('v1', 'a'), vm('v2', 'b'), vm('v3', 'c')],
  };
  const plan = planConsolidation(c, opts);
  assert.deepEqual(plan.bound, { lowerBoundHosts: 1, hostsAfter: 1, gap: 0 });
  assert.match(plan.summary, /; 1 host\(s\) with VMs after, lower bound 1 \(gap 0\.0 %\)$/);
});

test('the bound is the sum of the zones (VMs stay in their zone) and uses memory when it binds', () => {
  const c: PlanCluster = {
    hosts: [host('a', 'z1'), host('b', 'z1'), host('c', 'z2'), host('d', 'z2')],
    // z1: three VMs of 20 GiB: no two share a 32-GiB host (L2 = 3, capped at the zone's 2 hosts)
    vms: [vm('v1', 'a', 1, 20480), vm('v2', 'b', 1, 20480), vm('v3', 'c'), vm('v4', 'd')],
  };
  const b = planBound(c, []);
  assert.equal(b.hostsAfter, 4);
  assert.equal(b.lowerBoundHosts, 3);
  assert.equal(b.gap, 0.25);
  // a move into the other zone's hosts still counts the hosts used after it
  const moved = planBound(c, [
    {
      type: 'migrate',
      vmId: 'v4',
      vmName: 'v4',
      from: 'd',
      to: 'c',
      reason: '',
      cost: { timeS: 1, dataMiB: 1 },
    },
  ]);
  assert.equal(moved.hostsAfter, 3);
  assert.equal(moved.gap, 0);
});

test('summarize without a cluster keeps the old summary and no bound', () => {
  const p = summarize([]);
  assert.equal(p.bound, undefined);
  assert.doesNotMatch(p.summary, /lower bound/);
});

test('property: the bound never exceeds the hosts a consolidation plan leaves with VMs', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 8 }).chain((H) =>
        fc
          .array(
            fc.record({
              h: fc.integer({ min: 0, max: H - 1 }),
              v: fc.integer({ min: 1, max: 8 }),
              m: fc.constantFrom(512, 4096, 8192, 20480),
            }),
            { maxLength: 30 },
          )
          .map((xs) => ({ H, xs })),
      ),
      ({ H, xs }) => {
        const hosts = Array.from({ length: H }, (_, i) => host(`h${i}`));
        const used = hosts.map(() => [0, 0]);
        const vms = xs
          .filter((x) => {
            const u = used[x.h]!;
            if (u[0]! + x.v > 16 || u[1]! + x.m > 32768) return false;
            u[0]! += x.v;
            u[1]! += x.m;
            return true;
          })
          .map((x, i) => vm(`v${i}`, `h${x.h}`, x.v, x.m));
        const plan = planConsolidation({ hosts, vms }, opts);
        assert.ok(plan.bound);
        assert.ok(plan.bound.lowerBoundHosts <= plan.bound.hostsAfter, plan.summary);
        assert.ok(plan.bound.gap >= 0 && plan.bound.gap < 1);
      },
    ),
    { numRuns: 200, seed: 14 },
  );
});
