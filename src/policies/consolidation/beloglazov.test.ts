import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  HP_PROLIANT_ML110_G4,
  HP_PROLIANT_ML110_G5,
  powerW,
  type PowerModelSpec,
} from '../../models/power.ts';
import { seededRandom } from '../../runtime/random.ts';
import { thresholdDetector } from '../overload.ts';
import { minimumMigrationTime } from '../selection.ts';
import { planConsolidation, type ConsolidationOptions } from './beloglazov.ts';
import type { ClusterSnapshot } from './trial-cluster.ts';

/** Build a snapshot from per-host VM lists and per-VM demand; hosts alternate G4/G5. */
function cluster(
  hostVms: number[][],
  demand: number[],
  ram: number[] = demand.map(() => 613),
): ClusterSnapshot {
  const H = hostVms.length;
  const power: PowerModelSpec[] = hostVms.map((_, h) =>
    h % 2 ? HP_PROLIANT_ML110_G5 : HP_PROLIANT_ML110_G4,
  );
  const cap = Float64Array.from(hostVms, (_, h) => (h % 2 ? 5320 : 3720));
  const util = Float64Array.from(hostVms, (l, h) =>
    Math.min(1, l.reduce((s, v) => s + demand[v]!, 0) / cap[h]!),
  );
  return {
    hostCapacityMips: cap,
    hostPeMips: Float64Array.from(hostVms, (_, h) => (h % 2 ? 2660 : 1860)),
    hostRamMiB: new Float64Array(H).fill(4096),
    hostBandwidthMbps: new Float64Array(H).fill(1000),
    hostPower: power,
    hostUtilization: util,
    hostPowerNowW: Float64Array.from(util, (u, h) => powerW(power[h]!, u)),
    hostOff: Uint8Array.from(util, (u) => (u === 0 ? 1 : 0)),
    hostBlocked: new Uint8Array(H),
    hostVms,
    vmMips: new Float64Array(demand.length).fill(2500),
    vmRamMiB: Float64Array.from(ram),
    vmDemandMips: Float64Array.from(demand),
    vmMigrating: new Uint8Array(demand.length),
    vmHistory: new Float64Array(demand.length * 30),
    vmHistoryLength: new Uint8Array(demand.length),
    historyCapacity: 30,
  };
}

const opts = (o: Partial<ConsolidationOptions> = {}): ConsolidationOptions => ({
  detector: thresholdDetector(0.8),
  selection: minimumMigrationTime,
  random: seededRandom(1),
  ramConstraint: true,
  excludeOverloadTargets: true,
  consolidateIdleHosts: false,
  ...o,
});

test('an overloaded host sheds its smallest-RAM VM until it is below the threshold', () => {
  // host 1 (G5, 5320): 2000 + 1500 + 1000 = 4500 > 0.8·5320 = 4256 → drop VM 2 (613 MiB) → 3500 OK
  const snap = cluster([[3], [0, 1, 2], []], [2000, 1500, 1000, 500], [1740, 870, 613, 613]);
  const { migrations } = planConsolidation(snap, opts());
  const fromOverload = migrations.filter((m) => m.phase === 'overload');
  assert.deepEqual(
    fromOverload.map((m) => [m.vm, m.from]),
    [[2, 1]],
  );
  // PABFD on G4 hosts: host 0 goes 500→1500 MIPS: P(0.403) − P(0.134) = 99.58 − 90.50 = 9.08 W;
  // empty host 2 charged as CloudSim does, from P(0) = 86 W: P(0.269) − 86 = 94.94 − 86 = 8.94 W → host 2.
  assert.equal(fromOverload[0]!.to, 2);
  // Charging a switched-off host from 0 W (default mode): 94.94 W > 9.08 W → host 0.
  snap.hostPowerNowW[2] = 0;
  assert.equal(planConsolidation(snap, opts()).migrations.find((m) => m.phase === 'overload')!.to, 0);
});

test('the least utilized host is emptied when all its VMs fit elsewhere, else left alone', () => {
  // host 0 holds one small VM; host 1 has room → VM 0 moves to host 1
  const snap = cluster([[0], [1]], [100, 1000]);
  const { migrations } = planConsolidation(snap, opts());
  assert.deepEqual(
    migrations.map((m) => [m.vm, m.from, m.to, m.phase]),
    [[0, 0, 1, 'underload']],
  );
  // if host 1 would become overloaded by it, nothing moves
  const full = cluster([[0], [1]], [1000, 4000]);
  assert.deepEqual(planConsolidation(full, opts()).migrations, []);
});

test('property: applying any plan keeps every host within CPU and RAM and every VM on one host', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 12 }).chain((H) =>
        fc.tuple(
          fc.constant(H),
          fc.array(
            fc.record({
              host: fc.integer({ min: 0, max: H - 1 }),
              demand: fc.integer({ min: 0, max: 2400 }),
              ram: fc.constantFrom(613, 870, 1740),
            }),
            { minLength: 1, maxLength: 30 },
          ),
        ),
      ),
      ([H, vms]) => {
        // Build a valid starting point: drop VMs that would not fit their host's RAM.
        const lists: number[][] = Array.from({ length: H }, () => []);
        const ramUsed = new Array(H).fill(0);
        const keep: typeof vms = [];
        for (const v of vms)
          if (ramUsed[v.host] + v.ram <= 4096) {
            ramUsed[v.host] += v.ram;
            lists[v.host]!.push(keep.length);
            keep.push(v);
          }
        const snap = cluster(
          lists,
          keep.map((v) => v.demand),
          keep.map((v) => v.ram),
        );
        const { migrations } = planConsolidation(snap, opts());
        const where = new Int32Array(keep.length).fill(-1);
        lists.forEach((l, h) =>
          l.forEach((v) => {
            where[v] = h;
          }),
        );
        const targets = new Set<number>();
        for (const m of migrations) {
          assert.equal(where[m.vm], m.from);
          where[m.vm] = m.to;
          targets.add(m.to);
        }
        for (const h of targets) {
          const on = [...where.keys()].filter((v) => where[v] === h);
          const cpu = on.reduce((s, v) => s + Math.min(keep[v]!.demand, snap.hostPeMips[h]!), 0);
          const ram = on.reduce((s, v) => s + keep[v]!.ram, 0);
          assert.ok(cpu <= snap.hostCapacityMips[h]! + 1e-6, `host ${h} CPU ${cpu}`);
          assert.ok(ram <= 4096, `host ${h} RAM ${ram}`);
        }
        assert.equal(new Set(migrations.map((m) => m.vm)).size, migrations.length, 'a VM moves at most once');
      },
    ),
    { numRuns: 200, seed: 42 },
  );
});
