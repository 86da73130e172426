import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import fc from 'fast-check';
import { checkAll, checkerFor, constraintState, type Constraint } from '../../core/constraints/index.ts';
import { planOptimal } from '../../policies/optimize/optimal-plan.ts';
import {
  checkPlan,
  DEFAULT_PLAN_OPTIONS,
  type PlanCluster,
  type PlanHost,
} from '../../policies/plans/plan.ts';
import { highsSolver } from './highs-solver.ts';

const solver = highsSolver();
const opts = { ...DEFAULT_PLAN_OPTIONS, spareHosts: 0 };

/** A random cluster (two zones, racks, a host in maintenance now and then) with the constraints its placement keeps. */
const arbCluster = fc
  .record({
    hosts: fc.array(
      fc.record({
        zone: fc.constantFrom('z1', 'z2'),
        rack: fc.constantFrom('r1', 'r2'),
        state: fc.constantFrom('up', 'up', 'up', 'maintenance') as fc.Arbitrary<PlanHost['state']>,
      }),
      { minLength: 2, maxLength: 5 },
    ),
    vms: fc.array(
      fc.record({
        h: fc.nat(),
        vcpus: fc.integer({ min: 1, max: 6 }),
        mem: fc.constantFrom(1024, 4096, 8192),
      }),
      { maxLength: 9 },
    ),
    kinds: fc.array(fc.constantFrom('anti-affinity', 'affinity', 'spread', 'ban', 'max-per-host'), {
      maxLength: 3,
    }),
    pick: fc.array(fc.nat(), { minLength: 6, maxLength: 6 }),
  })
  .map(({ hosts, vms, kinds, pick }): PlanCluster => {
    const hs: PlanHost[] = hosts.map((h, i) => ({
      id: `h${i}`,
      name: `h${i}`,
      state: h.state,
      capacity: { vcpus: 16, memoryMiB: 32768 },
      idleW: 100,
      zone: h.zone,
      rack: h.rack,
    }));
    const used = new Map(hs.map((h) => [h.id, { v: 0, m: 0 }]));
    const placed: PlanCluster['vms'] = [];
    vms.forEach((x, i) => {
      const h = hs[x.h % hs.length]!;
      const u = used.get(h.id)!;
      if (u.v + x.vcpus > 16 || u.m + x.mem > 32768) return;
      u.v += x.vcpus;
      u.m += x.mem;
      placed.push({
        id: `v${i}`,
        name: `v${i}`,
        hostId: h.id,
        vcpus: x.vcpus,
        memoryMiB: x.mem,
        sinceMigrationS: Infinity,
      });
    });
    const ids = placed.map((v) => v.id);
    const some = (k: number) =>
      ids.filter((_, i) => (pick[k]! >> i) % 2 === 1 || i === k % Math.max(1, ids.length));
    const cs = kinds.map((type, k): Constraint => {
      const base = { id: `c${k}`, hard: true, vms: some(k) };
      if (type === 'spread') return { ...base, type, over: 'rack' };
      if (type === 'ban') return { ...base, type, hosts: [`h${pick[k]! % hs.length}`] };
      if (type === 'max-per-host') return { ...base, type, max: 2 };
      return { ...base, type };
    });
    const s = constraintState(
      hs,
      placed.map((v) => [v.id, v.hostId] as const),
    );
    return { hosts: hs, vms: placed, constraints: cs.filter((c) => checkerFor(c).check(s).length === 0) };
  });

test('property: every optimal plan passes checkPlan in every intermediate state, keeps zones and ends in a valid state', async () => {
  let withMoves = 0;
  await fc.assert(
    fc.asyncProperty(arbCluster, async (c) => {
      let plan;
      try {
        ({ plan } = await planOptimal(c, opts, solver, { timeLimitS: 10 }));
      } catch (e) {
        assert.ok(e instanceof RangeError, String(e)); // moves no order can make fit: refused with the reason
        return;
      }
      assert.deepEqual(checkPlan(c, plan), []);
      const zone = new Map(c.hosts.map((h) => [h.id, h.zone]));
      const where = new Map(c.vms.map((v) => [v.id, v.hostId]));
      for (const a of plan.actions)
        if (a.type === 'migrate') {
          assert.equal(zone.get(a.to), zone.get(where.get(a.vmId)!));
          assert.equal(c.hosts.find((h) => h.id === a.to)!.state, 'up');
          where.set(a.vmId, a.to);
        }
      assert.deepEqual(checkAll(c.constraints!, constraintState(c.hosts, [...where])), []);
      assert.match(plan.summary, /optimizer: /);
      if (plan.actions.some((a) => a.type === 'migrate')) withMoves++;
    }),
    { numRuns: 20, seed: 141 },
  );
  assert.ok(withMoves >= 3, `only ${withMoves} plan(s) moved a VM`);
});
