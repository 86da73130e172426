import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Constraint, HostAttributes } from '../../core/constraints/index.ts';
import { HostIndex } from './host-index.ts';
import { placeVm, type HostView, type PlacementDecision, type PlacementRequest } from './pipeline.ts';

// Few distinct values so that hosts often share a class and scores often tie.
const arbHost = (i: number): fc.Arbitrary<HostView> =>
  fc
    .record({
      state: fc.constantFrom('up', 'up', 'up', 'maintenance', 'off', 'failed'),
      big: fc.boolean(),
      cpuRatio: fc.constantFrom(1, 2, 4),
      usedV: fc.constantFrom(0, 0, 2, 12),
      usedM: fc.constantFrom(0, 0, 4096, 16000),
      usedD: fc.constantFrom(0, 90),
      zone: fc.constantFrom('z1', 'z2'),
      rack: fc.constantFrom('r1', 'r2', 'r3'),
      vms: fc.subarray(['v1', 'v2', 'v3', 'v4']),
      name: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g'),
    })
    .map((o) => ({
      id: `h${i}`,
      name: `${o.name}${i}`,
      state: o.state as HostView['state'],
      capacity: o.big
        ? { vcpus: 16, memoryMiB: 32768, diskGiB: 200 }
        : { vcpus: 8, memoryMiB: 16384, diskGiB: 100 },
      reserved: { vcpus: 0, memoryMiB: 1024, diskGiB: 0 },
      cpuRatio: o.cpuRatio,
      memoryRatio: 1,
      diskRatio: 1,
      used: { vcpus: o.usedV, memoryMiB: o.usedM, diskGiB: o.usedD },
      vmIds: o.vms.map((v) => `${v}`),
      zone: o.zone,
      rack: o.rack,
    }));

const arbHosts = fc
  .integer({ min: 0, max: 24 })
  .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => arbHost(i))));

const arbRequest = fc.record({
  flavor: fc.record({
    vcpus: fc.constantFrom(1, 2, 4, 8),
    memoryMiB: fc.constantFrom(512, 2048, 4096, 8192),
    diskGiB: fc.constantFrom(1, 20, 40),
  }),
  preset: fc.constantFrom('pack', 'spread', 'first-fit'),
  group: fc.option(fc.constantFrom('affinity', 'anti-affinity', 'soft-anti-affinity', 'soft-affinity'), {
    nil: undefined,
  }),
  zone: fc.option(fc.constantFrom('z1', 'z2'), { nil: undefined }),
  spread: fc.boolean(),
  domainOf: fc.boolean(),
  exclude: fc.subarray(['h0', 'h1', 'h2', 'h5']),
});

type Req = typeof arbRequest extends fc.Arbitrary<infer T> ? T : never;

function request(r: Req): PlacementRequest {
  const constraints: Constraint[] = r.spread
    ? [{ id: 's', type: 'spread', hard: true, vms: ['v1', 'v2', 'vm-new'], over: 'rack' }]
    : [];
  return {
    flavor: r.flavor,
    vmId: 'vm-new',
    constraints,
    group: r.group ? { id: 'g', policy: r.group, memberIds: ['v1', 'v3'] } : undefined,
    zone: r.zone,
  };
}

const attrsOf = (hs: readonly HostView[]) =>
  new Map<string, HostAttributes>(
    hs.map((h) => [h.id, { id: h.id, name: h.name, zone: h.zone, rack: h.rack, tier: h.tier }]),
  );

/** The plain pipeline over the query's hosts, as the scheduler runs it (every host's attributes). */
function reference(hs: readonly HostView[], r: Req, req: PlacementRequest): PlacementDecision {
  const ex = new Set(r.exclude);
  // In name order, as the scheduler reads them (where a VM on two hosts is listed first follows it).
  const views = hs
    .filter((h) => !ex.has(h.id) && (!r.domainOf || h.zone === 'z1'))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  return placeVm(views, { ...req, hostAttributes: attrsOf(hs) }, r.preset);
}

