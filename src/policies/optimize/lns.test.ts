import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Constraint } from '../../core/constraints/index.ts';
import { seededRandom } from '../../runtime/random.ts';
import type { PackInstance } from './instance.ts';
import { lns } from './lns.ts';
import { zoneParts } from './lns-optimize.ts';
import { admissibility, defaultMigrationWeight, type MilpModel } from './milp-model.ts';
import { placementObjective } from './milp-solution.ts';
import { optimize } from './optimize.ts';
import type { MilpSolver } from './solver-port.ts';
import { placementValid, warmStarts } from './warm-start.ts';

/** A solver that answers a random column per VM (often over capacity or breaking a constraint). */
function randomSolver(seed: number, tick?: () => void): MilpSolver {
  const r = seededRandom(seed);
  return {
    async solve(m: MilpModel) {
      tick?.();
      const x = new Float64Array(m.numCols);
      for (let v = 0; v + 1 < m.xStart.length; v++) {
        const n = m.xStart[v + 1]! - m.xStart[v]!;
        if (!n) continue;
        const j = m.xStart[v]! + r.int(n);
        x[j] = 1;
        x[m.xCount + m.xHost[j]!] = 1;
      }
      return { status: 'time-limit', colValue: x, bound: -Infinity };
    },
  };
}

/** A solver that enumerates every assignment of a tiny model and answers the cheapest feasible one. */
const bruteSolver: MilpSolver = {
  async solve(m: MilpModel) {
    const V = m.xStart.length - 1;
    let best: Float64Array | undefined,
      bestObj = Infinity;
    const pick = new Int32Array(V);
    const rec = (v: number) => {
      if (v === V) {
        const x = new Float64Array(m.numCols);
        for (let i = 0; i < V; i++) {
          x[pick[i]!] = 1;
          x[m.xCount + m.xHost[pick[i]!]!] = 1;
        }
        const act = new Float64Array(m.numRows);
        let obj = m.offset;
        for (let j = 0; j < m.numCols; j++) {
          obj += m.colCost[j]! * x[j]!;
          for (let k = m.starts[j]!; k < m.starts[j + 1]!; k++) act[m.indices[k]!]! += m.values[k]! * x[j]!;
        }
        const ok = act.every((a, i) => a >= m.rowLower[i]! - 1e-9 && a <= m.rowUpper[i]! + 1e-9);
        if (ok && obj < bestObj) [bestObj, best] = [obj, x];
        return;
      }
      for (let j = m.xStart[v]!; j < m.xStart[v + 1]!; j++) {
        pick[v] = j;
        rec(v + 1);
      }
    };
    rec(0);
    return best
      ? { status: 'optimal', colValue: best, objective: bestObj, bound: bestObj }
      : { status: 'infeasible', bound: Infinity };
  },
};

const host = (i: number, cap: [number, number]) => ({
  id: `h${i}`,
  name: `h${i}`,
  rack: `r${i % 2}`,
  zone: 'z',
  capacity: cap,
  idleW: 100,
  on: true,
});

const smallInstance = fc
  .record({
    caps: fc.array(fc.tuple(fc.integer({ min: 4, max: 10 }), fc.integer({ min: 4, max: 10 })), {
      minLength: 2,
      maxLength: 6,
    }),
    demands: fc.array(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })), {
      minLength: 1,
      maxLength: 10,
    }),
    starts: fc.array(fc.nat(), { minLength: 10, maxLength: 10 }),
    anti: fc.boolean(),
    spread: fc.boolean(),
  })
  .map((p): PackInstance => {
    const hosts = p.caps.map((c, i) => host(i, c));
    const vms = p.demands.map((d, i) => ({
      id: `v${i}`,
      demand: d,
      moveCostS: 1 + i,
      hostId: `h${p.starts[i]! % hosts.length}`,
    }));
    const constraints: Constraint[] = [];
    if (p.anti && vms.length >= 2)
      constraints.push({ id: 'aa', type: 'anti-affinity', hard: true, vms: ['v0', 'v1'] });
    if (p.spread && vms.length >= 3)
      constraints.push({ id: 'sp', type: 'spread', hard: true, vms: ['v1', 'v2'], over: 'rack' });
    return { dims: ['cpu', 'memoryMiB'], hosts, vms, constraints };
  });

const startOf = (inst: PackInstance) => warmStarts(inst, admissibility(inst))[0]?.hostOfVm;

