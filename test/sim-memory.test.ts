import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { PAGES_PER_MIB, syntheticFingerprint } from '../src/core/memory/fingerprint.ts';
import { resolvePowerModel } from '../src/sim/scenario.ts';
import { simulate, type SimInput } from '../src/sim/datacenter-sim.ts';
import { MemoryModel, type MemoryPlacement } from '../src/sim/memory-model.ts';
import { memoryCompareTable, runMemoryCompare } from '../src/sim/memory-compare.ts';
import { renderMemoryCompareReport } from '../src/sim/report.ts';
import { buildSimInput, loadWorkload, SimPolicyError } from '../src/sim/run.ts';
import { parsePolicy } from '../src/policies/registry.ts';
import { seededRandom } from '../src/runtime/random.ts';
import { parseScenario, ScenarioError } from '../src/sim/scenario.ts';
import type { Workload } from '../src/sim/workload.ts';

/** Three VMs at a constant 10 % CPU for 600 s (samples every 300 s). */
const flat: Workload = {
  source: 'test',
  names: ['vm0', 'vm1', 'vm2'],
  samplesPerVm: 3,
  sampleIntervalS: 300,
  samples: new Uint8Array(9).fill(10),
};

/**
 * 2 hosts (3000 MIPS, 2048 MiB), 3 VMs (1000 MIPS, 1024 MiB, guarantee 256 MiB); VMs 0 and 1 run the
 * same image (256 MiB of OS pages in common, sampled exactly), VM 2 another. Working sets: 600 MiB at
 * t = 0, 700 MiB after. Balloons reclaim 0.5 MiB/s after a 10 s delay; first-fit placement (npa).
 */
function tiny(placement: MemoryPlacement): SimInput {
  const os = (seed: number) =>
    syntheticFingerprint({ sampleBits: 0, segments: [{ seed, pages: 256 * PAGES_PER_MIB }] });
  const ramMiB = Float64Array.from([1024, 1024, 1024]);
  const memory = new MemoryModel(
    {
      ramMiB,
      guaranteedMiB: Float64Array.from([256, 256, 256]),
      fingerprints: [os(1), os(1), os(2)],
      mergeable: Uint8Array.from([1, 1, 1]),
      workingSetMiB: (_v, t) => (t === 0 ? 600 : 700),
    },
    {
      placement,
      risk: { risk: 0.01, headroomMiB: 64, sharingCredit: 0.9 },
      initialResidentShare: 1,
      balloonDelayS: 10,
      balloonRateMiBps: 0.5,
      swapPenalty: 1,
      sharingWeightWPerGiB: 0,
      sdPriorShare: 0,
    },
  );
  const power = resolvePowerModel({ type: 'linear', idleW: 100, maxW: 200 });
  return {
    mode: 'default',
    hosts: {
      capacityMips: Float64Array.from([3000, 3000]),
      peMips: Float64Array.from([3000, 3000]),
      ramMiB: Float64Array.from([2048, 2048]),
      bandwidthMbps: Float64Array.from([1000, 1000]),
      power: [power, power],
    },
    vms: {
      mips: Float64Array.from([1000, 1000, 1000]),
      ramMiB,
      bandwidthMbps: Float64Array.from([100, 100, 100]),
    },
    workload: flat,
    policy: { kind: 'npa' },
    stepS: 300,
    durationS: 600,
    random: seededRandom(1),
    powerOnS: 0,
    powerOffS: 0,
    transitionPowerShare: 1,
    migrationTime: (ram, bw) => (ram * 8) / bw,
    pue: 1,
    historyLength: 30,
    memory,
  };
}

