import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkAll, constraintState, type Constraint } from '../../core/constraints/index.ts';
import type { PackInstance } from '../../policies/optimize/instance.ts';
import { admissibility, buildMilpModel, defaultMigrationWeight } from '../../policies/optimize/milp-model.ts';
import { placementObjective } from '../../policies/optimize/milp-solution.ts';
import { optimize } from '../../policies/optimize/optimize.ts';
import type { MilpSolver } from '../../policies/optimize/solver-port.ts';
import { placementValid } from '../../policies/optimize/warm-start.ts';
import { highsSolver, solveMilp } from './highs-solver.ts';

const solver = highsSolver();

const host = (id: string, cpu: number, mem: number, extra: Partial<PackInstance['hosts'][number]> = {}) => ({
  id,
  name: id,
  capacity: [cpu, mem],
  idleW: 100,
  on: true,
  ...extra,
});
const vm = (id: string, cpu: number, mem: number, hostId?: string, moveCostS = 10) => ({
  id,
  demand: [cpu, mem],
  hostId,
  moveCostS,
});

/** The least objective over every placement that keeps capacity, the admissible sets and checkAll. */
function bruteForce(inst: PackInstance): number {
  const w = defaultMigrationWeight(inst);
  const adm = admissibility(inst);
  const p = new Int32Array(inst.vms.length);
  let best = Infinity;
  const rec = (i: number) => {
    if (i === inst.vms.length) {
      if (placementValid(inst, p)) best = Math.min(best, placementObjective(inst, { migrationWeight: w }, p));
      return;
    }
    for (const h of adm[i]!) {
      p[i] = h;
      rec(i + 1);
    }
  };
  rec(0);
  return best;
}

/** Every hard constraint and capacity hold in the returned placement. */
function assertValid(inst: PackInstance, placement: ReadonlyMap<string, string>) {
  const used = new Map<string, number[]>();
  for (const v of inst.vms) {
    const h = placement.get(v.id)!;
    const u = used.get(h) ?? [0, 0];
    v.demand.forEach((x, d) => (u[d]! += x));
    used.set(h, u);
  }
  for (const h of inst.hosts)
    (used.get(h.id) ?? []).forEach((x, d) => assert.ok(x <= h.capacity[d]! + 1e-9, `${h.id} over capacity`));
  const state = constraintState(
    inst.hosts,
    [...placement].map(([v, h]) => [v, h] as const),
  );
  assert.deepEqual(checkAll(inst.constraints ?? [], state), []);
}

