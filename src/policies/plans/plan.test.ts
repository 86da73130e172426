import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { seededRandom } from '../../runtime/random.ts';
import {
  checkPlan,
  orderMoves,
  planConsolidation,
  scheduleWaves,
  type PlanAction,
  type PlanCluster,
} from './plan.ts';

const host = (id: string, vcpus = 16, memoryMiB = 32768) => ({
  id,
  name: id,
  state: 'up' as const,
  capacity: { vcpus, memoryMiB },
  idleW: 100,
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

test('the least used host is emptied onto the fullest host with room, then switched off', () => {
  const c: PlanCluster = {
    hosts: [host('a'), host('b'), host('c')],
    vms: [vm('v1', 'a'), vm('v2', 'b'), vm('v3', 'b'), vm('v4', 'c'), vm('v5', 'c'), vm('v6', 'c')],
  };
  const p = planConsolidation(c, opts);
  // a (1 VM) empties onto c (fullest), b (2 VMs) onto c too; c ends with 6 × 4096 = 24 GiB ≤ 32 GiB
  assert.deepEqual(
    p.actions.map((x) => (x.type === 'migrate' ? `${x.vmId}:${x.from}→${x.to}` : `off:${x.hostId}`)),
    ['v1:a→c', 'v2:b→c', 'v3:b→c', 'off:a', 'off:b'],
  );
  assert.deepEqual(checkPlan(c, p), []);
  assert.equal(p.gainWatts, 200);
  assert.match(p.actions[0]!.reason, /empty a \(13 % used\) to switch it off; c has room/);
});

test('spares stay on; VMs moved recently are held down; moves that do not pay back are not proposed', () => {
  const c: PlanCluster = { hosts: [host('a'), host('b')], vms: [vm('v1', 'a'), vm('v2', 'b')] };
  assert.equal(
    planConsolidation(c, { ...opts, spareHosts: 1 }).actions.filter((a) => a.type === 'power-off').length,
    0,
  );
  const recent = {
    ...c,
    vms: [
      { ...vm('v1', 'a'), sinceMigrationS: 60 },
      { ...vm('v2', 'b'), sinceMigrationS: 60 },
    ],
  };
  assert.deepEqual(planConsolidation(recent, opts).actions, []);
  // 4 GiB moved at 20 J/MiB = 82 kJ > 100 W × 600 s = 60 kJ: not worth it over a 10-minute horizon
  assert.deepEqual(planConsolidation(c, { ...opts, paybackHorizonS: 600 }).actions, []);
});

test('the checker catches a target without room during the migration and a host switched off with VMs', () => {
  const c: PlanCluster = {
    hosts: [host('a', 4, 8192), host('b', 4, 8192)],
    vms: [vm('v1', 'a', 2, 4096), vm('v2', 'b', 2, 6144)],
  };
  const bad = {
    actions: [
      {
        type: 'migrate' as const,
        vmId: 'v1',
        vmName: 'v1',
        from: 'a',
        to: 'b',
        reason: '',
        cost: { timeS: 1, dataMiB: 1 },
      },
      { type: 'power-off' as const, hostId: 'b', hostName: 'b', reason: '', gain: { wattsSaved: 1 } },
    ],
    summary: '',
    gainWatts: 0,
    costTimeS: 0,
    costDataMiB: 0,
  };
  const v = checkPlan(c, bad);
  assert.match(v[0]!.reason, /target b has no room for v1 while it migrates \(4\/4 vCPUs, 10240\/8192 MiB\)/);
  assert.match(v[1]!.reason, /cannot switch b off: v2 still on it/);
});

const arbCluster = fc
  .integer({ min: 2, max: 10 })
  .chain((H) =>
    fc.record({
      hosts: fc.constant(Array.from({ length: H }, (_, i) => host(`h${i}`, 16, 32768))),
      vms: fc.array(
        fc.record({
          h: fc.integer({ min: 0, max: H - 1 }),
          v: fc.integer({ min: 1, max: 8 }),
          m: fc.constantFrom(512, 2048, 4096, 8192),
        }),
        { maxLength: 40 },
      ),
    }),
  )
  .map(({ hosts, vms }) => {
    const used = new Map(hosts.map((h) => [h.id, { v: 0, m: 0 }]));
    const ok = vms.filter((x) => {
      const u = used.get(`h${x.h}`)!;
      if (u.v + x.v > 16 || u.m + x.m > 32768) return false;
      u.v += x.v;
      u.m += x.m;
      return true;
    });
    return { hosts, vms: ok.map((x, i) => vm(`v${i}`, `h${x.h}`, x.v, x.m)) } as PlanCluster;
  });

test('property: every plan the planner emits passes the checker and keeps every VM on exactly one up host', () => {
  fc.assert(
    fc.property(arbCluster, (c) => {
      const p = planConsolidation(c, opts);
      assert.deepEqual(checkPlan(c, p), []);
      const where = new Map(c.vms.map((v) => [v.id, v.hostId]));
      for (const a of p.actions) if (a.type === 'migrate') where.set(a.vmId, a.to);
      const off = new Set(
        p.actions.filter((a) => a.type === 'power-off').map((a) => (a.type === 'power-off' ? a.hostId : '')),
      );
      for (const h of where.values()) assert.ok(!off.has(h), 'no VM ends on a switched-off host');
    }),
    { numRuns: 300, seed: 5 },
  );
});

test('property: the checker catches every capacity violation of a reordered plan', () => {
  fc.assert(
    fc.property(arbCluster, fc.nat(), (c, seed) => {
      const p = planConsolidation(c, opts);
      if (p.actions.length < 2) return;
      // Move the power-offs to the front: any host that still had VMs must be reported.
      const reordered = {
        ...p,
        actions: [
          ...p.actions.filter((a) => a.type === 'power-off'),
          ...p.actions.filter((a) => a.type === 'migrate'),
        ],
      };
      const offsWithVms = reordered.actions.filter(
        (a) => a.type === 'power-off' && c.vms.some((v) => v.hostId === a.hostId),
      ).length;
      const v = checkPlan(c, reordered);
      assert.ok(v.filter((x) => /cannot switch/.test(x.reason)).length >= offsWithVms, `seed ${seed}`);
    }),
    { numRuns: 200, seed: 6 },
  );
});

/** Independent oracle: recompute every host's usage from scratch at each step (no running sums). */
function firstViolation(c: PlanCluster, actions: PlanAction[]): number {
  const where = new Map(c.vms.map((v) => [v.id, v.hostId]));
  const state = new Map(c.hosts.map((h) => [h.id, h.state as string]));
  const usage = (h: string, extra?: PlanCluster['vms'][number]) => {
    let vcpus = extra?.vcpus ?? 0,
      mem = extra?.memoryMiB ?? 0;
    for (const v of c.vms)
      if (where.get(v.id) === h) {
        vcpus += v.vcpus;
        mem += v.memoryMiB;
      }
    const k = c.hosts.find((x) => x.id === h)!.capacity;
    return vcpus <= k.vcpus && mem <= k.memoryMiB;
  };
  for (const [i, a] of actions.entries()) {
    if (a.type === 'migrate') {
      const v = c.vms.find((x) => x.id === a.vmId)!;
      if (where.get(v.id) !== a.from || state.get(a.to) !== 'up' || a.to === a.from || !usage(a.to, v))
        return i;
      where.set(v.id, a.to);
    } else if (a.type === 'power-on') {
      if (state.get(a.hostId) !== 'off') return i;
      state.set(a.hostId, 'up');
    } else {
      if ([...where.values()].includes(a.hostId)) return i;
      state.set(a.hostId, 'off');
    }
  }
  return -1;
}

const arbPlanOn = (c: PlanCluster) =>
  fc
    .array(
      fc.oneof(
        fc.record({ v: fc.nat(), to: fc.nat() }).map(({ v, to }): PlanAction | null => {
          if (!c.vms.length) return null;
          const x = c.vms[v % c.vms.length]!;
          // "from" is where the VM started; after an earlier move of the same VM it is stale on purpose.
          return {
            type: 'migrate',
            vmId: x.id,
            vmName: x.name,
            from: x.hostId,
            to: c.hosts[to % c.hosts.length]!.id,
            reason: '',
            cost: { timeS: 1, dataMiB: 1 },
          };
        }),
        fc.record({ h: fc.nat(), on: fc.boolean() }).map(({ h, on }): PlanAction => {
          const x = c.hosts[h % c.hosts.length]!;
          return on
            ? { type: 'power-on', hostId: x.id, hostName: x.name, reason: '', cost: { watts: 1 } }
            : { type: 'power-off', hostId: x.id, hostName: x.name, reason: '', gain: { wattsSaved: 1 } };
        }),
      ),
      { maxLength: 12 },
    )
    .map((xs) => xs.filter((x): x is PlanAction => x !== null));

test('property: on random plans the checker flags a violation exactly when an intermediate state breaks capacity or a constraint, at the first such action', () => {
  fc.assert(
    fc.property(
      arbCluster.chain((c) => fc.tuple(fc.constant(c), arbPlanOn(c))),
      ([c, actions]) => {
        const v = checkPlan(c, { actions, summary: '', gainWatts: 0, costTimeS: 0, costDataMiB: 0 });
        const first = firstViolation(c, actions);
        assert.equal(v.length > 0, first >= 0);
        if (first >= 0) assert.equal(v[0]!.action, first);
      },
    ),
    { numRuns: 500, seed: 7 },
  );
});

test('waves: concurrent migrations stay within every host even before any source is released, and within the limits', () => {
  fc.assert(
    fc.property(
      arbCluster,
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 1, max: 6 }),
      (c, perHost, perCluster) => {
        const p = planConsolidation(c, opts);
        const waves = scheduleWaves(c, p, { perHost, perCluster });
        assert.deepEqual(
          waves.flat(),
          p.actions.map((_, i) => i),
          'every action once, in plan order',
        );
        const where = new Map(c.vms.map((v) => [v.id, v.hostId]));
        for (const w of waves) {
          const moves = w.map((i) => p.actions[i]!).filter((a) => a.type === 'migrate');
          if (moves.length !== w.length) {
            assert.equal(w.length, 1, 'a power action runs alone');
            continue;
          }
          assert.ok(moves.length <= perCluster);
          for (const h of c.hosts) {
            const touching = moves.filter((a) => a.from === h.id || a.to === h.id).length;
            assert.ok(touching <= perHost, `${touching} migrations touch ${h.id}`);
            // Worst moment: every incoming VM already holds room, no outgoing one has left yet.
            const on = c.vms.filter(
              (v) => where.get(v.id) === h.id || moves.some((a) => a.vmId === v.id && a.to === h.id),
            );
            assert.ok(
              on.reduce((s, v) => s + v.vcpus, 0) <= h.capacity.vcpus &&
                on.reduce((s, v) => s + v.memoryMiB, 0) <= h.capacity.memoryMiB,
            );
          }
          for (const a of moves) where.set(a.vmId, a.to);
        }
      },
    ),
    { numRuns: 300, seed: 8 },
  );
});