const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} ≠ ${b}`);

test('memory accounting on a hand-worked 2-host, 3-VM run: sharing, balloon latency, swap, penalty', () => {
  // Memory-aware admission at t = 0: each VM counts 600 + 64 headroom = 664 MiB (sd 0): 3 × 664 = 1992
  // ≤ 2048, so first fit puts all three on host 0.
  const r = simulate(tiny('memory'));
  const m = r.memory!;
  assert.deepEqual(m.series.capacityMiB, [2048, 2048], 'one host holds the VMs');
  // t = 300: working sets 700; VMs 0 and 1 share their 256 MiB OS: demand 3 × 700 − 256 = 1844.
  close(m.series.sharedMiB[0]!, 256, 'shared');
  close(m.series.demandMiB[0]!, 1844, 'demand');
  // Balloon targets (no sharing credit without fingerprints): want 764 each, 2292 > 2048 by 244, cut
  // in proportion to the slack above the guarantee (508 each): 764 − 508 · 244/1524 = 682.67 → 683.
  // Guests start holding 1024; in 300 s the balloon reclaims 0.5 · (300 − 10) = 145: each holds 879.
  close(m.series.balloonMiB[0]!, 3 * 145, 'balloon');
  // Host holds 3 · 879 − 256 = 2381 > 2048: 333 MiB swapped, 333/2381 of every working set.
  close(m.series.swapMiB[0]!, 333, 'swap');
  // t = 600: another 145 reclaimed (879 → 734 ≥ the target 683 and the working set 700):
  // 3 · 734 − 256 = 1946 ≤ 2048, no swap.
  close(m.series.balloonMiB[1]!, 3 * 290, 'balloon at 600 s');
  close(m.series.swapMiB[1]!, 0, 'swap at 600 s');
  // Penalty 333/2381 for the first 300 s of each VM's 600: swap SLA = 333/2381/2, and it is the SLAV
  // (no CPU shortfall at 10 %).
  close(m.slaSwap, 333 / 2381 / 2, 'swap SLA');
  close(m.swapTimeShare, 0.5, 'time with swap');
  close(r.slav, r.slatah * r.pdm + m.slaSwap, 'SLAV');
  assert.equal(r.slatah, 0);

  // Flavor RAM (unaware): 2 VMs per host, host 0 shares 256 MiB and never swaps.
  const u = simulate(tiny('unaware')).memory!;
  assert.deepEqual(u.series.capacityMiB, [4096, 4096], 'two hosts hold the VMs');
  close(u.series.sharedMiB[0]!, 256, 'shared (unaware)');
  assert.equal(u.slaSwap, 0);
  assert.equal(u.maxSwapMiB, 0);
});

/** RAM-bound hosts (the VMs' CPU is small), two images: sharing decides how many VMs fit. */
const ramBound = parseScenario({
  name: 'ram-bound',
  durationS: 6 * 3600,
  hostTypes: [
    {
      name: 'h',
      count: 40,
      pes: 8,
      mipsPerPe: 2500,
      ramMiB: 8192,
      bandwidthMbps: 1000,
      power: { type: 'linear', idleW: 100, maxW: 250 },
    },
  ],
  vmTypes: [{ name: 'm', mips: 500, ramMiB: 2048 }],
  workload: { type: 'synthetic', vms: 60, seed: 7 },
  memory: {
    images: [
      { name: 'a', osMiB: 700 },
      { name: 'b', osMiB: 700 },
    ],
    appMiB: 400,
    apps: 1,
    appShare: 1,
    baseShare: 0.35,
    cpuShare: 0.2,
  },
});

test('the comparison runs the three placements; sharing-aware never needs more hosts than unaware', () => {
  const run = () =>
    runMemoryCompare({
      scenario: ramBound,
      workload: loadWorkload(ramBound, undefined, 3),
      policy: 'thr-mmt:0.8',
      seed: 3,
    });
  const a = run();
  assert.deepEqual(
    a.rows.map((r) => r.placement),
    ['unaware', 'memory', 'sharing'],
  );
  const [unaware, , sharing] = a.rows;
  assert.ok(
    sharing!.maxActiveHosts <= unaware!.maxActiveHosts,
    `${sharing!.maxActiveHosts} > ${unaware!.maxActiveHosts}`,
  );
  assert.ok(sharing!.meanActiveHosts <= unaware!.meanActiveHosts);
  assert.ok(sharing!.meanSharedMiB > 0);
  assert.deepEqual(run().rows, a.rows, 'same spec and seed, same numbers');
});

test('without a memory: section the run has no memory model; a bad memory: section is refused by name', () => {
  const { memory: _m, ...plain } = ramBound;
  const w = loadWorkload(ramBound, undefined, 3);
  const input = buildSimInput(plain, w, parsePolicy('thr-mmt:0.8'), 'default', 3);
  assert.equal(input.memory, undefined);
  assert.equal('memory' in simulate(input), false);
  assert.throws(
    () => parseScenario({ ...plain, memory: { risk: 0.7 } }),
    (e: Error) => e instanceof ScenarioError && /memory\.risk/.test(e.message),
  );
  assert.throws(() => buildSimInput(ramBound, w, parsePolicy('thr-mmt:0.8'), 'cloudsim', 3), SimPolicyError);
});

test('the comparison report has its table and charts, one line per placement', () => {
  const out = runMemoryCompare({
    scenario: { ...ramBound, durationS: 3600 },
    workload: loadWorkload(ramBound, undefined, 3),
    policy: 'thr-mmt:0.8',
    seed: 3,
  });
  const html = renderMemoryCompareReport(out, memoryCompareTable(out.rows), { title: 't' });
  assert.equal(html.split('<svg ').length - 1, 4);
  assert.equal(
    html.split('<polyline').length - 1,
    3 * 3 + 6,
    'three per chart, demand and capacity per placement',
  );
  for (const p of ['unaware', 'memory', 'sharing']) assert.ok(html.includes(`<td>${p}</td>`), p);
});

test('nubis sim --memory-compare prints the three placements as JSON and writes the report', () => {
  const root = new URL('..', import.meta.url).pathname;
  const dir = mkdtempSync(join(tmpdir(), 'nubis-memsim-'));
  try {
    const report = join(dir, 'r.html');
    const args = ['--trace', join(root, '../shared/data/planetlab/20110303'), '--limit-vms', '40'];
    const r = spawnSync(
      process.execPath,
      [
        join(root, 'bin/nubis.js'),
        'sim',
        '--memory-compare',
        ...args,
        '--hosts',
        '30',
        '--policy',
        'thr-mmt:0.8',
      ],
      { encoding: 'utf8', cwd: root },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /unaware[\s\S]*memory[\s\S]*sharing/);
    const j = spawnSync(
      process.execPath,
      [
        join(root, 'bin/nubis.js'),
        'sim',
        '--memory-compare',
        ...args,
        '--hosts',
        '30',
        '--json',
        '--report',
        report,
      ],
      { encoding: 'utf8', cwd: root },
    );
    assert.equal(j.status, 0, j.stderr);
    const rows = JSON.parse(j.stdout) as { placement: string; slaSwap: number }[];
    assert.deepEqual(
      rows.map((x) => x.placement),
      ['unaware', 'memory', 'sharing'],
    );
    assert.ok(rows.every((x) => x.slaSwap >= 0));
    assert.match(readFileSync(report, 'utf8'), /<svg /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sharing-aware consolidation: the host index (bounds lowered by the largest bonus) plans as the scan', () => {
  const s = { ...ramBound, memory: { ...ramBound.memory!, placement: 'sharing' as const } };
  const w = loadWorkload(s, undefined, 3);
  const run = (hostSearch: 'index' | 'scan') =>
    simulate({ ...buildSimInput(s, w, parsePolicy('thr-mmt:0.8'), 'default', 3), hostSearch });
  const a = run('index');
  const b = run('scan');
  assert.ok(a.migrations > 0, 'the run consolidates');
  assert.deepEqual({ ...a, cpuSeconds: 0 }, { ...b, cpuSeconds: 0 });
});