test('HostIndex.place chooses the host placeVm chooses, with its score and explanation', () => {
  fc.assert(
    fc.property(arbHosts, arbRequest, (hs, r) => {
      const index = new HostIndex(hs, (h) => (r.domainOf ? (h.zone ?? '') : ''));
      const req = request(r);
      const want = reference(hs, r, req);
      const got = index.place(req, r.preset, {
        exclude: new Set(r.exclude),
        domain: r.domainOf ? 'z1' : undefined,
      });
      assert.equal(got.hostId, want.hostId);
      if (!want.hostId) return assert.deepEqual(got, want);
      assert.deepEqual(got.ranked[0], want.ranked[0]);
      const hard = (req.group && !req.group.policy.startsWith('soft')) || req.zone || r.spread;
      if (!hard) assert.equal(got.explanation, want.explanation);
    }),
    { numRuns: 500 },
  );
});

test('HostIndex follows upserts and removals: the same answers as a fresh pipeline', () => {
  fc.assert(
    fc.property(
      arbHosts,
      fc.array(fc.tuple(fc.nat(23), fc.nat(12), fc.boolean())),
      arbRequest,
      (hs, edits, r) => {
        const index = new HostIndex(hs);
        const live = new Map(hs.map((h) => [h.id, h]));
        for (const [i, usedV, drop] of edits) {
          const h = hs[i % Math.max(hs.length, 1)];
          if (!h) continue;
          if (drop) {
            index.remove(h.id);
            live.delete(h.id);
          } else {
            const v = { ...h, used: { ...h.used, vcpus: usedV } };
            index.upsert(v);
            live.set(h.id, v);
          }
        }
        const req = request({ ...r, domainOf: false, exclude: [] });
        const want = placeVm(
          [...live.values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
          { ...req, hostAttributes: attrsOf([...live.values()]) },
          r.preset,
        );
        assert.equal(index.size, live.size);
        assert.equal(index.place(req, r.preset).hostId, want.hostId);
      },
    ),
    { numRuns: 300 },
  );
});

test('HostIndex scores one class for many identical hosts and breaks ties by name', () => {
  const base: HostView = {
    id: '',
    name: '',
    state: 'up',
    capacity: { vcpus: 8, memoryMiB: 16384, diskGiB: 100 },
    reserved: { vcpus: 0, memoryMiB: 0, diskGiB: 0 },
    cpuRatio: 1,
    memoryRatio: 1,
    diskRatio: 1,
    used: { vcpus: 0, memoryMiB: 0, diskGiB: 0 },
    vmIds: [],
  };
  const hs = ['c', 'a', 'b'].map((n) => ({ ...base, id: n, name: n }));
  const index = new HostIndex(hs);
  assert.equal(index.classCount, 1);
  const flavor = { vcpus: 2, memoryMiB: 4096, diskGiB: 10 };
  assert.equal(index.place({ flavor }, 'pack').hostId, 'a');
  // a filled a little: pack prefers it ((2+2)/8 = 0.5 against 0.25), spread the lowest-named empty one.
  index.upsert({ ...hs[1]!, used: { vcpus: 2, memoryMiB: 4096, diskGiB: 10 } });
  assert.equal(index.classCount, 2);
  assert.equal(index.place({ flavor }, 'pack').hostId, 'a');
  assert.equal(index.place({ flavor }, 'spread').hostId, 'b');
  assert.equal(index.place({ flavor }, 'spread', { exclude: new Set(['b']) }).hostId, 'c');
});

test('HostIndex with a soft anti-affinity group passes over a lower-named twin that holds a member', () => {
  const base: HostView = {
    id: '',
    name: '',
    state: 'up',
    capacity: { vcpus: 8, memoryMiB: 16384, diskGiB: 100 },
    reserved: { vcpus: 0, memoryMiB: 0, diskGiB: 0 },
    cpuRatio: 1,
    memoryRatio: 1,
    diskRatio: 1,
    used: { vcpus: 0, memoryMiB: 0, diskGiB: 0 },
    vmIds: [],
  };
  // One class (same counters): a holds the member, so b scores higher (soft 1 against 0).
  const hs = [
    { ...base, id: 'a', name: 'a', vmIds: ['m1'] },
    { ...base, id: 'b', name: 'b' },
  ];
  const req: PlacementRequest = {
    flavor: { vcpus: 1, memoryMiB: 1024, diskGiB: 1 },
    group: { id: 'g', policy: 'soft-anti-affinity', memberIds: ['m1'] },
  };
  const index = new HostIndex(hs);
  assert.equal(index.classCount, 1);
  assert.equal(placeVm(hs, req).hostId, 'b');
  assert.equal(index.place(req).hostId, 'b');
  assert.equal(index.place(req).explanation, placeVm(hs, req).explanation);
});