describe('lns()', () => {
  it('never returns a placement worse than or less valid than its start (property, random answers)', async () => {
    await fc.assert(
      fc.asyncProperty(smallInstance, fc.integer(), async (inst, seed) => {
        const start = startOf(inst);
        fc.pre(start !== undefined);
        const w = defaultMigrationWeight(inst);
        const r = await lns(inst, start!, randomSolver(seed), {
          random: seededRandom(seed),
          migrationWeight: w,
          maxRounds: 8,
          hosts: 3,
        });
        assert.ok(placementValid(inst, r.hostOfVm));
        const before = placementObjective(inst, { migrationWeight: w }, start!);
        assert.ok(r.objective <= before + 1e-9);
        assert.equal(r.objective, placementObjective(inst, { migrationWeight: w }, r.hostOfVm));
      }),
      { numRuns: 60 },
    );
  });

  it('empties hosts when an exact sub-problem can (four VMs spread over four hosts fit one)', async () => {
    const inst: PackInstance = {
      dims: ['cpu', 'memoryMiB'],
      hosts: [0, 1, 2, 3].map((i) => host(i, [8, 8])),
      vms: [0, 1, 2, 3].map((i) => ({ id: `v${i}`, demand: [2, 2], moveCostS: 1, hostId: `h${i}` })),
    };
    const start = Int32Array.from([0, 1, 2, 3]);
    const r = await lns(inst, start, bruteSolver, {
      random: seededRandom(3),
      migrationWeight: defaultMigrationWeight(inst),
      maxRounds: 20,
      hosts: 4,
      target: 1.4,
    });
    assert.equal(new Set(r.hostOfVm).size, 1);
    assert.ok(r.improvements >= 1);
    assert.deepEqual(start, Int32Array.from([0, 1, 2, 3]), 'the start is not modified');
  });

  it('is deterministic with a seed and a round limit', async () => {
    const inst = fc
      .sample(smallInstance, { seed: 7, numRuns: 30 })
      .find((i) => startOf(i) && i.vms.length > 5)!;
    const run = () =>
      lns(inst, startOf(inst)!, randomSolver(11), {
        random: seededRandom(5),
        migrationWeight: defaultMigrationWeight(inst),
        maxRounds: 10,
        hosts: 3,
      });
    const [a, b] = [await run(), await run()];
    assert.deepEqual(a, b);
  });

  it('starts no round once the time limit is reached', async () => {
    const inst = fc
      .sample(smallInstance, { seed: 9, numRuns: 30 })
      .find((i) => startOf(i) && i.vms.length > 3)!;
    let clock = 0;
    const r = await lns(
      inst,
      startOf(inst)!,
      randomSolver(1, () => (clock += 0.4)),
      {
        random: seededRandom(2),
        migrationWeight: defaultMigrationWeight(inst),
        timeLimitS: 2,
        now: () => clock,
        parallel: 2,
        hosts: 2,
      },
    );
    assert.ok(r.rounds >= 1);
    assert.ok(clock < 2 + 2 * 0.4 + 1e-9, `clock ${clock}`);
  });
});

describe('optimize({ strategy: "lns" })', () => {
  const inst: PackInstance = {
    dims: ['cpu', 'memoryMiB'],
    hosts: [0, 1, 2, 3, 4, 5].map((i) => ({ ...host(i, [8, 8]), zone: i < 3 ? 'a' : 'b' })),
    vms: [0, 1, 2, 3, 4, 5].map((i) => ({ id: `v${i}`, demand: [3, 3], moveCostS: 1, hostId: `h${i}` })),
  };

  it('keeps the result contract: a valid incumbent, a bound from L1/L2 per zone, the gap', async () => {
    const r = await optimize(inst, bruteSolver, { strategy: 'lns', maxRounds: 10, random: seededRandom(1) });
    assert.equal(r.parts, 2);
    assert.equal(r.incumbent?.hostsUsed, 4); // 3 VMs of 3 on hosts of 8: 2 hosts per zone
    assert.equal(r.source, 'warm-start'); // the drain heuristic already found it
    assert.ok(r.bound >= 4 - 1e-9 && r.bound <= r.objective!);
    // Two moves are needed (objective 4 + 2 × the migration weight); the L1/L2 bound counts hosts only.
    assert.ok(Math.abs(r.gap - (r.objective! - r.bound) / r.objective!) < 1e-12);
    assert.equal(r.incumbent?.migrations, 2);
    assert.ok(r.notes?.some((n) => n.includes('large-neighbourhood')));
  });

  it('auto uses the MILP on small instances and LNS above the threshold', async () => {
    const r = await optimize(inst, bruteSolver, { strategy: 'auto', timeLimitS: 1 });
    assert.ok(!r.notes?.some((n) => n.includes('large-neighbourhood')));
  });

  it('splits by zone, and joins zones a constraint crosses', () => {
    assert.equal(zoneParts(inst).length, 2);
    const crossed = {
      ...inst,
      constraints: [{ id: 'aa', type: 'anti-affinity' as const, hard: true, vms: ['v0', 'v5'] }],
    };
    assert.equal(zoneParts(crossed).length, 1);
    assert.equal(zoneParts(inst, false).length, 1);
  });
});
