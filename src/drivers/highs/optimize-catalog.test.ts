import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkAll, type Constraint } from '../../core/constraints/index.ts';
import type { PackInstance } from '../../policies/optimize/instance.ts';
import {
  admissibility,
  buildMilpModel,
  defaultMigrationWeight,
  ENCODED_CONSTRAINT_TYPES,
} from '../../policies/optimize/milp-model.ts';
import { decodePlacement, placementObjective } from '../../policies/optimize/milp-solution.ts';
import { planOptimal } from '../../policies/optimize/optimal-plan.ts';
import { optimize } from '../../policies/optimize/optimize.ts';
import { packState } from '../../policies/optimize/pack-state.ts';
import { placementValid } from '../../policies/optimize/warm-start.ts';
import {
  checkPlan,
  DEFAULT_PLAN_OPTIONS,
  type PlanCluster,
  type PlanHost,
} from '../../policies/plans/plan.ts';
import { highsSolver, solveMilp } from './highs-solver.ts';

const solver = highsSolver();
type Host = PackInstance['hosts'][number];

const host = (id: string, vcpus: number, mem: number, extra: Partial<Host> = {}): Host => ({
  id,
  name: id,
  capacity: [vcpus, mem],
  idleW: 100,
  on: true,
  ...extra,
});
const vm = (id: string, vcpus: number, mem: number, hostId?: string, moveCostS = 10) => ({
  id,
  demand: [vcpus, mem],
  hostId,
  moveCostS,
});
const DIMS = ['vcpus', 'memoryMiB'];

/** Host index per VM of a placement map. */
const indices = (inst: PackInstance, p: ReadonlyMap<string, string>) =>
  Int32Array.from(inst.vms, (v) => inst.hosts.findIndex((h) => h.id === p.get(v.id)));

/** The hard constraints' violations of a placement, judged with origins, capacities and demands. */
const violations = (inst: PackInstance, p: ArrayLike<number>) =>
  checkAll(inst.constraints ?? [], packState(inst, p));

/**
 * The constraint is broken by the optimum without it, kept by the optimizer's answer (proven
 * optimal, nothing unencoded) and by the MILP's own optimum solved cold (no warm start to fall back on).
 */
async function keeps(base: Omit<PackInstance, 'dims'>, c: Constraint) {
  const bare: PackInstance = { dims: DIMS, ...base, constraints: [] };
  const inst: PackInstance = { ...bare, constraints: [c] };
  const free = await optimize(bare, solver, { timeLimitS: 20 });
  assert.equal(free.status, 'optimal');
  assert.notDeepEqual(
    violations(inst, indices(inst, free.incumbent!.placement)),
    [],
    'the bare optimum breaks it',
  );
  const r = await optimize(inst, solver, { timeLimitS: 20 });
  assert.equal(r.status, 'optimal', JSON.stringify(r.notes));
  assert.deepEqual(r.unencoded, []);
  assert.deepEqual(violations(inst, indices(inst, r.incumbent!.placement)), []);
  const m = buildMilpModel(inst);
  const cold = await solveMilp(m, { timeLimitS: 20 });
  assert.equal(cold.status, 'optimal');
  const p = decodePlacement(m, cold.colValue!);
  assert.deepEqual(violations(inst, p), []);
  assert.ok(Math.abs(placementObjective(inst, m, p) - r.objective!) < 1e-6);
  return r.incumbent!;
}

