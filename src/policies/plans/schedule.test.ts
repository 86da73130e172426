import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Constraint } from '../../core/constraints/index.ts';
import {
  checkPlan,
  orderMoves,
  planConsolidation,
  schedulePlan,
  scheduleWaves,
  type Plan,
  type PlanAction,
  type PlanCluster,
  type PlanHost,
} from './plan.ts';
import { checkTimedSchedule } from './schedule-check.ts';

const host = (id: string, vcpus = 16, memoryMiB = 32768, o: Partial<PlanHost> = {}): PlanHost => ({
  id,
  name: id,
  state: 'up',
  capacity: { vcpus, memoryMiB },
  idleW: 100,
  ...o,
});
const vm = (id: string, hostId: string, vcpus = 2, memoryMiB = 4096) => ({
  id,
  name: id,
  hostId,
  vcpus,
  memoryMiB,
  sinceMigrationS: Infinity,
});
const migrate = (vmId: string, from: string, to: string, timeS = 10): PlanAction => ({
  type: 'migrate',
  vmId,
  vmName: vmId,
  from,
  to,
  reason: 'test',
  cost: { timeS, dataMiB: 1 },
});
const plan = (actions: PlanAction[]): Plan => ({
  actions,
  summary: '',
  gainWatts: 0,
  costTimeS: 0,
  costDataMiB: 0,
});
const models = { bootS: 120, shutdownS: 30, bandwidthMbps: 1000 };
const show = (s: ReturnType<typeof schedulePlan>) =>
  s.actions.map(
    (a) => `${a.type === 'migrate' ? `${a.vmId}:${a.from}→${a.to}` : `${a.type}:${a.hostId}`}@${a.startS}`,
  );

test('schedulePlan() starts each migration when its hosts are free, not when its wave comes (110 s instead of 130 s)', () => {
  // One migration per host at once. Waves: [v1] (100 s), [v2 v3] (v2 waits on h1; v3 joins), [v4], [v5]:
  // 100 + 10 + 10 + 10 = 130 s. Schedule: v1, v3 at 0; v4 at 10; v5 at 20; v2 when v1 frees h1 at 100: 110 s.
  const c: PlanCluster = {
    hosts: ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((h) => host(h)),
    vms: [vm('v1', 'h1'), vm('v2', 'h1'), vm('v3', 'h4'), vm('v4', 'h4'), vm('v5', 'h4')],
  };
  const p = plan([
    migrate('v1', 'h1', 'h2', 100),
    migrate('v2', 'h1', 'h3'),
    migrate('v3', 'h4', 'h5'),
    migrate('v4', 'h4', 'h5'),
    migrate('v5', 'h4', 'h6'),
  ]);
  const limits = { perHost: 1, perCluster: 8 };
  const s = schedulePlan(c, p, limits, models);
  assert.equal(s.wavesS, 130);
  assert.equal(s.makespanS, 110);
  assert.equal(s.method, 'list');
  assert.deepEqual(show(s), ['v1:h1→h2@0', 'v3:h4→h5@0', 'v4:h4→h5@10', 'v5:h4→h6@20', 'v2:h1→h3@100']);
  assert.deepEqual(checkTimedSchedule(c, s.actions, limits), []);
});

test('a migration into a host switched on waits for its boot; the power-off waits for the last move out', () => {
  const c: PlanCluster = {
    hosts: [host('a', 4, 8192), host('b', 16, 32768, { state: 'off' }), host('c')],
    vms: [vm('v1', 'a'), vm('v2', 'a')],
  };
  const p = plan([
    { type: 'power-on', hostId: 'b', hostName: 'b', reason: 'test', cost: { watts: 100 } },
    migrate('v1', 'a', 'b', 20),
    migrate('v2', 'a', 'c', 40),
    { type: 'power-off', hostId: 'a', hostName: 'a', reason: 'test', gain: { wattsSaved: 100 } },
  ]);
  const s = schedulePlan(c, p, { perHost: 2, perCluster: 8 }, models);
  // Critical path: power-on (120) → v1 (20) → off (30) = 170 s; v2 runs at 0 beside the boot.
  // At one instant migrations come first: the actions at 0 are the first wave of the stored plan.
  assert.deepEqual(show(s), ['v2:a→c@0', 'power-on:b@0', 'v1:a→b@120', 'power-off:a@140']);
  assert.equal(s.makespanS, 170);
  assert.deepEqual(s.actions[2]!.after, [1]);
  assert.deepEqual(s.actions[3]!.after, [0, 2]);
  // Waves: [on] 120, [v1 v2] 40, [off] 30.
  assert.equal(s.wavesS, 190);
  assert.deepEqual(checkTimedSchedule(c, s.actions, { perHost: 2, perCluster: 8 }), []);
});

