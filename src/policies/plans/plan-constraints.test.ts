import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { checkAll, checkerFor, constraintState, type Constraint } from '../../core/constraints/index.ts';
import { parsePolicy } from '../registry.ts';
import { seededRandom } from '../../runtime/random.ts';
import {
  DEFAULT_LOAD_OPTIONS,
  planLoadAware,
  planSpread,
  type LoadCluster,
  type LoadHost,
  type LoadVm,
} from './load-plan.ts';
import {
  checkPlan,
  orderMoves,
  planConsolidation,
  scheduleWaves,
  type PlanAction,
  type PlanCluster,
} from './plan.ts';

const power = { type: 'linear' as const, idleW: 100, maxW: 200 };
const host = (id: string, o: Partial<LoadHost> = {}): LoadHost => ({
  id,
  name: id,
  state: 'up',
  capacity: { vcpus: 16, memoryMiB: 32768 },
  idleW: 100,
  cpus: 8,
  power,
  bandwidthMbps: 1000,
  ...o,
});
const vm = (id: string, hostId: string, o: Partial<LoadVm> = {}): LoadVm => ({
  id,
  name: id,
  hostId,
  vcpus: 2,
  memoryMiB: 4096,
  sinceMigrationS: Infinity,
  history: Array(12).fill(0.1),
  ...o,
});
const opts = {
  spareHosts: 0,
  holdDownS: 3600,
  paybackHorizonS: 3600,
  migrationJPerMiB: 20,
  bandwidthMbps: 1000,
};
const loadOpts = (policy = 'thr-mmt:0.8') => ({
  ...opts,
  ...DEFAULT_LOAD_OPTIONS,
  policy: parsePolicy(policy) as Extract<ReturnType<typeof parsePolicy>, { type: 'migration' }>,
});
const show = (actions: PlanAction[]) =>
  actions.map((a) => (a.type === 'migrate' ? `${a.vmId}:${a.from}→${a.to}` : `${a.type}:${a.hostId}`));
const asPlan = (actions: PlanAction[]) => ({
  actions,
  summary: '',
  gainWatts: 0,
  costTimeS: 0,
  costDataMiB: 0,
});
const anti = (id: string, vms: string[]): Constraint => ({ id, hard: true, type: 'anti-affinity', vms });

test('consolidation never puts a hard anti-affinity group together: the member goes to the next fullest host', () => {
  // Without the group, a's v1 would join c (the fullest); v4 on c is in v1's anti-affinity group,
  // so v1 goes to b, the next fullest, and a is still emptied.
  const c: PlanCluster = {
    hosts: [host('a'), host('b'), host('c')],
    vms: [vm('v1', 'a'), vm('v2', 'b'), vm('v3', 'b'), vm('v4', 'c'), vm('v5', 'c'), vm('v6', 'c')],
  };
  assert.deepEqual(show(planConsolidation(c, opts).actions).slice(0, 1), ['v1:a→c']);
  const g = { ...c, constraints: [anti('g', ['v1', 'v4'])] };
  const p = planConsolidation(g, opts);
  assert.deepEqual(show(p.actions).slice(0, 1), ['v1:a→b']);
  assert.deepEqual(checkPlan(g, p), []);
});

test('plans keep VMs in their zone: two half-empty hosts in different zones stay as they are', () => {
  const c: PlanCluster = {
    hosts: [host('a', { zone: 'z1' }), host('b', { zone: 'z2' }), host('c', { zone: 'z2' })],
    vms: [vm('v1', 'a'), vm('v2', 'b'), vm('v3', 'c')],
  };
  // a is alone in z1 and stays; b empties onto c (same zone).
  assert.deepEqual(show(planConsolidation(c, opts).actions), ['v2:b→c', 'power-off:b']);
});