describe('optimize() with HiGHS', () => {
  it('proves the optimum of a hand-made instance: six 3-vCPU VMs on 8-vCPU hosts need three hosts', async () => {
    // 2 × 3 = 6 ≤ 8 but 3 × 3 = 9 > 8: at most two VMs per host, so ⌈6 / 2⌉ = 3 hosts.
    const inst: PackInstance = {
      dims: ['cpu', 'memoryMiB'],
      hosts: ['h0', 'h1', 'h2', 'h3', 'h4', 'h5'].map((h) => host(h, 8, 16)),
      vms: [0, 1, 2, 3, 4, 5].map((i) => vm(`v${i}`, 3, 5, `h${i}`)),
    };
    const r = await optimize(inst, solver, { timeLimitS: 20 });
    assert.equal(r.status, 'optimal');
    assert.equal(r.incumbent!.hostsUsed, 3);
    assert.equal(r.incumbent!.migrations, 3);
    assert.ok(r.bound <= r.objective! + 1e-9 && r.gap < 1e-4);
    assertValid(inst, r.incumbent!.placement);
  });

  it('keeps anti-affinity, spread and a ban, and reports them as encoded', async () => {
    const constraints: Constraint[] = [
      { id: 'aa', type: 'anti-affinity', hard: true, vms: ['a', 'b'] },
      { id: 'sp', type: 'spread', over: 'rack', hard: true, vms: ['c', 'd'] },
      { id: 'ban', type: 'ban', hard: true, vms: ['a'], hosts: ['h0'] },
    ];
    const inst: PackInstance = {
      dims: ['cpu', 'memoryMiB'],
      hosts: [
        host('h0', 8, 32, { rack: 'r0' }),
        host('h1', 8, 32, { rack: 'r0' }),
        host('h2', 8, 32, { rack: 'r1' }),
      ],
      vms: [vm('a', 1, 1, 'h0'), vm('b', 1, 1, 'h1'), vm('c', 1, 1, 'h1'), vm('d', 1, 1, 'h2')],
      constraints,
    };
    const r = await optimize(inst, solver, { timeLimitS: 20 });
    assert.equal(r.status, 'optimal');
    assert.deepEqual(r.unencoded, []);
    assert.equal(r.incumbent!.hostsUsed, 2);
    assert.notEqual(r.incumbent!.placement.get('a'), 'h0');
    assertValid(inst, r.incumbent!.placement);
  });

  it('repair mode moves only the free VMs, and at most maxMoves of them', async () => {
    const inst: PackInstance = {
      dims: ['cpu', 'memoryMiB'],
      hosts: ['h0', 'h1', 'h2', 'h3'].map((h) => host(h, 8, 16)),
      vms: [vm('v0', 2, 2, 'h0'), vm('v1', 2, 2, 'h1'), vm('v2', 2, 2, 'h2'), vm('v3', 2, 2, 'h3')],
    };
    const free = await optimize(inst, solver, { free: new Set(['v0', 'v1']), timeLimitS: 20 });
    assert.equal(free.status, 'optimal');
    for (const id of ['v2', 'v3'])
      assert.equal(free.incumbent!.placement.get(id), inst.vms.find((v) => v.id === id)!.hostId);
    assert.equal(free.incumbent!.hostsUsed, 2); // v0 and v1 join v2 or v3
    const capped = await optimize(inst, solver, { maxMoves: 1, timeLimitS: 20 });
    assert.equal(capped.incumbent!.migrations, 1);
    assert.equal(capped.incumbent!.hostsUsed, 3);
  });

  it('solves zones as independent parts and adds them up', async () => {
    const inst: PackInstance = {
      dims: ['cpu', 'memoryMiB'],
      hosts: [
        host('a0', 8, 16, { zone: 'a' }),
        host('a1', 8, 16, { zone: 'a' }),
        host('b0', 8, 16, { zone: 'b' }),
        host('b1', 8, 16, { zone: 'b' }),
      ],
      vms: [vm('x', 2, 2, 'a0'), vm('y', 2, 2, 'a1'), vm('z', 2, 2, 'b0'), vm('w', 2, 2, 'b1')],
    };
    const r = await optimize(inst, solver, { timeLimitS: 20 });
    assert.equal(r.parts, 2);
    assert.equal(r.status, 'optimal');
    assert.equal(r.incumbent!.hostsUsed, 2);
    for (const [v, h] of r.incumbent!.placement)
      assert.equal(h[0], inst.vms.find((x) => x.id === v)!.hostId![0]);
  });

  it('rejects a solver answer that breaks capacity or a constraint and keeps the warm start', async () => {
    const inst: PackInstance = {
      dims: ['cpu', 'memoryMiB'],
      hosts: [host('h0', 4, 4), host('h1', 4, 4)],
      vms: [vm('a', 3, 3, 'h0'), vm('b', 3, 3, 'h1')],
    };
    // A solver that puts both VMs on h0 (6 > 4) and claims optimality.
    const liar: MilpSolver = {
      async solve(m) {
        const x = new Float64Array(m.numCols);
        for (let j = 0; j < m.xCount; j++) if (m.xHost[j] === 0) x[j] = 1;
        x[m.xCount] = 1;
        return { status: 'optimal', colValue: x, objective: 1, bound: 1 };
      },
    };
    const r = await optimize(inst, liar, { timeLimitS: 1 });
    assert.equal(r.source, 'warm-start');
    assert.equal(r.incumbent!.hostsUsed, 2);
    assertValid(inst, r.incumbent!.placement);
  });

  it('reports an instance with a VM no host can take as infeasible', async () => {
    const inst: PackInstance = {
      dims: ['cpu', 'memoryMiB'],
      hosts: [host('h0', 4, 4)],
      vms: [vm('big', 8, 1, 'h0')],
    };
    const r = await optimize(inst, solver, { timeLimitS: 1 });
    assert.equal(r.status, 'infeasible');
    assert.equal(r.incumbent, undefined);
  });

  it('matches brute force on random small instances, with a bound never above the optimum', async () => {
    const arb = fc.record({
      hosts: fc.array(
        fc.record({ cpu: fc.integer({ min: 4, max: 12 }), mem: fc.integer({ min: 4, max: 24 }) }),
        {
          minLength: 2,
          maxLength: 4,
        },
      ),
      vms: fc.array(
        fc.record({
          cpu: fc.integer({ min: 1, max: 6 }),
          mem: fc.integer({ min: 1, max: 10 }),
          at: fc.integer({ min: -1, max: 3 }),
          cost: fc.integer({ min: 0, max: 30 }),
        }),
        { minLength: 1, maxLength: 6 },
      ),
      aa: fc.boolean(),
      gather: fc.boolean(),
      spread: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(arb, async (g) => {
        const hosts = g.hosts.map((h, i) => host(`h${i}`, h.cpu, h.mem, { rack: `r${i % 2}` }));
        const vms = g.vms.map((v, i) =>
          vm(`v${i}`, v.cpu, v.mem, v.at >= 0 && v.at < hosts.length ? `h${v.at}` : undefined, v.cost),
        );
        const ids = vms.map((v) => v.id);
        const constraints: Constraint[] = [];
        if (g.aa && ids.length >= 2)
          constraints.push({ id: 'aa', type: 'anti-affinity', hard: true, vms: ids.slice(0, 2) });
        if (g.gather && ids.length >= 4)
          constraints.push({ id: 'g', type: 'affinity', hard: true, vms: ids.slice(2, 4) });
        if (g.spread && ids.length >= 6)
          constraints.push({
            id: 's',
            type: 'spread',
            over: 'rack',
            maxPerDomain: 1,
            hard: true,
            vms: ids.slice(4, 6),
          });
        const inst: PackInstance = { dims: ['cpu', 'memoryMiB'], hosts, vms, constraints };
        const opt = bruteForce(inst);
        const r = await optimize(inst, solver, { timeLimitS: 20 });
        if (opt === Infinity) {
          assert.equal(r.incumbent, undefined);
          return;
        }
        assert.equal(r.status, 'optimal', JSON.stringify(r.notes));
        assert.ok(Math.abs(r.objective! - opt) <= 1e-6 * Math.max(1, opt), `${r.objective} vs ${opt}`);
        assert.ok(r.bound <= opt + 1e-9, `bound ${r.bound} > optimum ${opt}`);
        assertValid(inst, r.incumbent!.placement);
      }),
      { numRuns: 25, seed: 14 },
    );
  });
});

/** A hard random instance: 2-D demands anticorrelated, hosts nearly full at the optimum. */
function bigInstance(vms: number, hosts: number): PackInstance {
  let s = 12345;
  const rnd = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  return {
    dims: ['cpu', 'memoryMiB'],
    hosts: Array.from({ length: hosts }, (_, i) => host(`h${i}`, 64, 256)),
    vms: Array.from({ length: vms }, (_, i) => {
      const a = 3 + Math.floor(rnd() * 14);
      return vm(
        `v${i}`,
        a,
        Math.max(4, 4 * (18 - a) + Math.floor(rnd() * 9)),
        `h${i % hosts}`,
        5 + Math.floor(rnd() * 20),
      );
    }),
  };
}

describe('time limits and cancelling', () => {
  it('a big instance with a 0.5 s limit returns an incumbent, a bound and the gap', async () => {
    const inst = bigInstance(400, 80);
    const r = await optimize(inst, solver, { timeLimitS: 0.5 });
    assert.ok(r.status === 'time-limit' || r.status === 'optimal', r.status);
    assert.ok(r.incumbent);
    assert.ok(r.bound > 0 && r.bound <= r.objective! + 1e-9);
    assert.ok(r.gap >= 0 && r.gap < 1);
    assertValid(inst, r.incumbent.placement);
  });

  it('an abort cancels the worker and returns the warm start or better', async () => {
    const inst = bigInstance(400, 80);
    const ac = new AbortController();
    ac.abort();
    const r = await optimize(inst, solver, { timeLimitS: 60, signal: ac.signal });
    assert.notEqual(r.status, 'optimal');
    assert.ok(r.incumbent);
    assertValid(inst, r.incumbent.placement);
  });

  it('the event loop stays free while HiGHS searches (the solve runs in a worker)', async () => {
    const m = buildMilpModel(bigInstance(400, 80));
    let ticks = 0,
      running = true;
    const tick = () => {
      ticks++;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    const r = await solveMilp(m, { timeLimitS: 1 });
    running = false;
    assert.ok(r.status === 'time-limit' || r.status === 'optimal', r.status);
    assert.ok(ticks > 100, `only ${ticks} turns of the event loop during the solve`);
  });

  it('solveMilp() returns on abort mid-solve with what it knows', async () => {
    const m = buildMilpModel(bigInstance(400, 80));
    const ac = new AbortController();
    const p = solveMilp(m, { timeLimitS: 60, signal: ac.signal });
    ac.abort();
    const r = await p;
    assert.ok(r.status === 'interrupted' || r.status === 'optimal', r.status);
  });
});

describe('the formulation', () => {
  it('the linking rows raise the LP bound (disaggregated formulation)', async () => {
    const inst = bigInstance(60, 20);
    const weak = await solveMilp(buildMilpModel(inst, { linking: false }), { relaxation: true });
    const strong = await solveMilp(buildMilpModel(inst), { relaxation: true });
    assert.equal(weak.status, 'optimal');
    assert.equal(strong.status, 'optimal');
    assert.ok(strong.objective! >= weak.objective! - 1e-9);
  });

  it('orders identical empty hosts and keeps occupied ones apart', () => {
    const inst: PackInstance = {
      dims: ['cpu', 'memoryMiB'],
      hosts: [host('h0', 8, 8), host('h1', 8, 8), host('h2', 8, 8), host('h3', 16, 8)],
      vms: [vm('v', 1, 1, 'h0')],
    };
    // h1, h2 are identical and empty: one row y[h1] ≥ y[h2]; h0 holds a VM, h3 differs.
    assert.equal(buildMilpModel(inst).rows.symmetry, 1);
    assert.equal(buildMilpModel(inst, { symmetryBreaking: false }).rows.symmetry, 0);
  });
});
