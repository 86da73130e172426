import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  admitsAll,
  checkAll,
  checkerFor,
  constraintState,
  softScore,
  type Constraint,
  type ConstraintState,
  type HostAttributes,
} from './index.ts';

const HOSTS: HostAttributes[] = [
  { id: 'h1', name: 'h1', zone: 'z1', rack: 'r1', tier: 'general', datacenter: 'dc1' },
  { id: 'h2', name: 'h2', zone: 'z1', rack: 'r1', tier: 'general', datacenter: 'dc1' },
  { id: 'h3', name: 'h3', zone: 'z2', rack: 'r2', tier: 'gpu', datacenter: 'dc1' },
  { id: 'h4', name: 'h4' }, // no attributes: its own domain for every spread
];
const at = (placement: Record<string, string | string[]>): ConstraintState =>
  constraintState(
    HOSTS,
    Object.entries(placement).flatMap(([vm, h]) => (Array.isArray(h) ? h : [h]).map((x) => [vm, x] as const)),
  );
type Spec = Constraint extends infer C ? (C extends Constraint ? Omit<C, 'id' | 'hard'> : never) : never;
const hard = (c: Spec): Constraint => ({ id: 'k', hard: true, ...c }) as Constraint;

// Each row: a constraint, a state, how many violations `check` finds, and for VM `a` the hosts
// `admits` accepts (the others refuse it), with the reasoning.
const rows: {
  name: string;
  c: Constraint;
  s: ConstraintState;
  violations: number;
  admitsA: string[];
}[] = [
  {
    // b on h1, c on h2: a may go only where neither is; b and c are apart so nothing is broken.
    name: 'anti-affinity',
    c: hard({ type: 'anti-affinity', vms: ['a', 'b', 'c'] }),
    s: at({ b: 'h1', c: 'h2' }),
    violations: 0,
    admitsA: ['h3', 'h4'],
  },
  {
    // b migrating h1 → h2 runs on both: a may use neither; a migrating member also counts twice.
    name: 'anti-affinity during a migration',
    c: hard({ type: 'anti-affinity', vms: ['a', 'b'] }),
    s: at({ a: 'h3', b: ['h1', 'h2'] }),
    violations: 0,
    admitsA: ['h3', 'h4'],
  },
  {
    // b and c share h1: one violation; a is held to the others' hosts only, not to its own h3.
    name: 'anti-affinity broken',
    c: hard({ type: 'anti-affinity', vms: ['a', 'b', 'c'] }),
    s: at({ a: 'h3', b: 'h1', c: 'h1' }),
    violations: 1,
    admitsA: ['h2', 'h3', 'h4'],
  },
  {
    // b and c on h2: a must join them there.
    name: 'affinity',
    c: hard({ type: 'affinity', vms: ['a', 'b', 'c'] }),
    s: at({ b: 'h2', c: 'h2' }),
    violations: 0,
    admitsA: ['h2'],
  },
  {
    // b on h1, c on h2: apart (one violation), and no host has both, so a fits nowhere.
    name: 'affinity broken',
    c: hard({ type: 'affinity', vms: ['a', 'b', 'c'] }),
    s: at({ b: 'h1', c: 'h2' }),
    violations: 1,
    admitsA: [],
  },
  {
    // Nothing of the group is placed: any host.
    name: 'affinity of an empty group',
    c: hard({ type: 'affinity', vms: ['a', 'b'] }),
    s: at({}),
    violations: 0,
    admitsA: ['h1', 'h2', 'h3', 'h4'],
  },
  {
    // A zone pin: only z2 (h3); b already on h1 breaks it.
    name: 'fence by zone',
    c: hard({ type: 'fence', vms: ['a', 'b'], where: { zone: 'z2' } }),
    s: at({ b: 'h1' }),
    violations: 1,
    admitsA: ['h3'],
  },
  {
    // Zone and tier together: z1 hosts are general, so nothing matches z1 + gpu.
    name: 'fence by zone and tier',
    c: hard({ type: 'fence', vms: ['a'], where: { zone: 'z1', tier: 'gpu' } }),
    s: at({}),
    violations: 0,
    admitsA: [],
  },
  {
    // Hosts by id or attributes: h4 listed, or tier gpu (h3).
    name: 'fence by hosts or attributes',
    c: hard({ type: 'fence', vms: ['a'], hosts: ['h4'], where: { tier: 'gpu' } }),
    s: at({ a: 'h4' }),
    violations: 0,
    admitsA: ['h3', 'h4'],
  },
  {
    // Ban rack r1 (h1, h2): a on h2 breaks it.
    name: 'ban by rack',
    c: hard({ type: 'ban', vms: ['a'], where: { rack: 'r1' } }),
    s: at({ a: 'h2' }),
    violations: 1,
    admitsA: ['h3', 'h4'],
  },
  {
    // At most 2 per host: h1 holds b, c; h2 holds d. a fits on h2 (2), h3, h4, not h1 (3).
    name: 'max-per-host',
    c: hard({ type: 'max-per-host', vms: ['a', 'b', 'c', 'd'], max: 2 }),
    s: at({ b: 'h1', c: 'h1', d: 'h2' }),
    violations: 0,
    admitsA: ['h2', 'h3', 'h4'],
  },
  {
    // One per rack: b in r1 (h1) forbids h1 and h2; h4 has no rack and is a rack of its own.
    name: 'spread over racks',
    c: hard({ type: 'spread', vms: ['a', 'b'], over: 'rack' }),
    s: at({ b: 'h1' }),
    violations: 0,
    admitsA: ['h3', 'h4'],
  },
  {
    // Two per zone: b, c in z1 fill it; d in z2 leaves one place there.
    name: 'spread over zones, two per zone',
    c: hard({ type: 'spread', vms: ['a', 'b', 'c', 'd'], over: 'zone', maxPerDomain: 2 }),
    s: at({ b: 'h1', c: 'h2', d: 'h3' }),
    violations: 0,
    admitsA: ['h3', 'h4'],
  },
  {
    // All in dc1 (h1..h3) is one data center: b and c already break a one-per-datacenter spread.
    name: 'spread over data centers broken',
    c: hard({ type: 'spread', vms: ['a', 'b', 'c'], over: 'datacenter' }),
    s: at({ b: 'h1', c: 'h3' }),
    violations: 1,
    admitsA: ['h4'],
  },
];