test('the checker names the constraint a plan breaks, during the migration for continuous ones and at the end for affinity', () => {
  const c: PlanCluster = {
    hosts: [host('a', { zone: 'z1' }), host('b', { zone: 'z1' }), host('c', { zone: 'z2' })],
    vms: [vm('v1', 'a'), vm('v2', 'b'), vm('v3', 'b')],
    constraints: [
      anti('web', ['v1', 'v2']),
      { id: 'pin', name: 'zone pin', hard: true, type: 'fence', vms: ['v3'], where: { zone: 'z1' } },
      { id: 'db', hard: true, type: 'affinity', vms: ['v2', 'v3'] },
    ],
  };
  const mig = (v: string, from: string, to: string): PlanAction => ({
    type: 'migrate',
    vmId: v,
    vmName: v,
    from,
    to,
    reason: '',
    cost: { timeS: 1, dataMiB: 1 },
  });
  assert.deepEqual(checkPlan(c, asPlan([mig('v1', 'a', 'b')])), [
    {
      action: 0,
      reason: 'v1 may not migrate to b: anti-affinity "web": v1 may not share b with v2',
      constraint: 'web',
    },
  ]);
  assert.deepEqual(checkPlan(c, asPlan([mig('v3', 'b', 'c')]))[0], {
    action: 0,
    reason: 'v3 may not migrate to c: fence "zone pin" (v3): c is in zone z2, VM asks for z1',
    constraint: 'pin',
  });
  // Moving v3 to a breaks the affinity with v2 (on b) at the end; moving v2 after it mends it.
  assert.deepEqual(checkPlan(c, asPlan([mig('v3', 'b', 'a')])), [
    {
      action: 0,
      reason: 'at the end of the plan: affinity "db": apart (v2 on b; v3 on a)',
      constraint: 'db',
    },
  ]);
  assert.equal(
    checkPlan(
      { ...c, constraints: c.constraints!.slice(1) },
      asPlan([mig('v3', 'b', 'a'), mig('v2', 'b', 'a')]),
    ).length,
    0,
  );
});

test('a swap of two anti-affine VMs is routed through a third host in their zone; a move a fence refuses is refused by name', () => {
  const c: PlanCluster = {
    hosts: [
      host('a', { zone: 'z1' }),
      host('b', { zone: 'z1' }),
      host('x', { zone: 'z2' }),
      host('c', { zone: 'z1' }),
    ],
    vms: [vm('p', 'a'), vm('q', 'b')],
    constraints: [anti('pq', ['p', 'q'])],
  };
  const actions = orderMoves(c, [
    { vmId: 'p', to: 'b' },
    { vmId: 'q', to: 'a' },
  ]);
  // x has room but is in z2: the pivot is c.
  assert.deepEqual(show(actions), ['p:a→c', 'q:b→a', 'p:c→b']);
  assert.deepEqual(checkPlan(c, asPlan(actions)), []);
  const fenced = {
    ...c,
    constraints: [
      {
        id: 'f',
        name: 'z1 only',
        hard: true,
        type: 'fence',
        vms: ['p'],
        where: { zone: 'z1' },
      } as Constraint,
    ],
  };
  assert.throws(
    () => orderMoves(fenced, [{ vmId: 'p', to: 'x' }]),
    /p may not move to x: fence "z1 only" \(p\): x is in zone z2, VM asks for z1/,
  );
});

test('waves never run an anti-affine VM onto a host another member is still leaving', () => {
  // p leaves a for c while q comes to a: fine one after the other, not at the same time.
  const c: PlanCluster = {
    hosts: [host('a'), host('b'), host('c')],
    vms: [vm('p', 'a'), vm('q', 'b')],
    constraints: [anti('pq', ['p', 'q'])],
  };
  const plan = asPlan(
    orderMoves(c, [
      { vmId: 'p', to: 'c' },
      { vmId: 'q', to: 'a' },
    ]),
  );
  assert.deepEqual(checkPlan(c, plan), []);
  assert.deepEqual(scheduleWaves(c, plan), [[0], [1]]);
  assert.deepEqual(scheduleWaves({ ...c, constraints: [] }, plan), [[0, 1]]);
});

