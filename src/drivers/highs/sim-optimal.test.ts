import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OptimalRound } from '../../policies/optimize/sim-consolidation.ts';
import { parsePolicy } from '../../policies/registry.ts';
import { simulate } from '../../sim/datacenter-sim.ts';
import { buildSimInput, SimPolicyError } from '../../sim/run.ts';
import { parseScenario } from '../../sim/scenario.ts';
import type { Workload } from '../../sim/workload.ts';
import { highsSyncSolver } from './highs-sync.ts';

const milp = await highsSyncSolver();

/** A workload from per-VM sample lists (percent, one per 300 s). */
function workload(rows: number[][]): Workload {
  const n = rows[0]!.length + 1;
  const samples = new Uint8Array(rows.length * n);
  rows.forEach((r, v) => {
    r.forEach((x, k) => (samples[v * n + k] = x));
    samples[v * n + n - 1] = r[r.length - 1]!;
  });
  return {
    source: 'test',
    names: rows.map((_, i) => `vm${i}`),
    samplesPerVm: n,
    sampleIntervalS: 300,
    samples,
  };
}

// 6 hosts of 2000 MIPS / 4096 MiB, 8 VMs of 1000 MIPS / 1024 MiB: loads rise, fall and swap over 8 steps.
const small = parseScenario({
  name: 'small',
  mode: 'default',
  durationS: 2700,
  hostTypes: [
    {
      name: 'lin',
      count: 6,
      pes: 2,
      mipsPerPe: 1000,
      ramMiB: 4096,
      bandwidthMbps: 1000,
      power: { type: 'linear', idleW: 100, maxW: 200 },
    },
  ],
  vmTypes: [{ name: 'one', mips: 1000, ramMiB: 1024 }],
  workload: { type: 'synthetic', vms: 8 },
});
const w = workload([
  [90, 90, 20, 20, 20, 90, 90, 10, 10],
  [90, 90, 20, 20, 20, 90, 90, 10, 10],
  [10, 80, 80, 10, 10, 80, 80, 10, 10],
  [10, 80, 80, 10, 10, 20, 20, 10, 10],
  [20, 20, 90, 90, 10, 10, 10, 90, 90],
  [20, 20, 90, 90, 10, 10, 10, 90, 90],
  [5, 5, 5, 60, 60, 60, 5, 5, 5],
  [5, 5, 5, 60, 60, 60, 5, 5, 5],
]);

function run(policy = 'optimal', rounds?: OptimalRound[]) {
  return simulate(
    buildSimInput(small, w, parsePolicy(policy), 'default', 7, undefined, {
      milp,
      onOptimalRound: (r) => rounds?.push(r),
    }),
  );
}

test('the optimal policy is deterministic: two runs, the same numbers', () => {
  const a = run();
  const b = run();
  assert.deepEqual(a, b);
  assert.ok(a.steps > 0);
});

test('every plan the optimal policy applies fits every host (CPU under the cap, memory)', () => {
  const rounds: OptimalRound[] = [];
  const r = run('optimal', rounds);
  assert.equal(rounds.length, r.steps);
  let solved = 0;
  for (const round of rounds) {
    if (!round.result?.incumbent) continue;
    solved++;
    const inst = round.instance!;
    const used = new Map<string, number[]>();
    for (const v of inst.vms) {
      const h = round.result.incumbent.placement.get(v.id)!;
      const u = used.get(h) ?? [0, 0];
      v.demand.forEach((x, d) => (u[d] = u[d]! + x));
      used.set(h, u);
    }
    for (const [h, u] of used) {
      const cap = inst.hosts.find((x) => x.id === h)!.capacity;
      u.forEach((x, d) => assert.ok(x <= cap[d]! + 1e-6, `host ${h} dimension ${d}: ${x} > ${cap[d]}`));
    }
    // The migrations are exactly the VMs whose host changed.
    const moved = inst.vms.filter((v) => round.result!.incumbent!.placement.get(v.id) !== v.hostId);
    assert.equal(round.migrations.length, moved.length);
  }
  assert.ok(solved > 0);
  // The workload overloads hosts (two VMs at 90 % on a host capped at 80 %): those rounds were repairs.
  assert.ok(rounds.some((x) => x.overloadedHosts > 0 && x.result?.incumbent));
  assert.equal(
    r.migrations,
    rounds.reduce((s, x) => s + x.migrations.length, 0),
  );
});

test('the optimal policy consolidates: no more energy than DVFS, which never migrates', () => {
  const opt = run();
  const dvfs = run('dvfs');
  assert.ok(opt.migrations > 0);
  assert.ok(opt.energyKWh < dvfs.energyKWh, `${opt.energyKWh} >= ${dvfs.energyKWh}`);
});

test('the optimal policy needs the solver and default mode', () => {
  assert.throws(() => buildSimInput(small, w, parsePolicy('optimal'), 'default', 7), SimPolicyError);
  assert.throws(
    () => buildSimInput(small, w, parsePolicy('optimal'), 'cloudsim', 7, undefined, { milp }),
    /default mode only/,
  );
});