test('a swap of two VMs on two full hosts goes through a third host with room (a pivot)', () => {
  const c: PlanCluster = {
    hosts: [host('a', 2, 4096), host('b', 2, 4096), host('c', 2, 4096)],
    vms: [vm('v1', 'a'), vm('v2', 'b')],
  };
  const p = plan([migrate('v1', 'a', 'b'), migrate('v2', 'b', 'a')]);
  assert.notDeepEqual(checkPlan(c, p), []);
  const s = schedulePlan(c, p, { perHost: 2, perCluster: 8 }, models);
  assert.equal(s.pivots, 1);
  assert.equal(s.wavesS, undefined);
  // The pivot move's time comes from the migration model (4 GiB at 1 Gbit/s, about 34 s).
  const d = s.actions[0]!.durationS;
  assert.ok(d > 30 && d < 40, String(d));
  assert.deepEqual(show(s), ['v1:a→c@0', `v2:b→a@${d}`, `v1:c→b@${d + 10}`]);
  assert.match(s.actions[0]!.reason, /through c to break a cycle/);
  assert.deepEqual(checkTimedSchedule(c, s.actions, { perHost: 2, perCluster: 8 }), []);
  // No third host: the schedule says it cannot break the cycle.
  assert.throws(
    () => schedulePlan({ ...c, hosts: c.hosts.slice(0, 2) }, p),
    /moves v1, v2 wait on each other's room and no other host can hold v1 in between/,
  );
  // A host switched off with a VM that no move takes away.
  const off: PlanAction = {
    type: 'power-off',
    hostId: 'a',
    hostName: 'a',
    reason: 'test',
    gain: { wattsSaved: 1 },
  };
  assert.throws(() => schedulePlan(c, plan([off])), /power-off of a can never start: VMs stay on it/);
});

test('noDelay: listed VMs start at 0, and the schedule names those that cannot', () => {
  const c: PlanCluster = {
    hosts: [host('a'), host('b'), host('c')],
    vms: [vm('v1', 'a'), vm('v2', 'a'), vm('v3', 'a')],
  };
  const p = plan([migrate('v1', 'a', 'b', 50), migrate('v2', 'a', 'c'), migrate('v3', 'a', 'c')]);
  const nd = (vms: string[]): Constraint => ({ id: 'nd', name: 'now', hard: true, type: 'noDelay', vms });
  const limits = { perHost: 1, perCluster: 8 };
  // Without noDelay the longest chain (v1, 50 s) starts first; with noDelay on v3, v3 does.
  assert.deepEqual(show(schedulePlan(c, p, limits, models)).slice(0, 1), ['v1:a→b@0']);
  const s = schedulePlan({ ...c, constraints: [nd(['v3'])] }, p, limits, models);
  assert.deepEqual(show(s).slice(0, 1), ['v3:a→c@0']);
  assert.deepEqual(s.noDelay, []);
  const two = schedulePlan({ ...c, constraints: [nd(['v2', 'v3'])] }, p, limits, models);
  assert.equal(two.noDelay.length, 1);
  assert.match(two.noDelay[0]!.reason, /waits 10\.0 s: noDelay "now": v3 starts at 10, not 0/);
});

const arbCluster = fc
  .integer({ min: 2, max: 8 })
  .chain((H) =>
    fc.record({
      H: fc.constant(H),
      off: fc.subarray(
        Array.from({ length: H }, (_, i) => i),
        { maxLength: 2 },
      ),
      vms: fc.array(
        fc.record({
          h: fc.integer({ min: 0, max: H - 1 }),
          v: fc.integer({ min: 1, max: 8 }),
          m: fc.constantFrom(512, 2048, 4096, 8192),
        }),
        { maxLength: 30 },
      ),
    }),
  )
  .map(({ H, off, vms }) => {
    const hosts = Array.from({ length: H }, (_, i) =>
      host(`h${i}`, 16, 32768, { state: off.includes(i) && H - off.length >= 2 ? 'off' : 'up' }),
    );
    const used = new Map(hosts.map((h) => [h.id, { v: 0, m: 0 }]));
    const ok = vms.filter((x) => {
      const h = hosts[x.h]!;
      const u = used.get(h.id)!;
      if (h.state !== 'up' || u.v + x.v > 16 || u.m + x.m > 32768) return false;
      u.v += x.v;
      u.m += x.m;
      return true;
    });
    return { hosts, vms: ok.map((x, i) => vm(`v${i}`, `h${x.h}`, x.v, x.m)) } as PlanCluster;
  });
const arbLimits = fc.record({
  perHost: fc.integer({ min: 1, max: 3 }),
  perCluster: fc.integer({ min: 1, max: 6 }),
});