test('load-aware and spread plans send a VM only where its constraints admit it', () => {
  // h0 is overloaded (3 × 4 vCPUs at 70 % of 8 cores); h1 is the cheapest target but banned for a,
  // b and c; h2 is the only host they may use.
  const hot = (id: string) => vm(id, 'h0', { vcpus: 4, memoryMiB: 2048, history: Array(12).fill(0.7) });
  const c: LoadCluster = {
    hosts: [host('h0'), host('h1'), host('h2')],
    vms: [
      hot('a'),
      hot('b'),
      hot('c'),
      vm('d', 'h1', { history: Array(12).fill(0.3) }),
      vm('e', 'h2', { history: Array(12).fill(0.3) }),
    ],
    constraints: [{ id: 'ban', hard: true, type: 'ban', vms: ['a', 'b', 'c'], hosts: ['h1'] }],
  };
  const p = planLoadAware(c, loadOpts(), seededRandom(1));
  const moves = p.actions.filter((a) => a.type === 'migrate' && ['a', 'b', 'c'].includes(a.vmId));
  assert.ok(moves.length > 0);
  for (const a of moves) assert.equal(a.type === 'migrate' && a.to, 'h2');
  assert.deepEqual(checkPlan(c, p), []);
  const s = planSpread(c, { gap: 0.2, holdDownS: 0, bandwidthMbps: 1000 });
  for (const a of s.actions)
    if (a.type === 'migrate' && ['a', 'b', 'c'].includes(a.vmId)) assert.notEqual(a.to, 'h1');
  assert.deepEqual(checkPlan(c, s), []);
});

// ---- properties ----

const HOST_POOL = 6;
const arbConstraint = (vmIds: string[], hostIds: string[]): fc.Arbitrary<Omit<Constraint, 'id'>> =>
  fc.oneof(
    fc.record({
      type: fc.constantFrom('affinity' as const, 'anti-affinity' as const),
      vms: fc.subarray(vmIds, { minLength: 2 }),
      hard: fc.constant(true),
    }),
    fc.record({
      type: fc.constantFrom('fence' as const, 'ban' as const),
      vms: fc.subarray(vmIds, { minLength: 1 }),
      hard: fc.constant(true),
      hosts: fc.subarray(hostIds),
      where: fc.record(
        { zone: fc.constantFrom('z1', 'z2'), rack: fc.constantFrom('r1', 'r2', 'r3') },
        { requiredKeys: [] },
      ),
    }),
    fc.record({
      type: fc.constant('max-per-host' as const),
      vms: fc.subarray(vmIds, { minLength: 2 }),
      hard: fc.constant(true),
      max: fc.integer({ min: 1, max: 3 }),
    }),
    fc.record({
      type: fc.constant('spread' as const),
      vms: fc.subarray(vmIds, { minLength: 2 }),
      hard: fc.constant(true),
      over: fc.constantFrom('rack' as const, 'zone' as const, 'datacenter' as const),
      maxPerDomain: fc.integer({ min: 1, max: 3 }),
    }),
  ) as fc.Arbitrary<Omit<Constraint, 'id'>>;

/** A random cluster (zones, racks, some hosts off or in maintenance) whose VMs fit, with the random constraints its placement satisfies. */
const arbCluster: fc.Arbitrary<LoadCluster> = fc
  .record({
    hosts: fc.array(
      fc.record({
        zone: fc.constantFrom('z1', 'z2'),
        rack: fc.constantFrom('r1', 'r2', 'r3'),
        state: fc.constantFrom('up', 'up', 'up', 'up', 'off', 'maintenance') as fc.Arbitrary<
          LoadHost['state']
        >,
      }),
      { minLength: 2, maxLength: HOST_POOL },
    ),
    vms: fc.array(
      fc.record({
        h: fc.nat(),
        vcpus: fc.integer({ min: 1, max: 6 }),
        mem: fc.constantFrom(1024, 2048, 4096, 8192),
        load: fc.double({ min: 0, max: 1, noNaN: true }),
        since: fc.constantFrom(Infinity, Infinity, 60),
      }),
      { maxLength: 16 },
    ),
    constraints: fc.array(
      arbConstraint(
        Array.from({ length: 16 }, (_, i) => `v${i}`),
        Array.from({ length: HOST_POOL }, (_, i) => `h${i}`),
      ),
      { maxLength: 6 },
    ),
  })
  .map(({ hosts, vms, constraints }) => {
    const hs = hosts.map((h, i) =>
      host(`h${i}`, { zone: h.zone, rack: h.rack, datacenter: 'dc1', state: h.state }),
    );
    const on = hs.filter((h) => h.state !== 'off');
    const used = new Map(hs.map((h) => [h.id, { v: 0, m: 0 }]));
    const placed: LoadVm[] = [];
    vms.forEach((x, i) => {
      const h = on[x.h % Math.max(1, on.length)];
      if (!h) return;
      const u = used.get(h.id)!;
      if (u.v + x.vcpus > 16 || u.m + x.mem > 32768) return;
      u.v += x.vcpus;
      u.m += x.mem;
      placed.push(
        vm(`v${i}`, h.id, {
          vcpus: x.vcpus,
          memoryMiB: x.mem,
          history: Array(12).fill(x.load),
          sinceMigrationS: x.since,
        }),
      );
    });
    const s = constraintState(
      hs,
      placed.map((v) => [v.id, v.hostId] as const),
    );
    const valid = constraints
      .map((c, i) => ({ ...c, id: `c${i}` }) as Constraint)
      .filter((c) => checkerFor(c).check(s).length === 0);
    return { hosts: hs, vms: placed, constraints: valid };
  });