test('a swap between two full hosts is routed through a free host; without one the reason is given', () => {
  const c: PlanCluster = {
    hosts: [host('a', 4, 8192), host('b', 4, 8192), host('c', 4, 8192)],
    vms: [vm('x', 'a', 4, 8192), vm('y', 'b', 4, 8192)],
  };
  const actions = orderMoves(c, [
    { vmId: 'x', to: 'b' },
    { vmId: 'y', to: 'a' },
  ]);
  assert.deepEqual(
    actions.map((a) => (a.type === 'migrate' ? `${a.vmId}:${a.from}→${a.to}` : a.type)),
    ['x:a→c', 'y:b→a', 'x:c→b'],
  );
  assert.match(actions[0]!.reason, /through c to break a cycle/);
  assert.deepEqual(checkPlan(c, { actions, summary: '', gainWatts: 0, costTimeS: 0, costDataMiB: 0 }), []);
  const noSpare = { ...c, hosts: c.hosts.slice(0, 2) };
  assert.throws(
    () =>
      orderMoves(noSpare, [
        { vmId: 'x', to: 'b' },
        { vmId: 'y', to: 'a' },
      ]),
    /wait on each other's room and no other host can hold x/,
  );
  assert.throws(
    () => orderMoves(c, [{ vmId: 'x', to: 'b' }]),
    /b has no room for x and none of the requested moves frees any/,
  );
});

