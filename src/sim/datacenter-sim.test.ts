import assert from 'node:assert/strict';
import { test } from 'node:test';
import { maxPowerW } from '../models/power.ts';
import { parsePolicy } from '../policies/registry.ts';
import { simulate } from './datacenter-sim.ts';
import { buildSimInput, loadWorkload } from './run.ts';
import { parseScenario, PLANETLAB_SCENARIO } from './scenario.ts';
import type { Workload } from './workload.ts';

const DAY = new URL('../../../shared/data/planetlab/20110303', import.meta.url).pathname;

/** A workload from per-VM sample lists (percent, one per 300 s). */
function workload(rows: number[][]): Workload {
  const n = rows[0]!.length + 1;
  const samples = new Uint8Array(rows.length * n);
  rows.forEach((r, v) => {
    r.forEach((x, k) => {
      samples[v * n + k] = x;
    });
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

const tiny = parseScenario({
  name: 'tiny',
  mode: 'default',
  durationS: 1200,
  hostTypes: [
    {
      name: 'lin',
      count: 3,
      pes: 2,
      mipsPerPe: 1000,
      ramMiB: 4096,
      bandwidthMbps: 1000,
      power: { type: 'linear', idleW: 100, maxW: 200 },
    },
  ],
  vmTypes: [{ name: 'one', mips: 1000, ramMiB: 1536 }],
  workload: { type: 'synthetic', vms: 5 },
});

test('DVFS energy on a hand-worked 3-host, 5-VM, 4-step run', () => {
  // RAM 1536 MiB → 2 VMs per host; first fit: h0 = {0,1}, h1 = {2,3}, h2 = {4}.
  // h0, h1 at 1000/2000 MIPS: 150 W for 1200 s. h2: VM 4 at 20 % (0–300 s), ramps to 60 % at 600 s:
  // util 0.1 → 0.1 → 0.3 → 0.3 → 0.3: 110·300 + (110+130)/2·300 + 130·600 = 147,000 J.
  const w = workload([
    [50, 50, 50, 50],
    [50, 50, 50, 50],
    [50, 50, 50, 50],
    [50, 50, 50, 50],
    [20, 20, 60, 60],
  ]);
  const r = simulate(buildSimInput(tiny, w, parsePolicy('dvfs'), 'default', 1));
  assert.ok(Math.abs(r.energyKWh * 3.6e6 - (2 * 150 * 1200 + 147000)) < 1e-6, `${r.energyKWh * 3.6e6} J`);
  assert.equal(r.migrations, 0);
  assert.equal(r.slatah, 0);
});

test('cloudsim mode: one migration worked by hand (energy, SLATAH, PDM, duration, shutdowns)', () => {
  // Two 1000-MIPS single-core hosts (linear 100→200 W), two 1000-MIPS VMs with 625 MiB at a constant 10 %.
  // t = 0: VMs at full size spread one per host. Step 300.1 s: both hosts at 0.1; host 0 (least utilized,
  // lowest id) is emptied: VM 0 → host 1, 625 / 62.5 = 10 s, done at 310.1 s.
  const s = parseScenario({
    name: 'two',
    mode: 'cloudsim',
    durationS: 1200,
    hostTypes: [
      {
        name: 'h',
        count: 2,
        pes: 1,
        mipsPerPe: 1000,
        ramMiB: 4096,
        bandwidthMbps: 1000,
        power: { type: 'linear', idleW: 100, maxW: 200 },
      },
    ],
    vmTypes: [{ name: 'v', mips: 1000, ramMiB: 625 }],
    workload: { type: 'synthetic', vms: 2 },
  });
  const r = simulate(
    buildSimInput(
      s,
      workload([
        [10, 10, 10, 10, 10],
        [10, 10, 10, 10, 10],
      ]),
      parsePolicy('thr-mmt:0.8'),
      'cloudsim',
      1,
    ),
  );
  assert.equal(r.migrations, 1);
  assert.ok(Math.abs(r.meanMigrationTimeS - 10) < 1e-9);
  // Energy: [0, 300.1] free (no load before the first step). [300.1, 310.1]: host 0 at 0.1 → 110 W
  // (the migrating VM's 90 % counts as 100 %), host 1 at 0.11 (10 % reserved for VM 0) → 111 W:
  // 1100 + 1110 J. Then host 1 at 0.2 → 120 W for 290 + 300 s = 70,800 J; host 0 is off. Total 73,010 J.
  assert.ok(Math.abs(r.energyKWh * 3.6e6 - 73010) < 1e-6, `${r.energyKWh * 3.6e6} J`);
  // SLATAH: host 1 asks 200 MIPS but gets 110 during the migration: 10 s of 10 + 600 active host-seconds.
  assert.ok(Math.abs(r.slatah - 10 / 610) < 1e-12, `${r.slatah}`);
  // PDM: VM 0 loses 10 MIPS for 10 s = 100 MIPS·s of 120,000 requested (two VMs × 100 MIPS × 600 s).
  assert.ok(Math.abs(r.pdm - 100 / 120000) < 1e-12, `${r.pdm}`);
  assert.equal(r.hostShutdowns, 1); // host 0 goes inactive at 310.1 s
  assert.equal(r.steps, 3); // 300.1, 600.1, 900.1 (1200.1 is past the end)
});

test('default mode can time migrations with the live-migration models (precopy-model)', async () => {
  const { predictMigration } = await import('../models/migration.ts');
  const s = parseScenario({
    ...tiny,
    migration: { type: 'precopy-model', maxDirtyMiBps: 100, downtimeTargetMs: 300 },
  });
  const w = workload([
    [10, 10],
    [10, 10],
    [10, 10],
    [10, 10],
    [10, 10],
  ]);
  const input = buildSimInput(s, w, parsePolicy('thr-mmt:0.8'), 'default', 1);
  // Idle VM: plain pre-copy of 1740 MiB over half of 1 Gbit/s.
  const idle = predictMigration(
    { memMiB: 1740, dirtyMiBps: 0, bandwidthMbps: 500 },
    { mode: 'precopy', maxDowntimeMs: 300 },
  );
  assert.ok(Math.abs(input.migrationTime(1740, 1000, 0) - idle.totalMs / 1000) < 1e-9);
  // Busy VM: 100 MiB/s dirtied > 59.6 MiB/s link: pre-copy cannot converge; the planner picks
  // compression (fast here), so it is quicker than plain copying would be, and never infinite.
  const busy = input.migrationTime(1740, 1000, 1);
  assert.ok(Number.isFinite(busy) && busy > 0);
  // The RAM/bandwidth model ignores the dirty rate.
  const plain = buildSimInput(tiny, w, parsePolicy('thr-mmt:0.8'), 'default', 1);
  assert.equal(plain.migrationTime(1740, 1000, 1), plain.migrationTime(1740, 1000, 0));
});

test('NPA charges every host its peak power for the whole run (closed form)', () => {
  const w = loadWorkload({ ...PLANETLAB_SCENARIO, workload: { type: 'planetlab', limitVms: 40 } }, DAY, 1);
  const peak =
    400 *
    (maxPowerW({ type: 'specpower', wattsAt: [86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117] }) +
      135);
  // CloudSim: from 0 to the last step at 86100.1 s; default mode: the full 86,400 s.
  const cs = simulate(buildSimInput(PLANETLAB_SCENARIO, w, parsePolicy('npa'), 'cloudsim', 1));
  assert.ok(Math.abs(cs.energyKWh - (peak * 86100.1) / 3.6e6) < 1e-6, `${cs.energyKWh}`);
  const def = simulate(buildSimInput(PLANETLAB_SCENARIO, w, parsePolicy('npa'), 'default', 1));
  assert.ok(Math.abs(def.energyKWh - (peak * 86400) / 3.6e6) < 1e-6, `${def.energyKWh}`);
});

test('cloudsim mode spreads 20110303 over all 800 hosts at t = 0 (548 with one VM, 252 with two)', async () => {
  const { DatacenterSim } = await import('./datacenter-sim.ts');
  const w = loadWorkload(PLANETLAB_SCENARIO, DAY, 1);
  const sim = new DatacenterSim(
    buildSimInput(PLANETLAB_SCENARIO, w, parsePolicy('thr-mmt:0.8'), 'cloudsim', 1),
  );
  sim.placeInitial();
  const counts = new Map<number, number>();
  for (const l of sim.lists) counts.set(l.length, (counts.get(l.length) ?? 0) + 1);
  assert.deepEqual([...counts.entries()].sort(), [
    [1, 548],
    [2, 252],
  ]);
});

test('cloudsim mode: LRR gives exactly LR (Q5) and idle VMs vanish (Q1); default mode keeps them', () => {
  const s = { ...PLANETLAB_SCENARIO, workload: { type: 'planetlab' as const, limitVms: 120 } };
  const w = loadWorkload(s, DAY, 1);
  const run = (p: string, mode: 'cloudsim' | 'default', seed = 1) =>
    simulate(buildSimInput(s, w, parsePolicy(p), mode, seed, 60));
  const lr = run('lr-mmt:1.2', 'cloudsim');
  const lrr = run('lrr-mmt:1.2', 'cloudsim');
  const { series: _a, ...a } = lr;
  const { series: _b, ...b } = lrr;
  assert.deepEqual({ ...a, detectorCalls: 0 }, { ...b, detectorCalls: 0 });
  assert.ok(lr.migrations > 0);
  assert.ok(lr.vmsRemoved > 0);
  const def = run('lr-mmt:1.2', 'default');
  assert.equal(def.vmsRemoved, 0);
  // Migrations per step add up to the total.
  assert.equal(
    lr.series.migrations.reduce((x, y) => x + y, 0),
    lr.migrations,
  );
  // Same seed, same numbers; RS depends on the seed.
  const rs1 = run('thr-rs:0.8', 'default', 5),
    rs2 = run('thr-rs:0.8', 'default', 5);
  assert.equal(rs1.energyKWh, rs2.energyKWh);
  assert.equal(rs1.migrations, rs2.migrations);
});

test('the host index and the plain scan give the same run (placement at t = 0 and every round)', () => {
  const s = { ...PLANETLAB_SCENARIO, workload: { type: 'planetlab' as const, limitVms: 120 } };
  const w = loadWorkload(s, DAY, 1);
  for (const [p, mode] of [
    ['lr-mmt:1.2', 'cloudsim'],
    ['mad-mc:2.5', 'default'],
    ['thr-mu:0.8', 'default'],
  ] as const) {
    const run = (hostSearch: 'index' | 'scan') =>
      simulate({ ...buildSimInput(s, w, parsePolicy(p), mode, 1, 60), hostSearch });
    const index = run('index');
    assert.ok(index.migrations > 0, p);
    assert.deepEqual(index, run('scan'), `${p} ${mode}`);
  }
});