const zoneOf = (c: PlanCluster, hostId: string) => c.hosts.find((h) => h.id === hostId)?.zone;
const assertStaysInZone = (c: PlanCluster, actions: PlanAction[]) => {
  const start = new Map(c.vms.map((v) => [v.id, zoneOf(c, v.hostId)]));
  for (const a of actions)
    if (a.type === 'migrate') assert.equal(zoneOf(c, a.to), start.get(a.vmId), `${a.vmId} leaves its zone`);
};

test('property: every plan of every planner on random clusters with random constraints passes checkPlan and keeps VMs in their zone', () => {
  fc.assert(
    fc.property(
      arbCluster,
      fc.nat(),
      fc.constantFrom('thr-mmt:0.8', 'mad-mmt:2.5', 'lr-mc:1.2', 'iqr-rs:1.5'),
      (c, seed, policy) => {
        const plans = [
          planConsolidation(c, opts),
          planLoadAware(c, loadOpts(policy), seededRandom(seed)),
          planSpread(c, { gap: 0.1, holdDownS: 3600, bandwidthMbps: 1000 }),
        ];
        for (const p of plans) {
          assert.deepEqual(checkPlan(c, p), []);
          assertStaysInZone(c, p.actions);
          // The end state keeps every hard constraint (the start state did).
          const where = new Map(c.vms.map((v) => [v.id, v.hostId]));
          for (const a of p.actions) if (a.type === 'migrate') where.set(a.vmId, a.to);
          assert.deepEqual(checkAll(c.constraints!, constraintState(c.hosts, [...where])), []);
        }
      },
    ),
    { numRuns: 300, seed: 31 },
  );
});

test('property: operator moves are either ordered into a plan that passes checkPlan, or refused with a reason', () => {
  fc.assert(
    fc.property(arbCluster, fc.array(fc.record({ v: fc.nat(), h: fc.nat() }), { maxLength: 6 }), (c, req) => {
      const up = c.hosts.filter((h) => h.state === 'up');
      if (!c.vms.length || !up.length) return;
      const seen = new Set<string>();
      const moves = req
        .map((r) => ({ vmId: c.vms[r.v % c.vms.length]!.id, to: up[r.h % up.length]!.id }))
        .filter(
          (m) =>
            !seen.has(m.vmId) &&
            seen.add(m.vmId) &&
            zoneOf(c, m.to) === zoneOf(c, c.vms.find((v) => v.id === m.vmId)!.hostId),
        );
      let actions: PlanAction[];
      try {
        actions = orderMoves(c, moves);
      } catch (e) {
        assert.ok(e instanceof RangeError && e.message.length > 0);
        return;
      }
      assert.deepEqual(checkPlan(c, asPlan(actions)), []);
      assertStaysInZone(c, actions);
      const where = new Map(c.vms.map((v) => [v.id, v.hostId]));
      for (const a of actions) if (a.type === 'migrate') where.set(a.vmId, a.to);
      for (const m of moves) assert.equal(where.get(m.vmId), m.to);
    }),
    { numRuns: 300, seed: 32 },
  );
});

/**
 * Oracle: replay the plan recomputing everything from scratch at each step (no running sums, no
 * incremental admits): capacity by summing the VMs on the target, continuous constraints by
 * checking the whole state with the VM on both hosts, discrete ones on the final state.
 */
