import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  checkAll,
  checkerFor,
  constraintState,
  globalConstraints,
  softScore,
  type Constraint,
  type ConstraintState,
  type HostAttributes,
} from './index.ts';

// BtrPlace's catalog (Hermenier et al., IEEE TDSC 2013) as table tests, in checkers.test.ts' style.
const HOSTS: HostAttributes[] = [
  { id: 'h1', name: 'h1', zone: 'z1', rack: 'r1' },
  { id: 'h2', name: 'h2', zone: 'z1', rack: 'r2' },
  { id: 'h3', name: 'h3', zone: 'z2', rack: 'r3' },
  { id: 'h4', name: 'h4', zone: 'z2', rack: 'r4' },
];
const IDS = HOSTS.map((h) => h.id);
const pairsOf = (p: Record<string, string | string[]>) =>
  Object.entries(p).flatMap(([vm, h]) => (Array.isArray(h) ? h : [h]).map((x) => [vm, x] as const));
/** A state; `extra` adds origin, capacity, demand, online or starts. */
const at = (p: Record<string, string | string[]>, extra: Partial<ConstraintState> = {}): ConstraintState => ({
  ...constraintState(HOSTS, pairsOf(p)),
  ...extra,
});
const origin = (p: Record<string, string | string[]>) =>
  new Map(Object.entries(p).map(([v, h]) => [v, Array.isArray(h) ? h : [h]]));
const CAP = new Map(IDS.map((h) => [h, { vcpus: 8, memoryMiB: 8192 }]));
const DEMAND = new Map(['a', 'b', 'c', 'd', 'x'].map((v) => [v, { vcpus: 2, memoryMiB: 2048 }]));
type Spec = Constraint extends infer C ? (C extends Constraint ? Omit<C, 'id' | 'hard'> : never) : never;
const hard = (c: Spec): Constraint => ({ id: 'k', hard: true, ...c }) as Constraint;
const z1 = { where: { zone: 'z1' } };
const z2 = { where: { zone: 'z2' } };