describe('optimize() keeps every hard type of the catalog (HiGHS)', () => {
  it('gather: a joins b although staying apart costs no move', async () => {
    const s = await keeps(
      {
        hosts: [host('h0', 8, 16), host('h1', 8, 16)],
        vms: [vm('a', 4, 2, 'h0'), vm('b', 4, 2, 'h1'), vm('c', 4, 2, 'h0')],
      },
      { id: 'g', type: 'gather', hard: true, vms: ['a', 'b'] },
    );
    assert.equal(s.placement.get('a'), s.placement.get('b'));
    assert.equal(s.hostsUsed, 2);
  });

  it('root: the cheap VM to move stays, the dear one moves to it', async () => {
    const s = await keeps(
      {
        hosts: [host('h0', 8, 16), host('h1', 8, 16)],
        vms: [vm('a', 2, 2, 'h0', 1), vm('b', 2, 2, 'h1', 100)],
      },
      { id: 'r', type: 'root', hard: true, vms: ['a'] },
    );
    assert.equal(s.placement.get('a'), 'h0');
    assert.equal(s.placement.get('b'), 'h0');
  });

  it('quarantine: the VM of a quarantined host stays, no other enters it', async () => {
    const s = await keeps(
      {
        hosts: [host('h0', 8, 16), host('h1', 8, 16), host('h2', 8, 16)],
        vms: [vm('a', 2, 2, 'h0'), vm('b', 2, 2, 'h1'), vm('c', 2, 2, 'h2')],
      },
      { id: 'q', type: 'quarantine', hard: true, vms: [], hosts: ['h0'] },
    );
    assert.equal(s.placement.get('a'), 'h0');
    assert.equal(s.placement.get('b'), s.placement.get('c'));
    assert.equal(s.hostsUsed, 2);
  });

  it('lonely: no other VM joins the lonely one', async () => {
    const s = await keeps(
      {
        hosts: [host('h0', 8, 16), host('h1', 8, 16)],
        vms: [vm('a', 2, 2, 'h0'), vm('b', 2, 2, 'h1'), vm('c', 2, 2, 'h1')],
      },
      { id: 'l', type: 'lonely', hard: true, vms: ['a'] },
    );
    assert.deepEqual(
      [...s.placement].filter(([, h]) => h === s.placement.get('a')),
      [['a', 'h0']],
    );
  });

  it('among: both VMs in one rack, one moves to the other rack', async () => {
    const s = await keeps(
      {
        hosts: [
          host('h0', 8, 16, { rack: 'r0' }),
          host('h1', 8, 16, { rack: 'r1' }),
          host('h2', 8, 16, { rack: 'r1' }),
        ],
        vms: [vm('a', 5, 2, 'h0'), vm('b', 5, 2, 'h1')],
      },
      {
        id: 'am',
        type: 'among',
        hard: true,
        vms: ['a', 'b'],
        groups: [{ where: { rack: 'r0' } }, { where: { rack: 'r1' } }],
      },
    );
    assert.equal(s.placement.get('a'), 'h2');
    assert.equal(s.migrations, 1);
  });

  it('split: VMs of two groups never share a host', async () => {
    const s = await keeps(
      {
        hosts: [host('h0', 8, 16), host('h1', 8, 16)],
        vms: [vm('a', 2, 2, 'h0'), vm('b', 2, 2, 'h1'), vm('c', 2, 2, 'h1')],
      },
      { id: 'sp', type: 'split', hard: true, vms: ['a', 'b', 'c'], vmGroups: [['a'], ['b', 'c']] },
    );
    assert.notEqual(s.placement.get('a'), s.placement.get('b'));
    assert.equal(s.placement.get('b'), s.placement.get('c'));
  });

  it('splitAmong: each VM group in its own rack', async () => {
    const s = await keeps(
      {
        hosts: [
          host('h0', 8, 16, { rack: 'r0' }),
          host('h1', 8, 16, { rack: 'r0' }),
          host('h2', 8, 16, { rack: 'r1' }),
        ],
        vms: [vm('a', 2, 2, 'h0'), vm('b', 2, 2, 'h1')],
      },
      {
        id: 'sa',
        type: 'splitAmong',
        hard: true,
        vms: ['a', 'b'],
        vmGroups: [['a'], ['b']],
        groups: [{ where: { rack: 'r0' } }, { where: { rack: 'r1' } }],
      },
    );
    assert.deepEqual(new Set([s.placement.get('a')![1], s.placement.get('b')![1]]).size, 2);
    assert.ok([s.placement.get('a'), s.placement.get('b')].includes('h2'));
  });

  it('preserve: a keeps 12 GiB of the host beside its neighbours', async () => {
    const s = await keeps(
      { hosts: [host('h0', 8, 16), host('h1', 8, 16)], vms: [vm('a', 2, 4, 'h0'), vm('b', 2, 6, 'h1')] },
      { id: 'pr', type: 'preserve', hard: true, vms: ['a'], resource: 'memoryMiB', amount: 12 },
    );
    assert.equal(s.hostsUsed, 2);
  });

  it('overbook: vCPUs at most 1.5 × the physical cores, whatever the schedulable capacity', async () => {
    const phys = { physical: { vcpus: 4, memoryMiB: 16 } };
    const s = await keeps(
      {
        hosts: [host('h0', 16, 16, phys), host('h1', 16, 16, phys)],
        vms: [vm('a', 4, 2, 'h0'), vm('b', 4, 2, 'h1')],
      },
      { id: 'ob', type: 'overbook', hard: true, vms: [], hosts: ['h0', 'h1'], resource: 'vcpus', ratio: 1.5 },
    );
    assert.equal(s.hostsUsed, 2);
  });

  it('runningCapacity: at most two VMs on h0 and h1 together', async () => {
    const s = await keeps(
      {
        hosts: [host('h0', 12, 16), host('h1', 12, 16), host('h2', 4, 16)],
        vms: [vm('a', 3, 2, 'h0'), vm('b', 3, 2, 'h1'), vm('c', 3, 2, 'h2')],
      },
      { id: 'rc', type: 'runningCapacity', hard: true, vms: [], hosts: ['h0', 'h1'], max: 2 },
    );
    assert.equal([...s.placement.values()].filter((h) => h !== 'h2').length, 2);
  });

  it('maxOnline: one of h0 and h2 on, so a VM moves to a host outside the set', async () => {
    const s = await keeps(
      {
        hosts: [host('h0', 8, 16), host('h1', 8, 16), host('h2', 8, 16), host('h3', 8, 16)],
        vms: [vm('a', 5, 2, 'h0'), vm('b', 5, 2, 'h2')],
      },
      { id: 'mo', type: 'maxOnline', hard: true, vms: [], hosts: ['h0', 'h2'], max: 1 },
    );
    assert.equal(s.migrations, 1);
    assert.ok(!(new Set(s.placement.values()).has('h0') && new Set(s.placement.values()).has('h2')));
  });

  it('noDelay is about the schedule: encoded as nothing, never reported unencoded', async () => {
    assert.ok(ENCODED_CONSTRAINT_TYPES.has('noDelay'));
    const inst: PackInstance = {
      dims: DIMS,
      hosts: [host('h0', 8, 16), host('h1', 8, 16)],
      vms: [vm('a', 2, 2, 'h0'), vm('b', 2, 2, 'h1')],
      constraints: [{ id: 'nd', type: 'noDelay', hard: true, vms: ['a'] }],
    };
    const r = await optimize(inst, solver, { timeLimitS: 20 });
    assert.deepEqual(r.unencoded, []);
    assert.equal(r.incumbent!.hostsUsed, 1);
  });
});