function violatingActions(c: PlanCluster, actions: PlanAction[]): number[] {
  const where = new Map(c.vms.map((v) => [v.id, v.hostId]));
  const state = new Map(c.hosts.map((h) => [h.id, h.state as string]));
  const hard = c.constraints ?? [];
  const cont = hard.filter((k) => checkerFor(k).continuous);
  const disc = hard.filter((k) => !checkerFor(k).continuous);
  const out = new Set<number>();
  const last = new Map<string, number>();
  for (const [i, a] of actions.entries()) {
    if (a.type === 'migrate') {
      const v = c.vms.find((x) => x.id === a.vmId);
      if (!v || where.get(v.id) !== a.from || state.get(a.to) !== 'up' || a.to === a.from) {
        out.add(i);
        continue;
      }
      const on = c.vms.filter((x) => where.get(x.id) === a.to);
      const k = c.hosts.find((x) => x.id === a.to)!.capacity;
      if (
        on.reduce((s, x) => s + x.vcpus, v.vcpus) > k.vcpus ||
        on.reduce((s, x) => s + x.memoryMiB, v.memoryMiB) > k.memoryMiB
      ) {
        out.add(i);
        continue;
      }
      const during = constraintState(c.hosts, [...where, [v.id, a.to]]);
      if (checkAll(cont, during).length) {
        out.add(i);
        continue;
      }
      where.set(v.id, a.to);
      last.set(v.id, i);
    } else if (a.type === 'power-on') {
      if (state.get(a.hostId) !== 'off') out.add(i);
      else state.set(a.hostId, 'up');
    } else if ([...where.values()].includes(a.hostId)) out.add(i);
    else state.set(a.hostId, 'off');
  }
  for (const x of checkAll(disc, constraintState(c.hosts, [...where]))) {
    const at = Math.max(...x.vmIds.map((v) => last.get(v) ?? -1));
    if (at >= 0) out.add(at);
  }
  return [...out].sort((p, q) => p - q);
}

test('property: on random plans with random constraints the checker flags exactly the actions a from-scratch replay flags', () => {
  const arbPlan = (c: PlanCluster) =>
    fc
      .array(
        fc.oneof(
          { weight: 4, arbitrary: fc.record({ v: fc.nat(), to: fc.nat() }) },
          { weight: 1, arbitrary: fc.record({ h: fc.nat(), on: fc.boolean() }) },
        ),
        { maxLength: 12 },
      )
      .map((xs) =>
        xs.flatMap((x): PlanAction[] => {
          if ('v' in x) {
            if (!c.vms.length) return [];
            const v = c.vms[x.v % c.vms.length]!;
            const to = c.hosts[x.to % c.hosts.length]!.id;
            return [
              {
                type: 'migrate',
                vmId: v.id,
                vmName: v.name,
                from: v.hostId,
                to,
                reason: '',
                cost: { timeS: 1, dataMiB: 1 },
              },
            ];
          }
          const h = c.hosts[x.h % c.hosts.length]!;
          return [
            x.on
              ? { type: 'power-on', hostId: h.id, hostName: h.name, reason: '', cost: { watts: 1 } }
              : { type: 'power-off', hostId: h.id, hostName: h.name, reason: '', gain: { wattsSaved: 1 } },
          ];
        }),
      );
  fc.assert(
    fc.property(
      arbCluster.chain((c) => fc.tuple(fc.constant(c), arbPlan(c))),
      ([c, actions]) => {
        const flagged = [...new Set(checkPlan(c, asPlan(actions)).map((v) => v.action))].sort(
          (p, q) => p - q,
        );
        assert.deepEqual(flagged, violatingActions(c, actions));
      },
    ),
    { numRuns: 1000, seed: 33 },
  );
});

test("a move's cost counts the local volumes it mirrors (block migration): more data and more time", () => {
  const c = (localDiskGiB: number): PlanCluster => ({
    hosts: [host('a'), host('b')],
    vms: [vm('p', 'a', { localDiskGiB })],
  });
  const [plain] = orderMoves(c(0), [{ vmId: 'p', to: 'b' }]);
  const [mirrored] = orderMoves(c(4), [{ vmId: 'p', to: 'b' }]);
  const cost = (a: PlanAction | undefined) => (a as { cost: { dataMiB: number; timeS: number } }).cost;
  // 4 GiB of disk with no writes: exactly 4096 MiB more on the wire.
  assert.ok(Math.abs(cost(mirrored).dataMiB - cost(plain).dataMiB - 4096) < 1e-6);
  assert.ok(cost(mirrored).timeS > cost(plain).timeS);
});
