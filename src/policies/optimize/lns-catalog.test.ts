import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkAll, type Constraint } from '../../core/constraints/index.ts';
import { seededRandom } from '../../runtime/random.ts';
import type { PackInstance } from './instance.ts';
import { lns } from './lns.ts';
import { zoneParts } from './lns-optimize.ts';
import { admissibility, defaultMigrationWeight, type MilpModel } from './milp-model.ts';
import { placementObjective } from './milp-solution.ts';
import { optimize } from './optimize.ts';
import { packState } from './pack-state.ts';
import type { MilpSolver } from './solver-port.ts';
import { placementValid, warmStarts } from './warm-start.ts';

/**
 * A solver that enumerates every assignment of a small model (y and the auxiliary binaries set to
 * the OR of their columns) and answers a feasible one: the cheapest, or a random one (`seed`).
 * Whatever it answers satisfies every row, so what LNS does with it tests the sub-instances alone.
 */
function enumerationSolver(seed?: number): MilpSolver {
  const r = seed !== undefined ? seededRandom(seed) : undefined;
  return {
    async solve(m: MilpModel) {
      const V = m.xStart.length - 1;
      const A = m.auxStart.length - 1;
      const H = m.numCols - m.xCount - A;
      let space = 1;
      for (let v = 0; v < V; v++) space *= m.xStart[v + 1]! - m.xStart[v]!;
      if (space > 200_000) return { status: 'time-limit', bound: -Infinity };
      const feasible: { x: Float64Array; obj: number }[] = [];
      const pick = new Int32Array(V);
      const rec = (v: number) => {
        if (v === V) {
          const x = new Float64Array(m.numCols);
          for (let i = 0; i < V; i++) {
            x[pick[i]!] = 1;
            x[m.xCount + m.xHost[pick[i]!]!] = 1;
          }
          for (let k = 0; k < A; k++)
            for (let t = m.auxStart[k]!; t < m.auxStart[k + 1]!; t++)
              if (x[m.auxCols[t]!]) x[m.xCount + H + k] = 1;
          const act = new Float64Array(m.numRows);
          let obj = m.offset;
          for (let j = 0; j < m.numCols; j++) {
            obj += m.colCost[j]! * x[j]!;
            for (let k = m.starts[j]!; k < m.starts[j + 1]!; k++) act[m.indices[k]!]! += m.values[k]! * x[j]!;
          }
          if (act.every((a, i) => a >= m.rowLower[i]! - 1e-9 && a <= m.rowUpper[i]! + 1e-9))
            feasible.push({ x, obj });
          return;
        }
        for (let j = m.xStart[v]!; j < m.xStart[v + 1]!; j++) {
          pick[v] = j;
          rec(v + 1);
        }
      };
      rec(0);
      if (!feasible.length) return { status: 'infeasible', bound: Infinity };
      const best = feasible.reduce((a, b) => (b.obj < a.obj ? b : a));
      const answer = r ? feasible[r.int(feasible.length)]! : best;
      return {
        status: r ? 'time-limit' : 'optimal',
        colValue: answer.x,
        objective: answer.obj,
        bound: best.obj,
      };
    },
  };
}

const TYPES = [
  'maxOnline',
  'runningCapacity',
  'overbook',
  'quarantine',
  'lonely',
  'preserve',
  'anti-affinity',
] as const;

/** A random hard constraint over VMs v0..v(n−1) and hosts h0..h(m−1). */
function randomConstraint(
  type: (typeof TYPES)[number],
  i: number,
  pick: number[],
  n: number,
  m: number,
): Constraint {
  const vms = [...new Set(pick.map((k) => `v${k % n}`))];
  const hosts = [...new Set(pick.map((k) => `h${k % m}`))];
  const id = `c${i}`;
  switch (type) {
    case 'lonely':
    case 'anti-affinity':
      return { id, type, hard: true, vms };
    case 'quarantine':
      return { id, type, hard: true, vms: [], hosts: hosts.slice(0, 1) };
    case 'preserve':
      return {
        id,
        type,
        hard: true,
        vms: vms.slice(0, 1),
        resource: 'memoryMiB',
        amount: 2 + (pick[0]! % 6),
      };
    case 'overbook':
      return { id, type, hard: true, vms: [], hosts, resource: 'vcpus', ratio: 1 + (pick[0]! % 3) / 2 };
    case 'runningCapacity':
      return { id, type, hard: true, vms: [], where: { rack: `r${pick[0]! % 2}` }, max: 2 + (pick[0]! % 4) };
    case 'maxOnline':
      return { id, type, hard: true, vms: [], hosts, max: 1 + (pick[0]! % 3) };
  }
}