for (const r of rows)
  test(`checker table: ${r.name}`, () => {
    const k = checkerFor(r.c);
    assert.equal(
      k.check(r.s).length,
      r.violations,
      k
        .check(r.s)
        .map((v) => v.message)
        .join('; '),
    );
    assert.deepEqual(
      HOSTS.map((h) => h.id).filter((h) => !k.admits(r.s, 'a', h)),
      r.admitsA,
    );
    assert.equal(k.admits(r.s, 'zz', 'h1'), undefined, 'a VM the constraint is not about is admitted');
  });

test('messages name the constraint, the VMs and the host', () => {
  const s = constraintState(
    HOSTS,
    [
      ['v1', 'h1'],
      ['v2', 'h1'],
    ],
    new Map([
      ['v1', 'web-1'],
      ['v2', 'web-2'],
      ['v3', 'web-3'],
    ]),
  );
  const anti: Constraint = {
    id: 'g1',
    name: 'web',
    hard: true,
    type: 'anti-affinity',
    vms: ['v1', 'v2', 'v3'],
  };
  assert.equal(checkAll([anti], s)[0]!.message, 'anti-affinity "web": web-1, web-2 together on h1');
  assert.equal(
    admitsAll([anti], s, 'v3', 'h1')!.message,
    'anti-affinity "web": web-3 may not share h1 with web-1, web-2',
  );
  const pin: Constraint = {
    id: 'p',
    name: 'zone pin',
    hard: true,
    type: 'fence',
    vms: ['v3'],
    where: { zone: 'z2' },
  };
  assert.equal(
    admitsAll([pin], s, 'v3', 'h1')!.message,
    'fence "zone pin" (web-3): h1 is in zone z1, VM asks for z2',
  );
  const spread: Constraint = { id: 's', hard: true, type: 'spread', vms: ['v1', 'v3'], over: 'rack' };
  assert.equal(
    admitsAll([spread], s, 'v3', 'h2')!.message,
    'spread "s": web-3 may not join web-1 in rack r1 (at most 1 per rack)',
  );
  assert.throws(
    () => checkerFor({ id: 'm', hard: true, type: 'max-per-host', vms: [], max: 0 }),
    /whole max ≥ 1, got 0/,
  );
});

