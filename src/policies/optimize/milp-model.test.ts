import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { PackInstance } from './instance.ts';
import { admissibility, buildMilpModel } from './milp-model.ts';
import { canonicalPlacement, decodePlacement, encodePlacement } from './milp-solution.ts';
import { partition } from './optimize.ts';

const host = (id: string, zone: string, cpu = 8) => ({
  id,
  name: id,
  zone,
  capacity: [cpu, 16],
  idleW: 100,
  on: true,
});
const inst: PackInstance = {
  dims: ['cpu', 'memoryMiB'],
  hosts: [host('a0', 'a'), host('a1', 'a'), host('b0', 'b', 4), host('b1', 'b')],
  vms: [
    { id: 'x', demand: [2, 2], hostId: 'a0', moveCostS: 10 },
    { id: 'y', demand: [6, 2], hostId: 'b1', moveCostS: 10 },
    { id: 'z', demand: [1, 1], moveCostS: 0 },
  ],
  constraints: [
    { id: 'ban', type: 'ban', hard: true, vms: ['x'], hosts: ['a1'] },
    { id: 'aa', type: 'anti-affinity', hard: true, vms: ['x', 'z'] },
  ],
};

describe('buildMilpModel()', () => {
  it('admits only pairs that fit, keep the fence/ban host sets and the zone, and fixes VMs that are not free', () => {
    // x: zone a, banned from a1 → a0. y: zone b, 6 vCPUs do not fit b0 (4) → b1. z: unplaced, anywhere.
    assert.deepEqual(admissibility(inst), [[0], [3], [0, 1, 2, 3]]);
    assert.deepEqual(admissibility(inst, { stayInZone: false }), [
      [0, 2, 3],
      [0, 1, 3],
      [0, 1, 2, 3],
    ]);
    assert.deepEqual(admissibility(inst, { stayInZone: false, free: new Set(['x']) }), [
      [0, 2, 3],
      [3],
      [0, 1, 2, 3],
    ]);
  });

  it('has one assignment row per VM, capacity rows per used dimension, linking rows per column and the constraint rows', () => {
    const m = buildMilpModel(inst);
    assert.equal(m.xCount, 6);
    assert.equal(m.numCols, 6 + 4);
    assert.equal(m.rows.assignment, 3);
    assert.equal(m.rows.capacity, 8); // every host has a candidate VM, 2 dimensions each
    assert.equal(m.rows.linking, 6);
    assert.equal(m.rows.constraint, 1); // anti-affinity: only a0 can hold both x and z
    assert.deepEqual(m.unencoded, []);
    const weak = buildMilpModel(inst, { linking: false });
    assert.equal(weak.rows.linking, 0);
    assert.equal(weak.numRows, m.numRows - 6);
    assert.equal(buildMilpModel(inst, { maxMoves: 0 }).rows.moves, 1);
  });

  it('puts the migration term in the objective: staying is rewarded by the offset it cancels', () => {
    const m = buildMilpModel(inst, { migrationWeight: 0.01 });
    assert.equal(m.offset, 0.01 * 10 * 2); // x and y are placed and cost 10 s each
    const stay = m.xStart[0]!; // x's only column is a0, its current host
    assert.equal(m.colCost[stay], -0.1);
  });

  it('encodes and decodes a placement (VM index → host index)', () => {
    const m = buildMilpModel(inst);
    const cols = encodePlacement(m, [0, 3, 2])!;
    assert.deepEqual([...decodePlacement(m, cols)], [0, 3, 2]);
    assert.equal(encodePlacement(m, [1, 3, 2]), undefined); // x may not run on a1
  });

  it('renames the interchangeable empty hosts a warm start uses to the first ones of their group', () => {
    const same: PackInstance = {
      dims: ['cpu', 'memoryMiB'],
      hosts: [host('e0', 'a'), host('e1', 'a'), host('e2', 'a'), host('e3', 'a')],
      vms: [
        { id: 'p', demand: [2, 2], moveCostS: 0 },
        { id: 'q', demand: [2, 2], moveCostS: 0 },
        { id: 'r', demand: [2, 2], moveCostS: 0 },
      ],
    };
    const m = buildMilpModel(same);
    assert.deepEqual(m.symmetryGroups, [[0, 1, 2, 3]]);
    assert.deepEqual([...canonicalPlacement(m, [3, 1, 3])], [1, 0, 1]);
  });

  it('splits VMs that share no host and no constraint into parts', () => {
    const adm = admissibility(inst);
    // z is anti-affine with x (zone a) and may go anywhere: one part over every host.
    assert.equal(partition(inst, adm).length, 1);
    const zoned = { ...inst, vms: inst.vms.slice(0, 2), constraints: [] };
    assert.deepEqual(
      partition(zoned, admissibility(zoned)).map((p) => p.vms),
      [[0], [1]],
    );
  });
});
