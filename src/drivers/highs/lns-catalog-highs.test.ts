import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkAll, type Constraint } from '../../core/constraints/index.ts';
import type { PackInstance } from '../../policies/optimize/instance.ts';
import { lns } from '../../policies/optimize/lns.ts';
import { defaultMigrationWeight } from '../../policies/optimize/milp-model.ts';
import { packState } from '../../policies/optimize/pack-state.ts';
import { placementValid } from '../../policies/optimize/warm-start.ts';
import { seededRandom } from '../../runtime/random.ts';
import { highsSolver } from './highs-solver.ts';

const solver = highsSolver();

/** Hosts h0..h5 in racks r0/r1 with 4 physical cores, VMs spread one or two per host, random rules about hosts. */
const instances = fc
  .record({
    vms: fc.array(fc.record({ cpu: fc.integer({ min: 1, max: 3 }), at: fc.nat(5) }), {
      minLength: 2,
      maxLength: 9,
    }),
    rules: fc.array(
      fc.record({
        type: fc.constantFrom('maxOnline', 'runningCapacity', 'overbook', 'quarantine', 'lonely', 'preserve'),
        k: fc.nat(11),
      }),
      { minLength: 1, maxLength: 4 },
    ),
  })
  .map((g): PackInstance => {
    const rule = ({ type, k }: { type: string; k: number }, i: number): Constraint => {
      const id = `c${i}`;
      const vm = `v${k % g.vms.length}`;
      const rack = { rack: `r${k % 2}` };
      if (type === 'maxOnline') return { id, type, hard: true, vms: [], where: rack, max: 1 + (k % 3) };
      if (type === 'runningCapacity') return { id, type, hard: true, vms: [], where: rack, max: 2 + (k % 5) };
      if (type === 'overbook')
        return { id, type, hard: true, vms: [], where: rack, resource: 'vcpus', ratio: 1 + (k % 2) / 2 };
      if (type === 'quarantine') return { id, type, hard: true, vms: [], hosts: [`h${k % 6}`] };
      if (type === 'lonely') return { id, type, hard: true, vms: [vm] };
      return { id, type: 'preserve', hard: true, vms: [vm], resource: 'vcpus', amount: 2 + (k % 2) };
    };
    return {
      dims: ['cpu', 'memoryMiB'],
      hosts: [0, 1, 2, 3, 4, 5].map((i) => ({
        id: `h${i}`,
        name: `h${i}`,
        rack: `r${i % 2}`,
        zone: 'z',
        capacity: [8, 16],
        physical: { vcpus: 4 },
        idleW: 100,
        on: true,
      })),
      vms: g.vms.map((v, i) => ({ id: `v${i}`, demand: [v.cpu, 2], moveCostS: 1 + i, hostId: `h${v.at}` })),
      constraints: g.rules.map(rule),
    };
  });

describe('lns() with HiGHS under the rules about hosts and every VM', () => {
  it('no improving sub-solution HiGHS finds is refused by the whole check (property)', async () => {
    let solves = 0,
      improvements = 0;
    await fc.assert(
      fc.asyncProperty(instances, fc.integer(), async (inst, seed) => {
        const start = Int32Array.from(inst.vms, (v) => Number(v.hostId!.slice(1)));
        fc.pre(placementValid(inst, start));
        const r = await lns(inst, start, solver, {
          random: seededRandom(seed),
          migrationWeight: defaultMigrationWeight(inst),
          maxRounds: 3,
          maxNodes: 500,
          hosts: 3,
          parallel: 2,
        });
        solves += r.subSolves;
        improvements += r.improvements;
        assert.equal(r.invalid, 0, 'a HiGHS answer broke its sub-instance');
        assert.equal(r.rejected, 0, 'a valid sub-solution broke the whole');
        assert.deepEqual(checkAll(inst.constraints!, packState(inst, r.hostOfVm)), []);
      }),
      { numRuns: 30, seed: 1416 },
    );
    assert.ok(solves > 0 && improvements > 0, `${solves} sub-MILPs, ${improvements} improvements`);
  });
});