const instances = fc
  .record({
    hosts: fc.array(
      fc.record({ cpu: fc.integer({ min: 4, max: 10 }), mem: fc.integer({ min: 6, max: 16 }) }),
      { minLength: 2, maxLength: 6 },
    ),
    vms: fc.array(
      fc.record({ cpu: fc.integer({ min: 1, max: 4 }), mem: fc.integer({ min: 1, max: 6 }), at: fc.nat() }),
      { minLength: 1, maxLength: 7 },
    ),
    constraints: fc.array(
      fc.record({
        type: fc.constantFrom(...TYPES),
        pick: fc.array(fc.nat(11), { minLength: 1, maxLength: 4 }),
      }),
      { minLength: 1, maxLength: 4 },
    ),
  })
  .map((g): PackInstance => {
    const m = g.hosts.length;
    return {
      dims: ['cpu', 'memoryMiB'],
      hosts: g.hosts.map((h, i) => ({
        id: `h${i}`,
        name: `h${i}`,
        rack: `r${i % 2}`,
        zone: 'z',
        capacity: [h.cpu, h.mem],
        idleW: 100,
        on: true,
      })),
      vms: g.vms.map((v, i) => ({
        id: `v${i}`,
        demand: [v.cpu, v.mem],
        moveCostS: 1 + i,
        hostId: `h${v.at % m}`,
      })),
      constraints: g.constraints.map((c, i) => randomConstraint(c.type, i, c.pick, g.vms.length, m)),
    };
  });

/** The current placement when it is valid, else the heuristics' best. */
function startOf(inst: PackInstance): Int32Array | undefined {
  const current = Int32Array.from(inst.vms, (v) => inst.hosts.findIndex((h) => h.id === v.hostId));
  if (placementValid(inst, current)) return current;
  return warmStarts(inst, admissibility(inst))[0]?.hostOfVm;
}

describe('lns() under the catalog rules about hosts and every VM', () => {
  it('no improving sub-solution its sub-model admits is refused by the whole check (property: random feasible answers)', async () => {
    await fc.assert(
      fc.asyncProperty(instances, fc.integer(), fc.boolean(), async (inst, seed, best) => {
        const start = startOf(inst);
        fc.pre(start !== undefined);
        const w = defaultMigrationWeight(inst);
        const r = await lns(inst, start!, enumerationSolver(best ? undefined : seed), {
          random: seededRandom(seed),
          migrationWeight: w,
          maxRounds: 8,
          hosts: 2,
          parallel: 2,
        });
        assert.equal(r.invalid, 0, 'an answer satisfying the sub-model broke the sub-instance');
        assert.equal(r.rejected, 0, 'a valid sub-solution broke the whole');
        assert.deepEqual(checkAll(inst.constraints!, packState(inst, r.hostOfVm)), []);
        assert.ok(placementValid(inst, r.hostOfVm));
        assert.ok(r.objective <= placementObjective(inst, { migrationWeight: w }, start!) + 1e-9);
      }),
      { numRuns: 200, seed: 1415 },
    );
  });

  it('parallel neighbourhoods share the slack of a count, so their sub-solutions together keep it', async () => {
    // runningCapacity on rack r0 (h0, h2): 2 VMs of at most 3. Each pair of an r0 and an r1 host
    // saves a host most cheaply by moving the r1 VM (cost 1) into r0; both doing so would make 4.
    const inst: PackInstance = {
      dims: ['cpu', 'memoryMiB'],
      hosts: [0, 1, 2, 3].map((i) => ({
        id: `h${i}`,
        name: `h${i}`,
        rack: `r${i % 2}`,
        zone: 'z',
        capacity: [10, 10],
        idleW: 100,
        on: true,
      })),
      vms: [0, 1, 2, 3].map((i) => ({
        id: `v${i}`,
        demand: [5, 5],
        moveCostS: i % 2 ? 1 : 10,
        hostId: `h${i}`,
      })),
      constraints: [
        { id: 'rc', type: 'runningCapacity', hard: true, vms: [], where: { rack: 'r0' }, max: 3 },
      ],
    };
    let both = 0;
    for (let seed = 0; seed < 12; seed++) {
      const r = await lns(inst, Int32Array.from([0, 1, 2, 3]), enumerationSolver(), {
        random: seededRandom(seed),
        migrationWeight: defaultMigrationWeight(inst),
        maxRounds: 1,
        hosts: 2,
        parallel: 2,
      });
      assert.equal(r.rejected, 0, `seed ${seed}`);
      assert.ok(placementValid(inst, r.hostOfVm));
      if (new Set(r.hostOfVm).size === 2) both++;
    }
    assert.ok(both > 0, 'some round improved both neighbourhoods at once');
  });

  it('improves a start under maxOnline, overbook and lonely (each sub-problem keeps them)', async () => {
    // h0 holds the lonely VM; four 2-core VMs on h1..h4. All five fit one host of 10, but overbook
    // (4 physical cores, ratio 1) allows two per host and lonely keeps them off h0: 3 hosts at best.
    const inst: PackInstance = {
      dims: ['cpu', 'memoryMiB'],
      hosts: [0, 1, 2, 3, 4, 5].map((i) => ({
        id: `h${i}`,
        name: `h${i}`,
        rack: `r${i % 2}`,
        zone: 'z',
        capacity: [10, 10],
        physical: { vcpus: 4 },
        idleW: 100,
        on: true,
      })),
      vms: ['L', 'a', 'b', 'c', 'd'].map((id, i) => ({ id, demand: [2, 2], moveCostS: 1, hostId: `h${i}` })),
      constraints: [
        { id: 'lonely', type: 'lonely', hard: true, vms: ['L'] },
        {
          id: 'ob',
          type: 'overbook',
          hard: true,
          vms: [],
          where: { zone: 'z' },
          resource: 'vcpus',
          ratio: 1,
        },
        { id: 'mo', type: 'maxOnline', hard: true, vms: [], where: { zone: 'z' }, max: 5 },
      ],
    };
    const start = Int32Array.from([0, 1, 2, 3, 4]);
    assert.ok(placementValid(inst, start));
    const r = await lns(inst, start, enumerationSolver(), {
      random: seededRandom(4),
      migrationWeight: defaultMigrationWeight(inst),
      maxRounds: 30,
      hosts: 4,
    });
    assert.equal(r.rejected, 0);
    assert.ok(r.improvements >= 1);
    assert.equal(new Set(r.hostOfVm).size, 3, String(r.hostOfVm));
    assert.ok(placementValid(inst, r.hostOfVm));
  });
});

