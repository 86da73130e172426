import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { Constraint } from '../../core/constraints/index.ts';
import type { PackInstance } from './instance.ts';
import { admissibility, buildMilpModel } from './milp-model.ts';
import { encodePlacement } from './milp-solution.ts';
import { partition } from './optimize.ts';

const host = (id: string, zone: string, rack: string) => ({
  id,
  name: id,
  zone,
  rack,
  capacity: [8, 16],
  idleW: 100,
  on: true,
});
const base: PackInstance = {
  dims: ['vcpus', 'memoryMiB'],
  hosts: [host('a0', 'a', 'r0'), host('a1', 'a', 'r1'), host('b0', 'b', 'r0'), host('b1', 'b', 'r1')],
  vms: [
    { id: 'x', demand: [2, 2], hostId: 'a0', moveCostS: 10 },
    { id: 'y', demand: [2, 2], hostId: 'a1', moveCostS: 10 },
    { id: 'z', demand: [2, 2], hostId: 'b0', moveCostS: 10 },
    { id: 'n', demand: [1, 1], moveCostS: 0 },
  ],
};
const withC = (...constraints: Constraint[]): PackInstance => ({ ...base, constraints });

describe('the catalog in the MILP', () => {
  it('root and quarantine fix VMs to their host; quarantine, among and splitAmong refuse hosts', () => {
    assert.deepEqual(admissibility(withC({ id: 'r', type: 'root', hard: true, vms: ['x', 'n'] }))[0], [0]);
    // A new VM has no host to stay on: root leaves it free.
    assert.deepEqual(
      admissibility(withC({ id: 'r', type: 'root', hard: true, vms: ['n'] }))[3],
      [0, 1, 2, 3],
    );
    const q = admissibility(withC({ id: 'q', type: 'quarantine', hard: true, vms: [], hosts: ['a1'] }));
    assert.deepEqual(q, [[0], [1], [2, 3], [0, 2, 3]]);
    const among = withC({
      id: 'am',
      type: 'among',
      hard: true,
      vms: ['n'],
      groups: [{ where: { rack: 'r1' } }],
    });
    assert.deepEqual(admissibility(among)[3], [1, 3]);
  });

  it('lists every catalog type as encoded', () => {
    const m = buildMilpModel(
      withC(
        { id: 'g', type: 'gather', hard: true, vms: ['x', 'y'] },
        { id: 'l', type: 'lonely', hard: true, vms: ['x'] },
        { id: 'nd', type: 'noDelay', hard: true, vms: ['x'] },
        { id: 'mo', type: 'maxOnline', hard: true, vms: [], where: { zone: 'a' }, max: 1 },
      ),
    );
    assert.deepEqual(m.unencoded, []);
    assert.ok(m.rows.constraint > 0);
  });

  it('sets the auxiliary binaries of a placement (lonely: z[h] = 1 where the lonely VM is)', () => {
    const inst = withC({ id: 'l', type: 'lonely', hard: true, vms: ['n'] });
    const m = buildMilpModel(inst, { stayInZone: false });
    const aux = m.auxStart.length - 1;
    assert.ok(aux > 0);
    const cols = encodePlacement(m, [0, 1, 2, 3])!; // n alone on b1
    const first = m.numCols - aux;
    for (let k = 0; k < aux; k++) {
      const hosts = [...m.auxCols.slice(m.auxStart[k]!, m.auxStart[k + 1]!)].map((j) => m.xHost[j]!);
      assert.equal(cols[first + k], hosts.includes(3) ? 1 : 0);
    }
  });

  it('a count over hosts of two zones couples the zones into one part', () => {
    // Without n (a new VM may go to either zone), x and y stay in zone a, z in zone b.
    const free = { ...base, vms: base.vms.slice(0, 3) };
    assert.equal(partition(free, admissibility(free)).length, 2);
    const rc: PackInstance = {
      ...free,
      constraints: [
        { id: 'rc', type: 'runningCapacity', hard: true, vms: [], where: { rack: 'r0' }, max: 2 },
      ],
    };
    assert.equal(partition(rc, admissibility(rc)).length, 1);
  });
});
