import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StateMetrics } from './metrics.ts';

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} ≠ ${b}`);

test('StateMetrics on a hand-worked 3-host, 5-VM, 4-step history', () => {
  const m = new StateMetrics(3, 5);
  // Host 0: active 0–900, under-served 300–600, off at 900 (a shutdown 900 s after t = 0).
  m.host(0, 0, 1000, 1000, true);
  m.host(0, 300, 900, 1000, true);
  m.host(0, 600, 1000, 1000, true);
  m.host(0, 900, 0, 0, false);
  // Host 1: off at its first entry (counts a shutdown, as CloudSim), on from 300, under-served 300–600.
  m.host(1, 0, 0, 0, false);
  m.host(1, 300, 500, 600, true);
  m.host(1, 600, 500, 500, true);
  m.host(1, 900, 500, 500, true);
  // Host 2: a second entry at t = 0 replaces the first: under-served 0–300.
  m.host(2, 0, 100, 100, true);
  m.host(2, 0, 100, 200, true);
  m.host(2, 300, 100, 100, true);
  // VM 0 migrates 300–600 at 90 %; VM 1 fine; VM 2 gets half its request 0–300 (no migration);
  // VM 3's migration flag at 300 is overwritten; VM 4 has a single entry (no interval).
  m.vm(0, 0, 1000, 1000, false);
  m.vm(0, 300, 900, 1000, true);
  m.vm(0, 600, 1000, 1000, false);
  m.vm(1, 0, 500, 500, false);
  m.vm(1, 300, 500, 500, false);
  m.vm(1, 600, 0, 0, false);
  m.vm(2, 0, 200, 400, false);
  m.vm(2, 300, 400, 400, false);
  m.vm(3, 300, 100, 100, true);
  m.vm(3, 300, 100, 100, false);
  m.vm(3, 600, 100, 100, false);
  m.vm(4, 0, 300, 300, false);
  m.finish();
  // SLATAH: active 900 + 600 + 300 = 1800 s, violated 300 + 300 + 300 = 900 s → 0.5
  close(m.slatah(), 0.5);
  // Requested MIPS·s: VM0 600000, VM1 300000, VM2 120000, VM3 30000 = 1,050,000.
  // PDM: only VM 0 under-served while migrating: 100 MIPS × 300 s = 30000 → 30000/1050000
  close(m.pdm(), 30000 / 1050000);
  // Overall: allocated 570000 + 300000 + 60000 + 30000 = 960000 → 90000/1050000
  close(m.overallSlaViolation(), 90000 / 1050000);
  // Average over under-served intervals: VM0 0.1, VM2 0.5 → 0.3
  close(m.averageSlaViolation(), 0.3);
  assert.equal(m.hostShutdowns, 2);
  assert.deepEqual(
    [...m.timesBeforeShutdownS()].sort((a, b) => a - b),
    [0, 900],
  );
  assert.deepEqual(m.migrationDurationsS(), [300]);
});