/** The least objective over every placement that keeps capacity and every hard constraint. */
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

const TYPES = [
  'gather',
  'among',
  'split',
  'splitAmong',
  'lonely',
  'root',
  'quarantine',
  'preserve',
  'overbook',
  'runningCapacity',
  'maxOnline',
  'noDelay',
] as const;

/** A random hard constraint of `type` over VMs v0..v(n−1) and hosts h0..h(m−1) in racks r0/r1. */
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
  const racks = [{ where: { rack: 'r0' } }, { where: { rack: 'r1' } }];
  const halves = [vms.filter((_, k) => k % 2 === 0), vms.filter((_, k) => k % 2 === 1)].filter(
    (g) => g.length,
  );
  switch (type) {
    case 'gather':
    case 'lonely':
    case 'root':
    case 'noDelay':
      return { id, type, hard: true, vms };
    case 'among':
      return { id, type, hard: true, vms, groups: racks };
    case 'split':
      return { id, type, hard: true, vms, vmGroups: halves };
    case 'splitAmong':
      return { id, type, hard: true, vms, vmGroups: halves, groups: racks };
    case 'quarantine':
      return { id, type, hard: true, vms: [], hosts: hosts.slice(0, 1) };
    case 'preserve':
      return {
        id,
        type,
        hard: true,
        vms: vms.slice(0, 1),
        resource: 'memoryMiB',
        amount: 4 + (pick[0]! % 8),
      };
    case 'overbook':
      return { id, type, hard: true, vms: [], hosts, resource: 'vcpus', ratio: 1 + (pick[0]! % 3) / 2 };
    case 'runningCapacity':
      return { id, type, hard: true, vms: [], hosts, max: 1 + (pick[0]! % 3) };
    case 'maxOnline':
      return { id, type, hard: true, vms: [], hosts, max: 1 + (pick[0]! % 2) };
  }
}