test('soft constraints are scored, never refused; continuous and discrete are told apart', () => {
  const s = at({ b: 'h1', c: 'h2' });
  const soft: Constraint[] = [
    { id: 'x', hard: false, type: 'anti-affinity', vms: ['a', 'b', 'c'] },
    { id: 'y', hard: false, type: 'fence', vms: ['a'], where: { zone: 'z1' } },
  ];
  assert.equal(admitsAll(soft, s, 'a', 'h1'), undefined);
  // h1: anti-affinity 1 − 1/2 = 0.5, fence 1 → 0.75; h3: anti 1, fence 0 → 0.5; h4 same as h3
  assert.equal(softScore(soft, s, 'a', 'h1'), 0.75);
  assert.equal(softScore(soft, s, 'a', 'h3'), 0.5);
  assert.equal(softScore(soft, s, 'zz', 'h3'), 0.5, 'neutral without soft constraints');
  const both: Constraint[] = [
    { id: 'g', hard: true, type: 'affinity', vms: ['a', 'b'] },
    { id: 'n', hard: true, type: 'anti-affinity', vms: ['a', 'c'] },
  ];
  assert.equal(admitsAll(both, s, 'a', 'h2', { only: 'continuous' })!.constraint.id, 'n');
  assert.equal(admitsAll(both, s, 'a', 'h2', { only: 'discrete' })!.constraint.id, 'g');
  assert.equal(admitsAll(both, s, 'a', 'h2')!.constraint.id, 'g', 'the first refusing constraint in order');
});

const arbConstraint = (vms: string[]): fc.Arbitrary<Constraint> => {
  const members = fc.subarray(vms, { minLength: 1 });
  const where = fc.record(
    {
      zone: fc.constantFrom('z1', 'z2'),
      rack: fc.constantFrom('r1', 'r2'),
      tier: fc.constantFrom('general', 'gpu'),
    },
    { requiredKeys: [] },
  );
  return fc.oneof(
    fc.record({
      id: fc.constant('aa'),
      hard: fc.constant(true),
      type: fc.constant('affinity' as const),
      vms: members,
    }),
    fc.record({
      id: fc.constant('an'),
      hard: fc.constant(true),
      type: fc.constant('anti-affinity' as const),
      vms: members,
    }),
    fc.record({
      id: fc.constant('f'),
      hard: fc.constant(true),
      type: fc.constantFrom('fence' as const, 'ban' as const),
      vms: members,
      hosts: fc.subarray(HOSTS.map((h) => h.id)),
      where,
    }),
    fc.record({
      id: fc.constant('m'),
      hard: fc.constant(true),
      type: fc.constant('max-per-host' as const),
      vms: members,
      max: fc.integer({ min: 1, max: 3 }),
    }),
    fc.record({
      id: fc.constant('s'),
      hard: fc.constant(true),
      type: fc.constant('spread' as const),
      vms: members,
      over: fc.constantFrom('rack' as const, 'zone' as const, 'datacenter' as const),
      maxPerDomain: fc.integer({ min: 1, max: 2 }),
    }),
  );
};

test('property: on a state that satisfies a constraint, admits agrees with checking the state after the placement from scratch', () => {
  const vms = ['a', 'b', 'c', 'd', 'e'];
  fc.assert(
    fc.property(
      arbConstraint(vms),
      fc.array(fc.option(fc.constantFrom('h1', 'h2', 'h3', 'h4')), { minLength: 5, maxLength: 5 }),
      fc.constantFrom(...vms),
      fc.constantFrom('h1', 'h2', 'h3', 'h4'),
      (c, hosts, vm, to) => {
        const pairs = vms.flatMap((v, i) => (hosts[i] ? [[v, hosts[i]!] as const] : []));
        const s = constraintState(HOSTS, pairs);
        const k = checkerFor(c);
        if (k.check(s).length) return; // admits judges one more placement, from a valid state
        // Continuous rules judge the VM on both hosts (a migration in flight); discrete ones the move.
        const after = constraintState(
          HOSTS,
          k.continuous
            ? [...pairs, [vm, to] as const]
            : [...pairs.filter(([v]) => v !== vm), [vm, to] as const],
        );
        assert.equal(
          k.admits(s, vm, to) === undefined,
          k.check(after).length === 0,
          JSON.stringify({ c, pairs, vm, to }),
        );
      },
    ),
    { numRuns: 2000, seed: 21 },
  );
});
