import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRisks } from '../src/cli/sim-command.ts';
import { runMemoryCompare } from '../src/sim/memory-compare.ts';
import { memoryRiskTable, runMemoryRiskSweep } from '../src/sim/memory-risk-sweep.ts';
import { loadWorkload } from '../src/sim/run.ts';
import { parseScenario, ScenarioError } from '../src/sim/scenario.ts';

/** RAM-bound hosts (small CPU per VM), noisy working sets: the risk decides how many VMs fit. */
const scenario = parseScenario({
  name: 'risk',
  durationS: 3 * 3600,
  hostTypes: [
    {
      name: 'h',
      count: 30,
      pes: 8,
      mipsPerPe: 2500,
      ramMiB: 8192,
      bandwidthMbps: 1000,
      power: { type: 'linear', idleW: 100, maxW: 250 },
    },
  ],
  vmTypes: [{ name: 'm', mips: 500, ramMiB: 2048 }],
  workload: { type: 'synthetic', vms: 40, seed: 5 },
  memory: { noiseShare: 0.2, cpuShare: 0.5, baseShare: 0.2 },
});

test('the risk sweep: one baseline row, memory and sharing per risk, means over the days', () => {
  const days = [loadWorkload(scenario, undefined, 1), loadWorkload(scenario, undefined, 2)];
  const risks = [0.001, 0.2];
  const rows = runMemoryRiskSweep({ scenario, workloads: days, policy: 'thr-mmt:0.8', seed: 1, risks });
  assert.deepEqual(
    rows.map((r) => [r.risk, r.placement, r.days]),
    [
      [null, 'unaware', 2],
      [0.001, 'memory', 2],
      [0.001, 'sharing', 2],
      [0.2, 'memory', 2],
      [0.2, 'sharing', 2],
    ],
  );
  // Each row is the mean of the per-day comparison at that risk.
  const perDay = days.map(
    (workload) =>
      runMemoryCompare({
        scenario: { ...scenario, memory: { ...scenario.memory!, risk: 0.2 } },
        workload,
        policy: 'thr-mmt:0.8',
        seed: 1,
      }).rows,
  );
  const sharing = rows[4]!;
  assert.equal(sharing.energyKWh, (perDay[0]![2]!.energyKWh + perDay[1]![2]!.energyKWh) / 2);
  assert.equal(sharing.slaSwap, (perDay[0]![2]!.slaSwap + perDay[1]![2]!.slaSwap) / 2);
  assert.equal(rows[0]!.energyKWh, (perDay[0]![0]!.energyKWh + perDay[1]![0]!.energyKWh) / 2);
  // A higher risk admits more per host: never more hosts for the memory-aware placement.
  assert.ok(rows[3]!.meanActiveHosts <= rows[1]!.meanActiveHosts, 'risk 0.2 needs no more hosts than 0.001');
  assert.equal(memoryRiskTable(rows).cells[0]![0], '-');
  assert.throws(
    () => runMemoryRiskSweep({ scenario, workloads: days, policy: 'thr-mmt:0.8', seed: 1, risks: [] }),
    RangeError,
  );
});

test('--risk takes comma-separated risks in (0, 0.5) and names a bad one', () => {
  assert.deepEqual(parseRisks('0.001, 0.01,0.2'), [0.001, 0.01, 0.2]);
  for (const bad of ['0.5', '0', '-0.1', 'abc', '0.1x', ','])
    assert.throws(() => parseRisks(bad), ScenarioError, bad);
});