test('property: a schedule is never longer than the waves of the same plan, and every instant of it is valid', () => {
  fc.assert(
    fc.property(arbCluster, arbLimits, fc.array(fc.nat(), { maxLength: 12 }), (c, limits, picks) => {
      // Consolidation plans, and operator moves ordered by orderMoves (with power-ons of off hosts first).
      const plans: Plan[] = [planConsolidation(c, { ...planOpts })];
      const up = c.hosts.filter((h) => h.state === 'up');
      const moves = picks.slice(0, c.vms.length).map((n, k) => ({
        vmId: c.vms[(n + k) % c.vms.length]!.id,
        to: up[n % up.length]!.id,
      }));
      const unique = moves.filter((m, k) => moves.findIndex((x) => x.vmId === m.vmId) === k);
      try {
        plans.push(plan(orderMoves(c, unique)));
      } catch {
        // moves that cannot be ordered are not a plan
      }
      for (const p of plans) {
        assert.deepEqual(checkPlan(c, p), []);
        const s = schedulePlan(c, p, limits, models);
        assert.ok(s.makespanS <= s.wavesS! + 1e-9, `${s.makespanS} > ${s.wavesS}`);
        assert.equal(s.actions.length, p.actions.length);
        assert.deepEqual(checkTimedSchedule(c, s.actions, limits), [], JSON.stringify(show(s)));
        // In order of start, the schedule is a plan the sequential checker accepts too, and the
        // migrations it starts at 0 are the first wave of that plan (what apply's noDelay check sees).
        assert.deepEqual(checkPlan(c, plan(s.actions)), []);
        const atOnce = [...s.actions.keys()].filter(
          (i) => s.actions[i]!.startS === 0 && s.actions[i]!.type === 'migrate',
        );
        if (atOnce.length) assert.deepEqual(scheduleWaves(c, plan(s.actions), limits)[0], atOnce);
      }
    }),
    { numRuns: 300, seed: 14 },
  );
});

test('property: unordered moves are scheduled validly (cycles through pivots) or refused with a reason', () => {
  fc.assert(
    fc.property(arbCluster, arbLimits, fc.array(fc.nat(), { maxLength: 10 }), (c, limits, picks) => {
      const up = c.hosts.filter((h) => h.state === 'up');
      if (!c.vms.length) return;
      const actions: PlanAction[] = [];
      for (const [k, n] of picks.entries()) {
        const v = c.vms[(n + k) % c.vms.length]!;
        const to = up[(n >> 3) % up.length]!.id;
        if (to !== v.hostId && !actions.some((a) => a.type === 'migrate' && a.vmId === v.id))
          actions.push(migrate(v.id, v.hostId, to, 1 + (n % 7)));
      }
      let s;
      try {
        s = schedulePlan(c, plan(actions), limits, models);
      } catch (e) {
        assert.match((e as Error).message, /wait on each other's room/);
        return;
      }
      assert.deepEqual(checkTimedSchedule(c, s.actions, limits), [], JSON.stringify(show(s)));
      // Every VM ends where it was asked to go.
      const end = new Map(c.vms.map((v) => [v.id, v.hostId]));
      for (const a of [...s.actions].sort((x, y) => x.startS - y.startS))
        if (a.type === 'migrate') end.set(a.vmId, a.to);
      for (const a of actions) if (a.type === 'migrate') assert.equal(end.get(a.vmId), a.to);
      assert.equal(s.actions.length, actions.length + s.pivots);
    }),
    { numRuns: 300, seed: 14 },
  );
});

test('property: anti-affinity holds at every instant of a schedule', () => {
  fc.assert(
    fc.property(arbCluster, arbLimits, fc.array(fc.nat(), { maxLength: 10 }), (c, limits, picks) => {
      if (c.vms.length < 2) return;
      const aa: Constraint = {
        id: 'aa',
        hard: true,
        type: 'anti-affinity',
        vms: c.vms.filter((_, i) => i % 3 === 0).map((v) => v.id),
      };
      const g = { ...c, constraints: [aa] };
      if (checkPlan(g, plan([])).length) return;
      const up = c.hosts.filter((h) => h.state === 'up');
      const moves = picks.map((n, k) => ({
        vmId: c.vms[(n + k) % c.vms.length]!.id,
        to: up[n % up.length]!.id,
      }));
      let p: Plan;
      try {
        p = plan(
          orderMoves(
            g,
            moves.filter((m, k) => moves.findIndex((x) => x.vmId === m.vmId) === k),
          ),
        );
      } catch {
        return;
      }
      const s = schedulePlan(g, p, limits, models);
      assert.ok(s.makespanS <= s.wavesS! + 1e-9);
      assert.deepEqual(checkTimedSchedule(g, s.actions, limits), [], JSON.stringify(show(s)));
    }),
    { numRuns: 200, seed: 14 },
  );
});

const planOpts = {
  spareHosts: 0,
  holdDownS: 3600,
  paybackHorizonS: 3600,
  migrationJPerMiB: 0.5,
  bandwidthMbps: 1000,
};
