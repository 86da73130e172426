import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkAll } from '../../core/constraints/index.ts';
import type { PackInstance } from './instance.ts';
import { repairPlacement } from './repair.ts';
import { repairInstance, type RepairFault } from './repair-instances.ts';
import { placementValid } from './warm-start.ts';

const small = (seed: number, fault: RepairFault) =>
  repairInstance({ hosts: 60, vms: 240, seed, fault, rackSize: 5, zoneSize: 30, constraints: 12 });

/** Per host, its load per dimension under the VMs' current hosts. */
function loads(inst: PackInstance) {
  const used = new Map<string, number[]>();
  for (const v of inst.vms) {
    const u = used.get(v.hostId!) ?? inst.dims.map(() => 0);
    v.demand.forEach((x, d) => (u[d]! += x));
    used.set(v.hostId!, u);
  }
  return used;
}
const current = (inst: PackInstance) => {
  const index = new Map(inst.hosts.map((h, i) => [h.id, i]));
  return inst.vms.map((v) => index.get(v.hostId!)!);
};
const state = (inst: PackInstance) => ({
  hosts: new Map(inst.hosts.map((h) => [h.id, h])),
  placement: new Map(inst.vms.map((v) => [v.id, [v.hostId!]])),
});

describe('repairInstance()', () => {
  it('is valid before the fault, and after a load increase breaks capacity only, on hosts of grown VMs', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), (seed) => {
        const ri = small(seed, 'load');
        assert.ok(placementValid(ri.before, current(ri.before)));
        assert.ok(ri.instance.constraints!.length >= 10);
        assert.deepEqual(checkAll(ri.instance.constraints!, state(ri.instance)), []);
        const grown = new Set(ri.touched.vms);
        assert.equal(grown.size, 48);
        const hostsOfGrown = new Set(ri.instance.vms.filter((v) => grown.has(v.id)).map((v) => v.hostId));
        for (const [h, u] of loads(ri.instance)) {
          const cap = ri.instance.hosts.find((x) => x.id === h)!.capacity;
          if (u.some((x, d) => x > cap[d]! + 1e-9)) assert.ok(hostsOfGrown.has(h), `${h} overloaded`);
        }
      }),
      { numRuns: 15 },
    );
  });

  it('after a rack goes into maintenance, the only broken constraint is its ban, on that rack', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), (seed) => {
        const ri = small(seed, 'maintenance');
        assert.ok(placementValid(ri.before, current(ri.before)));
        assert.ok(ri.touched.hosts.length > 0);
        const broken = checkAll(ri.instance.constraints!, state(ri.instance));
        assert.ok(broken.length > 0);
        for (const b of broken) {
          assert.equal(b.constraint.id, 'maintenance');
          for (const v of b.vmIds)
            assert.ok(ri.touched.hosts.includes(ri.instance.vms.find((x) => x.id === v)!.hostId!));
        }
        for (const [h, u] of loads(ri.instance)) {
          const cap = ri.instance.hosts.find((x) => x.id === h)!.capacity;
          assert.ok(u.every((x, d) => x <= cap[d]! + 1e-9));
        }
      }),
      { numRuns: 15 },
    );
  });

  it('gives the same instance for the same options', () => {
    assert.deepEqual(small(4, 'load'), small(4, 'load'));
  });
});

describe('repairPlacement()', () => {
  for (const fault of ['load', 'maintenance'] as const)
    it(`repairs a ${fault} fault by moving only the VMs it names`, () => {
      const ri = small(21, fault);
      const r = repairPlacement(ri.instance);
      assert.ok(r);
      assert.ok(placementValid(ri.instance, r.hostOfVm));
      const moved = new Set(r.mustMove);
      ri.instance.vms.forEach((v, i) => {
        if (!moved.has(i)) assert.equal(ri.instance.hosts[r.hostOfVm[i]!]!.id, v.hostId);
      });
      assert.ok(moved.size > 0 && moved.size < ri.instance.vms.length / 2);
      if (fault === 'maintenance')
        for (const h of r.hostOfVm) assert.ok(!ri.touched.hosts.includes(ri.instance.hosts[h]!.id));
    });

  it('leaves a valid placement alone', () => {
    const ri = small(3, 'load');
    const r = repairPlacement(ri.before);
    assert.deepEqual(r?.mustMove, []);
  });
});