test('property: requested moves to a feasible final placement are ordered into a plan that passes the checker and ends there', () => {
  fc.assert(
    fc.property(arbCluster, fc.nat(), (c0, seed) => {
      // One spare host keeps a route open for cycles.
      const c = { ...c0, hosts: [...c0.hosts, host('spare', 16, 32768)] };
      // A feasible target placement: a seeded shuffle of the VMs onto the original hosts, first fit.
      const r = seededRandom(seed);
      const used = new Map(c0.hosts.map((h) => [h.id, { v: 0, m: 0 }]));
      const moves: { vmId: string; to: string }[] = [];
      for (const v of c.vms) {
        const order = c0.hosts.map((h) => h.id).sort(() => r.next() - 0.5);
        const to =
          order.find((h) => {
            const u = used.get(h)!;
            return u.v + v.vcpus <= 16 && u.m + v.memoryMiB <= 32768;
          }) ?? v.hostId;
        const u = used.get(to)!;
        u.v += v.vcpus;
        u.m += v.memoryMiB;
        moves.push({ vmId: v.id, to });
      }
      const actions = orderMoves(c, moves);
      assert.deepEqual(
        checkPlan(c, { actions, summary: '', gainWatts: 0, costTimeS: 0, costDataMiB: 0 }),
        [],
      );
      const where = new Map(c.vms.map((v) => [v.id, v.hostId]));
      for (const a of actions) if (a.type === 'migrate') where.set(a.vmId, a.to);
      for (const m of moves) assert.equal(where.get(m.vmId), m.to);
    }),
    { numRuns: 300, seed: 9 },
  );
});

test('grace period: a host is switched off only after it has been empty that long; hosts emptied by the plan wait for a later round', () => {
  const c: PlanCluster = {
    hosts: [{ ...host('a'), emptyForS: 300 }, { ...host('b'), emptyForS: 900 }, host('c'), host('d')],
    vms: [vm('v1', 'c'), vm('v2', 'd'), vm('v3', 'd')],
  };
  const withGrace = planConsolidation(c, { ...opts, powerOffGraceS: 600 });
  assert.deepEqual(
    withGrace.actions.map((x) =>
      x.type === 'migrate' ? `${x.vmId}:${x.from}→${x.to}` : `${x.type}:${x.hostId}`,
    ),
    ['v1:c→d', 'power-off:b'],
  );
  const none = planConsolidation(c, { ...opts, powerOffGraceS: 0 });
  assert.deepEqual(
    none.actions.filter((x) => x.type === 'power-off').map((x) => (x.type === 'power-off' ? x.hostId : '')),
    ['a', 'b', 'c'],
  );
});