// Each row: a constraint, a state, how many violations `check` finds, the hosts `admits` accepts for
// VM `a`, whether the rule is continuous, and for rules about every VM, the hosts it accepts for `x`
// (a VM it does not list).
const rows: {
  name: string;
  c: Constraint;
  s: ConstraintState;
  violations: number;
  admitsA: string[];
  continuous: boolean;
  admitsX?: string[];
}[] = [
  {
    // gather is affinity under BtrPlace's name: a joins b on h2.
    name: 'gather',
    c: hard({ type: 'gather', vms: ['a', 'b'] }),
    s: at({ b: 'h2' }),
    violations: 0,
    admitsA: ['h2'],
    continuous: false,
  },
  {
    // b in zone z2: a must go to a z2 host.
    name: 'among',
    c: hard({ type: 'among', vms: ['a', 'b'], groups: [z1, z2] }),
    s: at({ a: 'h1', b: 'h3' }),
    violations: 1,
    admitsA: ['h3', 'h4'],
    continuous: false,
  },
  {
    // Continuous when asked; nothing placed but a: any host of a group.
    name: 'among, continuous, alone',
    c: hard({
      type: 'among',
      vms: ['a', 'b'],
      groups: [{ hosts: ['h1'] }, { hosts: ['h3'] }],
      continuous: true,
    }),
    s: at({}),
    violations: 0,
    admitsA: ['h1', 'h3'],
    continuous: true,
  },
  {
    // Groups {a, b} and {c}: a may share h1 with b, never h3 with c.
    name: 'split',
    c: hard({ type: 'split', vms: ['a', 'b', 'c'], vmGroups: [['a', 'b'], ['c']] }),
    s: at({ b: 'h1', c: 'h3' }),
    violations: 0,
    admitsA: ['h1', 'h2', 'h4'],
    continuous: false,
  },
  {
    // a and c of different groups on h2: broken.
    name: 'split broken',
    c: hard({ type: 'split', vms: ['a', 'c'], vmGroups: [['a'], ['c']], continuous: true }),
    s: at({ a: 'h2', c: 'h2' }),
    violations: 1,
    admitsA: ['h1', 'h3', 'h4'],
    continuous: true,
  },
  {
    // {a, b} with b in z1, {c} in z2: a stays in z1.
    name: 'splitAmong',
    c: hard({ type: 'splitAmong', vms: ['a', 'b', 'c'], vmGroups: [['a', 'b'], ['c']], groups: [z1, z2] }),
    s: at({ b: 'h2', c: 'h4' }),
    violations: 0,
    admitsA: ['h1', 'h2'],
    continuous: false,
  },
  {
    // b in z1 and c in z1: two VM groups share a host group.
    name: 'splitAmong broken',
    c: hard({ type: 'splitAmong', vms: ['a', 'b', 'c'], vmGroups: [['a', 'b'], ['c']], groups: [z1, z2] }),
    s: at({ b: 'h2', c: 'h1' }),
    violations: 1,
    admitsA: [],
    continuous: false,
  },
  {
    // a and b are lonely: they may share h1; x (a stranger) runs on h2. x may not join h1.
    name: 'lonely',
    c: hard({ type: 'lonely', vms: ['a', 'b'] }),
    s: at({ b: 'h1', x: 'h2' }),
    violations: 0,
    admitsA: ['h1', 'h3', 'h4'],
    continuous: false,
    admitsX: ['h2', 'h3', 'h4'],
  },
  {
    // x beside b on h1: broken.
    name: 'lonely broken',
    c: hard({ type: 'lonely', vms: ['a', 'b'], continuous: true }),
    s: at({ b: 'h1', x: 'h1' }),
    violations: 1,
    admitsA: ['h2', 'h3', 'h4'],
    continuous: true,
    admitsX: ['h2', 'h3', 'h4'],
  },
  {
    // a runs on h2 and may not move.
    name: 'root',
    c: hard({ type: 'root', vms: ['a'] }),
    s: at({ a: 'h2' }, { origin: origin({ a: 'h2' }) }),
    violations: 0,
    admitsA: ['h2'],
    continuous: true,
  },
  {
    // a moved from h2 to h3 since the start: broken; a not placed anywhere would be free.
    name: 'root broken',
    c: hard({ type: 'root', vms: ['a'] }),
    s: at({ a: 'h3' }, { origin: origin({ a: 'h2' }) }),
    violations: 1,
    admitsA: ['h3'],
    continuous: true,
  },
  {
    // h1 quarantined: b on it stays, a (on h3) may not enter; x (unplaced) neither.
    name: 'quarantine',
    c: hard({ type: 'quarantine', vms: [], hosts: ['h1'] }),
    s: at({ a: 'h3', b: 'h1' }, { origin: origin({ a: 'h3', b: 'h1' }) }),
    violations: 0,
    admitsA: ['h2', 'h3', 'h4'],
    continuous: true,
    admitsX: ['h2', 'h3', 'h4'],
  },
  {
    // z1 (h1, h2) quarantined: a went from h1 to h2 (left one, entered the other), b entered h1:
    // three violations; a may not leave h2 now.
    name: 'quarantine broken',
    c: hard({ type: 'quarantine', vms: [], ...z1, hosts: [] }),
    s: at({ a: 'h2', b: 'h1' }, { origin: origin({ a: 'h1', b: 'h3' }) }),
    violations: 3,
    admitsA: ['h2'],
    continuous: true,
    admitsX: ['h3', 'h4'],
  },
  {
    // a needs 7 vCPUs of 8: alone it has 8, beside b (2) only 6; x (2) may not join a on h1.
    name: 'preserve',
    c: hard({ type: 'preserve', vms: ['a'], resource: 'vcpus', amount: 7 }),
    s: at({ a: 'h1', b: 'h2', c: 'h3', d: 'h3' }, { capacity: CAP, demand: DEMAND }),
    violations: 0,
    admitsA: ['h1', 'h4'],
    continuous: false,
    admitsX: ['h2', 'h3', 'h4'],
  },
  {
    // a on h3 with c and d: 4 left, needs 6.
    name: 'preserve broken',
    c: hard({ type: 'preserve', vms: ['a'], resource: 'vcpus', amount: 6 }),
    s: at({ a: 'h3', c: 'h3', d: 'h3' }, { capacity: CAP, demand: DEMAND }),
    violations: 1,
    admitsA: ['h1', 'h2', 'h4'],
    continuous: false,
    admitsX: ['h1', 'h2', 'h4'],
  },
  {
    // Ratio 0.5 of 8 vCPUs on z1 hosts: 4. h1 holds b, c (4): full; z2 is not overbooked at all.
    name: 'overbook',
    c: hard({ type: 'overbook', vms: [], ...z1, resource: 'vcpus', ratio: 0.5 }),
    s: at({ b: 'h1', c: 'h1', d: 'h2' }, { capacity: CAP, demand: DEMAND }),
    violations: 0,
    admitsA: ['h2', 'h3', 'h4'],
    continuous: true,
    admitsX: ['h2', 'h3', 'h4'],
  },
  {
    // Discrete when asked; h2 holds 3 × 2 vCPUs > 4.
    name: 'overbook broken',
    c: hard({ type: 'overbook', vms: [], hosts: ['h2'], resource: 'vcpus', ratio: 0.5, continuous: false }),
    s: at({ b: 'h2', c: 'h2', d: 'h2' }, { capacity: CAP, demand: DEMAND }),
    violations: 1,
    admitsA: ['h1', 'h3', 'h4'],
    continuous: false,
    admitsX: ['h1', 'h3', 'h4'],
  },
  {
    // At most 2 VMs on z1: b and c fill it.
    name: 'runningCapacity',
    c: hard({ type: 'runningCapacity', vms: [], ...z1, max: 2 }),
    s: at({ b: 'h1', c: 'h2', d: 'h3' }),
    violations: 0,
    admitsA: ['h3', 'h4'],
    continuous: false,
    admitsX: ['h3', 'h4'],
  },
  {
    // Three on z2 with a cap of 2; a already there may move within z2.
    name: 'runningCapacity broken',
    c: hard({ type: 'runningCapacity', vms: [], ...z2, max: 2, continuous: true }),
    s: at({ a: 'h3', c: 'h4', d: 'h4' }),
    violations: 1,
    admitsA: ['h1', 'h2', 'h3', 'h4'],
    continuous: true,
    admitsX: ['h1', 'h2'],
  },
  {
    // One z1 host on at most: h1 is on (online set), so VMs go to h1 or z2.
    name: 'maxOnline',
    c: hard({ type: 'maxOnline', vms: [], ...z1, max: 1 }),
    s: at({ b: 'h3' }, { online: new Set(['h1', 'h3']) }),
    violations: 0,
    admitsA: ['h1', 'h3', 'h4'],
    continuous: false,
    admitsX: ['h1', 'h3', 'h4'],
  },
  {
    // Without power states a host is on when it runs a VM: h1 and h2 both run one (a VM may still
    // join a host that is on).
    name: 'maxOnline broken',
    c: hard({ type: 'maxOnline', vms: [], ...z1, max: 1 }),
    s: at({ b: 'h1', c: 'h2' }),
    violations: 1,
    admitsA: IDS,
    continuous: false,
    admitsX: IDS,
  },
  {
    // b starts 30 s in: broken on a schedule; never refuses a placement.
    name: 'noDelay',
    c: hard({ type: 'noDelay', vms: ['a', 'b'] }),
    s: at(
      { b: 'h1' },
      {
        starts: new Map([
          ['a', 0],
          ['b', 30],
        ]),
      },
    ),
    violations: 1,
    admitsA: IDS,
    continuous: true,
  },
];

