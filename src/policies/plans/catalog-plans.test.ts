import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { checkAll, constraintState, type Constraint } from '../../core/constraints/index.ts';
import {
  checkPlan,
  checkSchedule,
  planConsolidation,
  scheduleWaves,
  type PlanAction,
  type PlanCluster,
  type PlanHost,
  type PlanVm,
} from './plan.ts';

// The catalog's rules bind planners and the plan checker: root, quarantine, maxOnline.
const host = (id: string, o: Partial<PlanHost> = {}): PlanHost => ({
  id,
  name: id,
  state: 'up',
  capacity: { vcpus: 16, memoryMiB: 32768 },
  idleW: 100,
  ...o,
});
const vm = (id: string, hostId: string): PlanVm => ({
  id,
  name: id,
  hostId,
  vcpus: 2,
  memoryMiB: 4096,
  sinceMigrationS: Infinity,
});
const opts = {
  spareHosts: 0,
  holdDownS: 3600,
  paybackHorizonS: 3600,
  migrationJPerMiB: 20,
  bandwidthMbps: 1000,
};
const migrate = (vmId: string, from: string, to: string): PlanAction => ({
  type: 'migrate',
  vmId,
  vmName: vmId,
  from,
  to,
  reason: 'test',
  cost: { timeS: 1, dataMiB: 1 },
});
const plan = (actions: PlanAction[]) => ({
  actions,
  summary: '',
  gainWatts: 0,
  costTimeS: 0,
  costDataMiB: 0,
});
const show = (actions: PlanAction[]) =>
  actions.map((a) => (a.type === 'migrate' ? `${a.vmId}:${a.from}→${a.to}` : `${a.type}:${a.hostId}`));
const cluster: PlanCluster = {
  hosts: [host('a'), host('b'), host('c')],
  vms: [vm('v1', 'a'), vm('v2', 'b'), vm('v3', 'c'), vm('v4', 'c')],
};

test('the plan checker refuses a plan that moves a rooted VM or enters or leaves a quarantined host', () => {
  const root: Constraint = { id: 'r', name: 'db', hard: true, type: 'root', vms: ['v1'] };
  const v = checkPlan({ ...cluster, constraints: [root] }, plan([migrate('v1', 'a', 'c')]));
  assert.equal(v.length, 1);
  assert.equal(v[0]!.constraint, 'r');
  assert.match(v[0]!.reason, /root "db": v1 stays on a, it may not move to c/);
  const q: Constraint = { id: 'q', hard: true, type: 'quarantine', vms: [], hosts: ['c'] };
  const inOut = checkPlan(
    { ...cluster, constraints: [q] },
    plan([migrate('v1', 'a', 'c'), migrate('v3', 'c', 'b'), migrate('v2', 'b', 'a')]),
  );
  assert.deepEqual(
    inOut.map((x) => [x.action, x.constraint]),
    [
      [0, 'q'],
      [1, 'q'],
    ],
  );
  assert.match(inOut[0]!.reason, /may not enter c/);
  assert.match(inOut[1]!.reason, /may not leave c/);
});

test('consolidation honours root and quarantine: it empties another host instead', () => {
  // Without constraints the emptiest hosts a and b are drained onto c.
  const free = planConsolidation(cluster, opts);
  assert.ok(show(free.actions).some((x) => x.startsWith('v1:')));
  for (const constraints of [
    [{ id: 'r', hard: true, type: 'root', vms: ['v1'] }],
    [{ id: 'q', hard: true, type: 'quarantine', vms: [], hosts: ['a'] }],
  ] as Constraint[][]) {
    const g = { ...cluster, constraints };
    const p = planConsolidation(g, opts);
    assert.ok(!show(p.actions).some((x) => x.startsWith('v1:')), JSON.stringify(show(p.actions)));
    assert.ok(!show(p.actions).includes('power-off:a'));
    assert.deepEqual(checkPlan(g, p), []);
  }
});