describe('zoneParts() with host-set rules', () => {
  const host = (i: number, zone: string) => ({
    id: `h${i}`,
    name: `h${i}`,
    zone,
    capacity: [8, 8],
    idleW: 100,
    on: true,
  });
  const inst: PackInstance = {
    dims: ['cpu', 'memoryMiB'],
    hosts: [host(0, 'a'), host(1, 'a'), host(2, 'b'), host(3, 'b')],
    vms: [0, 1, 2, 3].map((i) => ({ id: `v${i}`, demand: [2, 2], moveCostS: 1, hostId: `h${i}` })),
  };

  it('keeps a maxOnline or runningCapacity host set in one part; overbook, per host, does not join', () => {
    assert.equal(zoneParts(inst).length, 2);
    const across = (c: Constraint) => zoneParts({ ...inst, constraints: [c] }).length;
    assert.equal(
      across({ id: 'mo', type: 'maxOnline', hard: true, vms: [], hosts: ['h1', 'h2'], max: 1 }),
      1,
    );
    assert.equal(
      across({ id: 'rc', type: 'runningCapacity', hard: true, vms: [], hosts: ['h0', 'h3'], max: 3 }),
      1,
    );
    assert.equal(
      across({ id: 'mo', type: 'maxOnline', hard: true, vms: [], hosts: ['h0', 'h1'], max: 1 }),
      2,
    );
    assert.equal(
      across({
        id: 'ob',
        type: 'overbook',
        hard: true,
        vms: [],
        hosts: ['h1', 'h2'],
        resource: 'vcpus',
        ratio: 1,
      }),
      2,
    );
  });

  it('optimize({ strategy: "lns" }) searches each zone under the rules about every VM and improves', async () => {
    // Two zones of three hosts, a 2-core VM on each; overbook (4 physical cores) allows two per host.
    const two: PackInstance = {
      ...inst,
      hosts: [0, 1, 2, 3, 4, 5].map((i) => ({
        ...host(i, i < 3 ? 'a' : 'b'),
        rack: 'x',
        physical: { vcpus: 4 },
      })),
      vms: [0, 1, 2, 3, 4, 5].map((i) => ({ id: `v${i}`, demand: [2, 2], moveCostS: 1, hostId: `h${i}` })),
      constraints: [
        {
          id: 'ob',
          type: 'overbook',
          hard: true,
          vms: [],
          hosts: [],
          where: { rack: 'x' },
          resource: 'vcpus',
          ratio: 1,
        },
      ],
    };
    const start = new Map(two.vms.map((v) => [v.id, v.hostId!]));
    const r = await optimize(two, enumerationSolver(), {
      strategy: 'lns',
      start,
      maxRounds: 10,
      random: seededRandom(2),
    });
    assert.equal(r.parts, 2);
    assert.equal(r.incumbent?.hostsUsed, 4, String(r.notes)); // 3 VMs per zone, two per host
    assert.equal(r.source, 'solver');
    assert.ok(!r.notes?.some((n) => n.includes('start is kept')), String(r.notes));
  });
});