for (const r of rows)
  test(`catalog table: ${r.name}`, () => {
    const k = checkerFor(r.c);
    const found = k.check(r.s);
    assert.equal(found.length, r.violations, found.map((v) => v.message).join('; '));
    for (const v of found) assert.match(v.message, new RegExp(`^${r.c.type}`));
    assert.deepEqual(
      IDS.filter((h) => !k.admits(r.s, 'a', h)),
      r.admitsA,
    );
    assert.equal(k.continuous, r.continuous);
    const global = globalConstraints([r.c]).length === 1;
    assert.equal(global, r.admitsX !== undefined, 'rules about every VM are listed by globalConstraints');
    if (r.admitsX)
      assert.deepEqual(
        IDS.filter((h) => !k.admits(r.s, 'x', h)),
        r.admitsX,
      );
    else assert.equal(k.admits(r.s, 'zz', 'h1'), undefined, 'a VM the constraint is not about is admitted');
  });

test('no origin, no schedule: root, quarantine and noDelay have nothing to judge in a state', () => {
  const s = at({ a: 'h3', b: 'h1' });
  for (const c of [
    hard({ type: 'root', vms: ['a'] }),
    hard({ type: 'quarantine', vms: [], hosts: ['h1'] }),
    hard({ type: 'noDelay', vms: ['a'] }),
  ])
    assert.deepEqual(checkAll([c], s), []);
});

test('malformed catalog constraints are refused, naming what is wrong', () => {
  assert.throws(() => checkerFor(hard({ type: 'among', vms: ['a'], groups: [] })), /at least one host group/);
  assert.throws(
    () => checkerFor(hard({ type: 'split', vms: ['a'], vmGroups: [['a'], ['a', 'b']] })),
    /VM a is in two VM groups/,
  );
  assert.throws(
    () => checkerFor(hard({ type: 'overbook', vms: [], hosts: ['h1'], resource: 'vcpus', ratio: 0 })),
    /ratio > 0, got 0/,
  );
  assert.throws(
    () => checkerFor(hard({ type: 'preserve', vms: ['a'], resource: 'gpus' as 'vcpus', amount: 1 })),
    /resource must be one of vcpus, memoryMiB, diskGiB, got gpus/,
  );
  assert.throws(
    () => checkerFor(hard({ type: 'maxOnline', vms: [], hosts: ['h1'], max: 1.5 })),
    /whole max ≥ 0, got 1.5/,
  );
});

test('soft catalog constraints are scored: a soft lonely prefers the empty host for a stranger', () => {
  const s = at({ b: 'h1' });
  const soft: Constraint[] = [{ id: 'l', hard: false, type: 'lonely', vms: ['b'] }];
  assert.equal(softScore(soft, s, 'x', 'h1'), 0);
  assert.equal(softScore(soft, s, 'x', 'h2'), 1);
});