describe('property: the optimizer honours random catalog constraints', () => {
  it('every placement it returns passes checkAll, nothing is unencoded, and a proven optimum matches brute force', async () => {
    const arb = fc.record({
      hosts: fc.array(
        fc.record({
          cpu: fc.integer({ min: 4, max: 12 }),
          mem: fc.integer({ min: 8, max: 24 }),
          phys: fc.option(fc.integer({ min: 2, max: 8 }), { nil: undefined }),
        }),
        { minLength: 2, maxLength: 4 },
      ),
      vms: fc.array(
        fc.record({
          cpu: fc.integer({ min: 1, max: 5 }),
          mem: fc.integer({ min: 1, max: 8 }),
          at: fc.integer({ min: -1, max: 3 }),
          cost: fc.integer({ min: 0, max: 30 }),
        }),
        { minLength: 1, maxLength: 6 },
      ),
      constraints: fc.array(
        fc.record({
          type: fc.constantFrom(...TYPES),
          pick: fc.array(fc.nat(11), { minLength: 1, maxLength: 4 }),
        }),
        { minLength: 1, maxLength: 3 },
      ),
    });
    await fc.assert(
      fc.asyncProperty(arb, async (g) => {
        const m = g.hosts.length;
        const hosts = g.hosts.map((h, i) =>
          host(`h${i}`, h.cpu, h.mem, {
            rack: `r${i % 2}`,
            physical: h.phys !== undefined ? { vcpus: h.phys, memoryMiB: h.mem } : undefined,
          }),
        );
        const vms = g.vms.map((v, i) =>
          vm(`v${i}`, v.cpu, v.mem, v.at >= 0 && v.at < m ? `h${v.at}` : undefined, v.cost),
        );
        const constraints = g.constraints.map((c, i) => randomConstraint(c.type, i, c.pick, vms.length, m));
        const inst: PackInstance = { dims: DIMS, hosts, vms, constraints };
        const r = await optimize(inst, solver, { timeLimitS: 20 });
        assert.deepEqual(r.unencoded ?? [], []);
        const opt = bruteForce(inst);
        if (!r.incumbent) {
          assert.equal(
            opt,
            Infinity,
            `no placement returned (${r.status}: ${r.notes}) but one of ${opt} exists`,
          );
          return;
        }
        assert.deepEqual(violations(inst, indices(inst, r.incumbent.placement)), []);
        assert.equal(r.status, 'optimal', JSON.stringify(r.notes));
        assert.ok(
          Math.abs(r.objective! - opt) <= 1e-6 * Math.max(1, opt),
          `${r.objective} vs brute force ${opt}`,
        );
      }),
      { numRuns: 60, seed: 1414 },
    );
  });
});

describe('planOptimal() carries what the catalog needs', () => {
  it('overbook judges the hosts physical cores, so the plan does not pack them onto one host', async () => {
    const h = (id: string): PlanHost => ({
      id,
      name: id,
      state: 'up',
      capacity: { vcpus: 16, memoryMiB: 32768 },
      physical: { vcpus: 4, memoryMiB: 32768 },
      idleW: 100,
    });
    const v = (id: string, hostId: string) => ({
      id,
      name: id,
      hostId,
      vcpus: 4,
      memoryMiB: 1024,
      sinceMigrationS: Infinity,
    });
    const bare: PlanCluster = { hosts: [h('h0'), h('h1')], vms: [v('a', 'h0'), v('b', 'h1')] };
    const opts = { ...DEFAULT_PLAN_OPTIONS, spareHosts: 0 };
    const packed = await planOptimal(bare, opts, solver, { timeLimitS: 10 });
    assert.equal(packed.result.incumbent!.hostsUsed, 1); // 8 vCPUs fit 16 schedulable
    const c: PlanCluster = {
      ...bare,
      constraints: [
        {
          id: 'ob',
          type: 'overbook',
          hard: true,
          vms: [],
          hosts: ['h0', 'h1'],
          resource: 'vcpus',
          ratio: 1.5,
        },
      ],
    };
    const { plan, result } = await planOptimal(c, opts, solver, { timeLimitS: 10 });
    assert.deepEqual(result.unencoded, []);
    assert.equal(result.incumbent!.hostsUsed, 2); // 8 > 1.5 × 4 physical cores
    assert.equal(plan.actions.filter((a) => a.type === 'migrate').length, 0);
    assert.deepEqual(checkPlan(c, plan), []);
  });
});