test('the plan checker refuses switching on more hosts than maxOnline allows', () => {
  const c: PlanCluster = { ...cluster, hosts: [...cluster.hosts, host('d', { state: 'off' })] };
  const cap: Constraint = {
    id: 'm',
    hard: true,
    type: 'maxOnline',
    vms: [],
    hosts: ['a', 'b', 'c', 'd'],
    max: 3,
  };
  const on: PlanAction = {
    type: 'power-on',
    hostId: 'd',
    hostName: 'd',
    reason: 'test',
    cost: { watts: 100 },
  };
  const v = checkPlan({ ...c, constraints: [cap] }, plan([on]));
  assert.equal(v.length, 1);
  assert.match(v[0]!.reason, /maxOnline "m": 4 hosts on/);
});

test('noDelay is judged on a wave schedule: a listed VM whose migration waits for a later wave is named', () => {
  // One migration per host at once: v3 and v4 both leave c, so the second waits for wave 2.
  const p = plan([migrate('v3', 'c', 'a'), migrate('v4', 'c', 'b')]);
  const waves = scheduleWaves(cluster, p, { perHost: 1, perCluster: 8 });
  assert.deepEqual(waves, [[0], [1]]);
  const nd = (vms: string[]): Constraint => ({ id: 'nd', name: 'now', hard: true, type: 'noDelay', vms });
  assert.deepEqual(checkSchedule({ ...cluster, constraints: [nd(['v3'])] }, p, waves), []);
  const late = checkSchedule({ ...cluster, constraints: [nd(['v3', 'v4'])] }, p, waves);
  assert.deepEqual(
    late.map((x) => [x.action, x.constraint, x.reason]),
    [[1, 'nd', 'in wave 2: noDelay "now": v4 starts at 1, not 0']],
  );
  // An unordered check has nothing to judge.
  assert.deepEqual(checkPlan({ ...cluster, constraints: [nd(['v3', 'v4'])] }, p), []);
});

test('property: consolidation plans keep the catalog (every move checked, the end state too)', () => {
  const H = ['a', 'b', 'c', 'd'];
  const V = ['v1', 'v2', 'v3', 'v4', 'v5', 'v6'];
  const arb = fc.oneof(
    fc.record({ type: fc.constant('root' as const), vms: fc.subarray(V, { minLength: 1 }) }),
    fc.record({
      type: fc.constant('quarantine' as const),
      vms: fc.constant([]),
      hosts: fc.subarray(H, { minLength: 1 }),
    }),
    fc.record({
      type: fc.constant('lonely' as const),
      vms: fc.subarray(V, { minLength: 1 }),
      continuous: fc.boolean(),
    }),
    fc.record({
      type: fc.constant('runningCapacity' as const),
      vms: fc.constant([]),
      hosts: fc.subarray(H, { minLength: 1 }),
      max: fc.integer({ min: 1, max: 6 }),
    }),
    fc.record({
      type: fc.constant('overbook' as const),
      vms: fc.constant([]),
      hosts: fc.subarray(H, { minLength: 1 }),
      resource: fc.constant('vcpus' as const),
      ratio: fc.constantFrom(0.25, 0.5, 1),
    }),
    fc.record({
      type: fc.constant('among' as const),
      vms: fc.subarray(V, { minLength: 1 }),
      groups: fc.constant([{ hosts: ['a', 'b'] }, { hosts: ['c', 'd'] }]),
    }),
  );
  fc.assert(
    fc.property(arb, fc.array(fc.constantFrom(...H), { minLength: 6, maxLength: 6 }), (spec, where) => {
      const c: PlanCluster = {
        hosts: H.map((h) => host(h)),
        vms: V.map((v, i) => vm(v, where[i]!)),
        constraints: [{ id: 'k', hard: true, ...spec } as Constraint],
      };
      const s = constraintState(
        c.hosts,
        c.vms.map((v) => [v.id, v.hostId] as const),
      );
      const start = {
        ...s,
        origin: s.placement,
        capacity: new Map(c.hosts.map((h) => [h.id, h.capacity])),
        demand: new Map(c.vms.map((v) => [v.id, { vcpus: v.vcpus, memoryMiB: v.memoryMiB }])),
      };
      if (checkAll(c.constraints!, start).length) return; // plans answer for what they add
      const p = planConsolidation(c, opts);
      assert.deepEqual(checkPlan(c, p), [], JSON.stringify({ spec, where, plan: show(p.actions) }));
    }),
    { numRuns: 300, seed: 14 },
  );
});