const arbCatalog = (vms: string[]): fc.Arbitrary<Constraint> => {
  const members = fc.subarray(vms, { minLength: 1 });
  const sel = fc.record({ hosts: fc.subarray(IDS, { minLength: 1 }) });
  const continuous = fc.boolean();
  return fc.oneof(
    fc.record({
      id: fc.constant('g'),
      hard: fc.constant(true),
      type: fc.constant('gather' as const),
      vms: members,
    }),
    fc.record({
      id: fc.constant('am'),
      hard: fc.constant(true),
      type: fc.constant('among' as const),
      vms: members,
      groups: fc.constant([{ hosts: ['h1', 'h2'] }, { hosts: ['h3'] }]),
      continuous,
    }),
    fc.shuffledSubarray(vms, { minLength: 2 }).chain((l) =>
      fc.integer({ min: 1, max: l.length - 1 }).chain((cut) =>
        fc.record({
          id: fc.constant('sp'),
          hard: fc.constant(true),
          type: fc.constantFrom('split' as const, 'splitAmong' as const),
          vms: fc.constant(l),
          vmGroups: fc.constant([l.slice(0, cut), l.slice(cut)]),
          groups: fc.constant([{ hosts: ['h1'] }, { hosts: ['h2', 'h3'] }, { hosts: ['h4'] }]),
          continuous,
        }),
      ),
    ),
    fc.record({
      id: fc.constant('lo'),
      hard: fc.constant(true),
      type: fc.constant('lonely' as const),
      vms: members,
      continuous,
    }),
    fc.record({
      id: fc.constant('ro'),
      hard: fc.constant(true),
      type: fc.constant('root' as const),
      vms: members,
    }),
    fc.record({
      id: fc.constant('q'),
      hard: fc.constant(true),
      type: fc.constant('quarantine' as const),
      vms: fc.constant([]),
      hosts: sel.map((x) => x.hosts),
    }),
    fc.record({
      id: fc.constant('pr'),
      hard: fc.constant(true),
      type: fc.constant('preserve' as const),
      vms: members,
      resource: fc.constant('vcpus' as const),
      amount: fc.integer({ min: 0, max: 8 }),
    }),
    fc.record({
      id: fc.constant('ob'),
      hard: fc.constant(true),
      type: fc.constant('overbook' as const),
      vms: fc.constant([]),
      hosts: sel.map((x) => x.hosts),
      resource: fc.constant('vcpus' as const),
      ratio: fc.constantFrom(0.5, 1, 1.5),
      continuous,
    }),
    fc.record({
      id: fc.constant('rc'),
      hard: fc.constant(true),
      type: fc.constantFrom('runningCapacity' as const, 'maxOnline' as const),
      vms: fc.constant([]),
      hosts: sel.map((x) => x.hosts),
      max: fc.integer({ min: 0, max: 3 }),
      continuous,
    }),
  );
};

test('property: on a state that satisfies a catalog constraint, admits agrees with checking the state after the placement', () => {
  const vms = ['a', 'b', 'c', 'd', 'e'];
  fc.assert(
    fc.property(
      arbCatalog(vms),
      fc.array(fc.option(fc.constantFrom(...IDS)), { minLength: 5, maxLength: 5 }),
      fc.constantFrom(...vms),
      fc.constantFrom(...IDS),
      fc.boolean(),
      (c, hosts, vm, to, indexed) => {
        const pairs = vms.flatMap((v, i) => (hosts[i] ? [[v, hosts[i]!] as const] : []));
        const before = constraintState(HOSTS, pairs);
        const extra = {
          capacity: CAP,
          demand: new Map(vms.map((v) => [v, { vcpus: 2 }])),
          origin: before.placement,
        };
        // With or without the host index (`onHost`): the same answers.
        const index = (x: ConstraintState): ConstraintState => {
          if (!indexed) return x;
          const onHost = new Map<string, Set<string>>();
          for (const [v, hs] of x.placement)
            for (const h of hs) onHost.set(h, (onHost.get(h) ?? new Set()).add(v));
          return { ...x, onHost };
        };
        const s = index({ ...before, ...extra });
        const k = checkerFor(c);
        if (k.check(s).length) return;
        const after = index({
          ...constraintState(
            HOSTS,
            k.continuous
              ? [...pairs, [vm, to] as const]
              : [...pairs.filter(([v]) => v !== vm), [vm, to] as const],
          ),
          ...extra,
        });
        assert.equal(
          k.admits(s, vm, to) === undefined,
          k.check(after).length === 0,
          JSON.stringify({ c, pairs, vm, to }),
        );
      },
    ),
    { numRuns: 3000, seed: 14 },
  );
});
