import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Constraint } from '../../core/constraints/index.ts';
import { checkAll, constraintState } from '../../core/constraints/index.ts';
import { capacityFilter, placeVm, type HostView } from './pipeline.ts';

const host = (name: string, o: Partial<HostView> = {}): HostView => ({
  id: `id-${name}`,
  name,
  state: 'up',
  capacity: { vcpus: 8, memoryMiB: 16384, diskGiB: 100 },
  reserved: { vcpus: 0, memoryMiB: 1024, diskGiB: 0 },
  cpuRatio: 2,
  memoryRatio: 1,
  diskRatio: 1,
  used: { vcpus: 0, memoryMiB: 0, diskGiB: 0 },
  vmIds: [],
  ...o,
});
const small = { vcpus: 2, memoryMiB: 4096, diskGiB: 10 };

test('pack picks the fullest host that fits; spread the emptiest', () => {
  const hs = [
    host('a', { used: { vcpus: 2, memoryMiB: 2048, diskGiB: 10 } }),
    host('b', { used: { vcpus: 8, memoryMiB: 8192, diskGiB: 20 } }),
  ];
  // memory share after placement: a (2048+4096)/15360 = 0.4, b (8192+4096)/15360 = 0.8
  assert.equal(placeVm(hs, { flavor: small }, 'pack').hostId, 'id-b');
  assert.equal(placeVm(hs, { flavor: small }, 'spread').hostId, 'id-a');
});

test('no host fits: the answer names each host, the filter and the numbers', () => {
  const hs = [
    host('a', { state: 'maintenance' }),
    host('b', { used: { vcpus: 15, memoryMiB: 0, diskGiB: 0 } }),
    host('c', { used: { vcpus: 0, memoryMiB: 14000, diskGiB: 0 } }),
  ];
  const d = placeVm(hs, { flavor: small });
  assert.equal(d.hostId, null);
  assert.deepEqual(
    d.rejected.map((r) => [r.hostName, r.filter, r.reason]),
    [
      ['a', 'HostStateFilter', 'host is maintenance'],
      ['b', 'CapacityFilter', 'needs 2 vCPUs, 1 free (×2 overcommit)'], // 8 × 2 − 0 − 15 = 1
      ['c', 'CapacityFilter', 'needs 4096 MiB memory, 1360 MiB free (×1 overcommit)'], // 16384 − 1024 − 14000
    ],
  );
  assert.match(d.explanation, /^no host fits: a \(HostStateFilter: host is maintenance\); b/);
});

test('hard anti-affinity keeps group members apart; hard affinity keeps them together; soft ones only prefer', () => {
  const hs = [host('a', { vmIds: ['v1'] }), host('b')];
  const anti = placeVm(hs, { flavor: small, group: { id: 'g', policy: 'anti-affinity', memberIds: ['v1'] } });
  assert.equal(anti.hostId, 'id-b');
  assert.equal(anti.rejected[0]!.filter, 'ConstraintFilter');
  assert.equal(anti.rejected[0]!.reason, 'anti-affinity "g": the new VM may not share a with v1');
  assert.equal(
    placeVm(hs, { flavor: small, group: { id: 'g', policy: 'affinity', memberIds: ['v1'] } }, 'spread')
      .hostId,
    'id-a',
  );
  const full = [host('a', { vmIds: ['v1'] })];
  assert.equal(
    placeVm(full, { flavor: small, group: { id: 'g', policy: 'soft-anti-affinity', memberIds: ['v1'] } })
      .hostId,
    'id-a',
    'soft rules never block',
  );
  assert.throws(
    () => placeVm(hs, { flavor: small }, 'random'),
    /Unknown placement preset "random"; accepted: pack, spread, first-fit/,
  );
});

