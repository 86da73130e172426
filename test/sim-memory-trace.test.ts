import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readWorkingSetTrace } from '../src/sim/memory-trace.ts';
import { TraceError } from '../src/sim/planetlab.ts';
import { buildSimInput, loadWorkload } from '../src/sim/run.ts';
import { parsePolicy } from '../src/policies/registry.ts';
import { simulate } from '../src/sim/datacenter-sim.ts';
import { parseScenario } from '../src/sim/scenario.ts';

const fixtures = new URL('./fixtures/memory-trace/', import.meta.url).pathname;

/** Two synthetic VMs (named synthetic-0, synthetic-1, as the fixture's files) on four hosts. */
const scenario = (memory: Record<string, unknown>) =>
  parseScenario({
    name: 'ws-trace',
    durationS: 3600,
    hostTypes: [
      {
        name: 'h',
        count: 4,
        pes: 2,
        mipsPerPe: 2500,
        ramMiB: 4096,
        bandwidthMbps: 1000,
        power: { type: 'linear', idleW: 100, maxW: 200 },
      },
    ],
    vmTypes: [{ name: 'm', mips: 500, ramMiB: 2000 }],
    workload: { type: 'synthetic', vms: 2, seed: 1 },
    memory,
  });

test('memory.workingSetTrace: working sets are read per VM by file name, % of RAM, interpolated', () => {
  const s = scenario({ workingSetTrace: `${fixtures}day`, images: [{ name: 'tiny', osMiB: 100 }], apps: 0 });
  const w = loadWorkload(s, undefined, 1);
  const input = buildSimInput(s, w, parsePolicy('thr-mmt:0.8'), 'default', 1);
  const vms = input.memory!.vms;
  // synthetic-0 holds 50 % of its 2000 MiB whatever its CPU does.
  for (const [t, u] of [
    [0, 0.1],
    [900, 0.9],
  ] as const)
    assert.equal(vms.workingSetMiB(0, t, u), 1000);
  // synthetic-1: 7 % per step (line k holds 7k mod 101), linear in between; never below its
  // shareable pages (100 MiB of OS).
  assert.equal(vms.workingSetMiB(1, 300 * 5, 0), 700);
  assert.equal(vms.workingSetMiB(1, 300 * 5 + 150, 0), 770);
  assert.equal(vms.workingSetMiB(1, 0, 0), 100);
  // The run uses them: the demand at the first step is the sum less what the two share.
  const m = simulate(input).memory!;
  assert.ok(Math.abs(m.series.demandMiB[0]! + m.series.sharedMiB[0]! - (1000 + 140)) < 1e-9);
  // Without the field: the generator (the working set follows the CPU).
  const g = buildSimInput(scenario({}), w, parsePolicy('thr-mmt:0.8'), 'default', 1).memory!.vms;
  assert.notEqual(g.workingSetMiB(0, 0, 0.1), g.workingSetMiB(0, 0, 0.9));
});

test('memory.workingSetTrace: a bad value, a VM without a file and a missing folder are named', () => {
  const w = loadWorkload(scenario({}), undefined, 1);
  assert.throws(
    () => readWorkingSetTrace(`${fixtures}bad-value`, w),
    (e: Error) =>
      e instanceof TraceError && /workingSetTrace.*synthetic-1:3: value above 100/.test(e.message),
  );
  assert.throws(
    () => readWorkingSetTrace(`${fixtures}day`, { ...w, names: ['synthetic-0', 'vm-x'] }),
    (e: Error) => e instanceof TraceError && /no file for VM "vm-x"/.test(e.message),
  );
  assert.throws(
    () => readWorkingSetTrace(`${fixtures}none`, w),
    (e: Error) => e instanceof TraceError && /not found/.test(e.message),
  );
  assert.throws(
    () => readWorkingSetTrace(`${fixtures}day`, { ...w, samplesPerVm: 100 }),
    (e: Error) => e instanceof TraceError && /more than 99 lines/.test(e.message),
  );
});
