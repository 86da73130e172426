import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { placeVm, type HostView } from './pipeline.ts';

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
  assert.equal(anti.rejected[0]!.filter, 'ServerGroupFilter');
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