test('property: a chosen host always has room in every dimension and passes every hard rule', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          vcpus: fc.integer({ min: 0, max: 20 }),
          mem: fc.integer({ min: 0, max: 20000 }),
          disk: fc.integer({ min: 0, max: 120 }),
          state: fc.constantFrom('up', 'up', 'maintenance', 'failed'),
        }),
        { minLength: 0, maxLength: 12 },
      ),
      fc.record({
        vcpus: fc.integer({ min: 1, max: 8 }),
        memoryMiB: fc.integer({ min: 256, max: 8192 }),
        diskGiB: fc.integer({ min: 1, max: 50 }),
      }),
      fc.constantFrom('pack', 'spread', 'first-fit'),
      (used, flavor, preset) => {
        const hs = used.map((u, i) =>
          host(`h${i}`, {
            state: u.state as HostView['state'],
            used: { vcpus: u.vcpus, memoryMiB: u.mem, diskGiB: u.disk },
          }),
        );
        const d = placeVm(hs, { flavor }, preset);
        assert.equal(
          d.ranked.length + d.rejected.length,
          hs.length,
          'every host is either ranked or rejected with a reason',
        );
        if (d.hostId) {
          const h = hs.find((x) => x.id === d.hostId)!;
          assert.equal(h.state, 'up');
          assert.ok(
            h.used.vcpus + flavor.vcpus <= 16 &&
              h.used.memoryMiB + flavor.memoryMiB <= 15360 &&
              h.used.diskGiB + flavor.diskGiB <= 100,
          );
        }
      },
    ),
    { numRuns: 300, seed: 11 },
  );
});

test('why not placed names the constraint and the VMs: a fence over a zone, a ban, a spread over racks', () => {
  const hs = [
    host('a', { zone: 'z1', rack: 'r1', vmIds: ['db-1'] }),
    host('b', { zone: 'z1', rack: 'r1' }),
    host('c', { zone: 'z2', rack: 'r2' }),
  ];
  const constraints: Constraint[] = [
    { id: 'c1', name: 'db racks', hard: true, type: 'spread', over: 'rack', vms: ['db-1', 'db-2'] },
    { id: 'c2', name: 'no c', hard: true, type: 'ban', vms: ['db-2'], hosts: ['id-c'] },
  ];
  const d = placeVm(hs, { flavor: small, vmId: 'db-2', constraints, vmNames: new Map([['db-1', 'db-1']]) });
  assert.equal(d.hostId, null);
  assert.deepEqual(
    d.rejected.map((r) => `${r.hostName}: ${r.reason}`),
    [
      'a: spread "db racks": db-2 may not join db-1 in rack r1 (at most 1 per rack)',
      'b: spread "db racks": db-2 may not join db-1 in rack r1 (at most 1 per rack)',
      'c: ban "no c" (db-2): c is banned (host id-c)',
    ],
  );
  const z = placeVm(hs, { flavor: small, zone: 'z2', tier: 'gpu' });
  assert.equal(z.rejected[0]!.reason, 'fence "zone pin" (the new VM): a is in zone z1, VM asks for z2');
  assert.equal(z.rejected[2]!.reason, 'fence "tier pin" (the new VM): c is in tier none, VM asks for gpu');
});

test('soft constraints only rank: a soft anti-affinity prefers the host without a member, even against pack', () => {
  const hs = [host('a', { vmIds: ['w1'], used: { vcpus: 2, memoryMiB: 4096, diskGiB: 10 } }), host('b')];
  const soft: Constraint = { id: 's', hard: false, type: 'anti-affinity', vms: ['w1', 'w2'] };
  // a: pack (4096+4096)/15360 = 0.53, soft 0 → 0.53; b: pack 0.27, soft 1 × 2 → 2.27
  assert.equal(placeVm(hs, { flavor: small, vmId: 'w2', constraints: [soft] }).hostId, 'id-b');
});

const arbConstraints = (vmIds: string[], hostIds: string[]) =>
  fc
    .array(
      fc.oneof(
        fc.record({
          type: fc.constantFrom('affinity' as const, 'anti-affinity' as const),
          vms: fc.subarray(vmIds, { minLength: 1 }),
          hard: fc.boolean(),
        }),
        fc.record({
          type: fc.constantFrom('fence' as const, 'ban' as const),
          vms: fc.subarray(vmIds, { minLength: 1 }),
          hard: fc.boolean(),
          hosts: fc.subarray(hostIds),
          where: fc.record(
            { zone: fc.constantFrom('z1', 'z2'), rack: fc.constantFrom('r1', 'r2', 'r3') },
            { requiredKeys: [] },
          ),
        }),
        fc.record({
          type: fc.constant('max-per-host' as const),
          vms: fc.subarray(vmIds, { minLength: 1 }),
          hard: fc.boolean(),
          max: fc.integer({ min: 1, max: 3 }),
        }),
        fc.record({
          type: fc.constant('spread' as const),
          vms: fc.subarray(vmIds, { minLength: 1 }),
          hard: fc.boolean(),
          over: fc.constantFrom('rack' as const, 'zone' as const),
          maxPerDomain: fc.integer({ min: 1, max: 2 }),
        }),
      ),
      { maxLength: 5 },
    )
    .map((cs) => cs.map((c, i) => ({ ...c, id: `c${i}` }) as Constraint));

test('property: placeVm never picks a host that breaks a hard constraint, and finds none only when every host is ruled out', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 8 }).chain((H) =>
        fc.record({
          hosts: fc.array(
            fc.record({
              state: fc.constantFrom('up', 'up', 'up', 'maintenance'),
              mem: fc.integer({ min: 0, max: 14000 }),
              zone: fc.constantFrom('z1', 'z2'),
              rack: fc.constantFrom('r1', 'r2', 'r3'),
            }),
            { minLength: H, maxLength: H },
          ),
          where: fc.array(fc.option(fc.integer({ min: 0, max: H - 1 })), { minLength: 6, maxLength: 6 }),
          constraints: arbConstraints(
            ['v0', 'v1', 'v2', 'v3', 'v4', 'new'],
            Array.from({ length: H }, (_, i) => `id-h${i}`),
          ),
          preset: fc.constantFrom('pack', 'spread', 'first-fit'),
        }),
      ),
      ({ hosts, where, constraints, preset }) => {
        const vms = ['v0', 'v1', 'v2', 'v3', 'v4'];
        const hs = hosts.map((x, i) =>
          host(`h${i}`, {
            state: x.state as HostView['state'],
            zone: x.zone,
            rack: x.rack,
            used: { vcpus: 0, memoryMiB: x.mem, diskGiB: 0 },
            vmIds: vms.filter((_, k) => where[k] === i),
          }),
        );
        const pairs = vms.flatMap((v, k) => (where[k] != null ? [[v, `id-h${where[k]}`] as const] : []));
        const attrs = hs.map((h) => ({ id: h.id, name: h.name, zone: h.zone, rack: h.rack }));
        if (checkAll(constraints, constraintState(attrs, pairs)).length) return; // start from a valid state
        const d = placeVm(hs, { flavor: small, vmId: 'new', constraints }, preset);
        // Oracle: a host is feasible when it is up, has room, and the state with the VM on it holds.
        const feasible = (h: HostView) =>
          h.state === 'up' &&
          capacityFilter.filter(h, { flavor: small }, undefined as never).pass &&
          checkAll(constraints, constraintState(attrs, [...pairs, ['new', h.id]])).length === 0;
        if (d.hostId) assert.ok(feasible(hs.find((h) => h.id === d.hostId)!), d.explanation);
        else assert.ok(!hs.some(feasible), d.explanation);
        assert.deepEqual(
          d.ranked.map((r) => r.hostId).sort(),
          hs
            .filter(feasible)
            .map((h) => h.id)
            .sort(),
          'ranked are exactly the feasible hosts',
        );
      },
    ),
    { numRuns: 500, seed: 12 },
  );
});

test('catalog rules about every VM filter a new VM: lonely hosts, quarantine, overbook, runningCapacity', () => {
  const hs = [host('a', { vmIds: ['db'] }), host('b', { vmIds: ['w1'] }), host('c'), host('d')];
  const rules: Constraint[] = [
    // The request names placement only for the lonely VM: the stranger w1 is read from the hosts.
    { id: 'l', name: 'db alone', hard: true, type: 'lonely', vms: ['db'] },
    { id: 'q', name: 'c quarantined', hard: true, type: 'quarantine', vms: [], hosts: ['id-c'] },
    { id: 'o', hard: true, type: 'overbook', vms: [], hosts: ['id-d'], resource: 'vcpus', ratio: 0.1 },
  ];
  const d = placeVm(hs, { flavor: small, constraints: rules, placement: new Map([['db', ['id-a']]]) });
  assert.equal(d.hostId, 'id-b');
  assert.deepEqual(
    d.rejected.map((r) => [r.hostName, r.reason]),
    [
      ['a', 'lonely "db alone": a is reserved for db'],
      ['c', 'quarantine "c quarantined": the new VM may not enter c (quarantined: host id-c)'],
      ['d', 'overbook "o": 2 vcpus on d, above 0.8 (0.1 × capacity)'],
    ],
  );
  const full: Constraint = {
    id: 'rc',
    hard: true,
    type: 'runningCapacity',
    vms: [],
    where: {},
    hosts: ['id-b'],
    max: 1,
  };
  assert.equal(placeVm([hs[1]!], { flavor: small, constraints: [full] }).hostId, null);
});
