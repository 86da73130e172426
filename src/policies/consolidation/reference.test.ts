/**
 * The optimized planner must make exactly CloudSim's decisions. This test transcribes CloudSim's
 * `PowerVmAllocationPolicyMigrationAbstract#optimizeAllocation` literally (scan every host in id
 * order, run the detector wherever CloudSim does, no ranking, no skipping) and compares plans on
 * random clusters.
 */
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
import { madDetector, regressionDetector, thresholdDetector, type OverloadDetector } from '../overload.ts';
import {
  maximumCorrelation,
  minimumMigrationTime,
  minimumUtilization,
  type VmSelectionPolicy,
} from '../selection.ts';
import { planConsolidation, type ConsolidationOptions, type PlannedMigration } from './beloglazov.ts';
import { TrialCluster, type ClusterSnapshot } from './trial-cluster.ts';

function referencePlan(snap: ClusterSnapshot, o: ConsolidationOptions): PlannedMigration[] {
  const t = new TrialCluster(snap);
  const H = t.hostCount;
  const detect = (h: number, extra = -1) => o.detector(t.loadView(h, extra));
  const start = new Int32Array(snap.vmMips.length).fill(-1);
  snap.hostVms.forEach((l, h) =>
    l.forEach((v) => {
      start[v] = h;
    }),
  );
  const find = (v: number, excluded: Set<number>): number => {
    const d = snap.vmDemandMips[v]!;
    let min = Number.MAX_VALUE,
      best = -1;
    for (let h = 0; h < H; h++) {
      if (excluded.has(h)) continue;
      if (snap.hostPeMips[h]! < d || t.availableMips(h) < d) continue;
      if (o.ramConstraint && t.freeRamMiB(h) < snap.vmRamMiB[v]!) continue;
      if (t.allocatedMips(h) !== 0 && detect(h, v)) continue;
      let u = (t.allocatedMips(h) + d) / snap.hostCapacityMips[h]!;
      if (u > 1 && u < 1 + 1e-9) u = 1;
      const diff = powerW(snap.hostPower[h]!, u) - snap.hostPowerNowW[h]!;
      if (diff < min) {
        min = diff;
        best = h;
      }
    }
    return best;
  };
  const byDemand = (vs: number[]) => vs.slice().sort((a, b) => snap.vmDemandMips[b]! - snap.vmDemandMips[a]!);
  const over: number[] = [];
  for (let h = 0; h < H; h++) if (detect(h)) over.push(h);
  const toMove: number[] = [];
  for (const h of over)
    for (;;) {
      const v = o.selection(t.lists[h]!.slice(), t, o.random);
      if (v < 0) break;
      toMove.push(v);
      t.remove(h, v);
      if (!detect(h)) break;
    }
  const plan: PlannedMigration[] = [];
  for (const v of byDemand(toMove)) {
    const h = find(v, new Set(over));
    if (h >= 0) {
      t.add(h, v);
      plan.push({ vm: v, from: start[v]!, to: h, phase: 'overload' });
    }
  }
  const off = [...Array(H).keys()].filter((h) => snap.hostUtilization[h] === 0);
  const exUnder = new Set([...over, ...off, ...(o.excludeOverloadTargets ? plan.map((m) => m.to) : [])]);
  const exPlace = new Set([...over, ...off]);
  for (;;) {
    let u = -1,
      minU = 1;
    for (let h = 0; h < H; h++) {
      if (exUnder.has(h)) continue;
      const x = snap.hostUtilization[h]!;
      if (x > 0 && x < minU && t.lists[h]!.length > 0) {
        minU = x;
        u = h;
      }
    }
    if (u < 0) break;
    exUnder.add(u);
    exPlace.add(u);
    const placed: PlannedMigration[] = [];
    for (const v of byDemand(t.lists[u]!)) {
      const h = find(v, exPlace);
      if (h < 0) {
        for (const m of placed) t.remove(m.to, m.vm);
        placed.length = 0;
        break;
      }
      t.add(h, v);
      placed.push({ vm: v, from: u, to: h, phase: 'underload' });
    }
    for (const m of placed) {
      exUnder.add(m.to);
      plan.push(m);
    }
  }
  return plan;
}

const arbCluster = fc.integer({ min: 2, max: 14 }).chain((H) =>
  fc.record({
    H: fc.constant(H),
    vms: fc.array(
      fc.record({
        host: fc.integer({ min: 0, max: H - 1 }),
        mips: fc.constantFrom(500, 1000, 2000, 2500),
        util: fc.integer({ min: 0, max: 99 }),
        ram: fc.constantFrom(613, 870, 1740),
        hist: fc.array(fc.integer({ min: 0, max: 99 }), { minLength: 0, maxLength: 14 }),
      }),
      { minLength: 1, maxLength: 40 },
    ),
    detector: fc.constantFrom('thr', 'mad', 'lr'),
    selection: fc.constantFrom('mmt', 'mu', 'mc'),
    ramConstraint: fc.boolean(),
    excludeOverloadTargets: fc.boolean(),
  }),
);

test("property: the optimized planner (index and scan) makes exactly the literal CloudSim algorithm's plan", () => {
  fc.assert(
    fc.property(arbCluster, (c) => {
      const lists: number[][] = Array.from({ length: c.H }, () => []);
      c.vms.forEach((v, i) => lists[v.host]!.push(i));
      const power: PowerModelSpec[] = lists.map((_, h) =>
        h % 2 ? HP_PROLIANT_ML110_G5 : HP_PROLIANT_ML110_G4,
      );
      const cap = Float64Array.from(lists, (_, h) => (h % 2 ? 5320 : 3720));
      const demand = Float64Array.from(c.vms, (v) => (v.util / 100) * v.mips);
      const util = Float64Array.from(lists, (l, h) =>
        Math.min(1, l.reduce((s, v) => s + Math.min(demand[v]!, h % 2 ? 2660 : 1860), 0) / cap[h]!),
      );
      const histLen = Math.max(...c.vms.map((v) => v.hist.length));
      const hist = new Float64Array(c.vms.length * 30);
      c.vms.forEach((v, i) => {
        for (let k = 0; k < histLen; k++) hist[i * 30 + k] = (v.hist[k] ?? 5) / 100;
      });
      const snap: ClusterSnapshot = {
        hostCapacityMips: cap,
        hostPeMips: Float64Array.from(lists, (_, h) => (h % 2 ? 2660 : 1860)),
        hostRamMiB: new Float64Array(c.H).fill(4096),
        hostBandwidthMbps: new Float64Array(c.H).fill(1000),
        hostPower: power,
        hostUtilization: util,
        hostPowerNowW: Float64Array.from(util, (u, h) => powerW(power[h]!, u)),
        hostOff: Uint8Array.from(util, (u) => (u === 0 ? 1 : 0)),
        hostBlocked: new Uint8Array(c.H),
        hostVms: lists,
        vmMips: Float64Array.from(c.vms, (v) => v.mips),
        vmRamMiB: Float64Array.from(c.vms, (v) => v.ram),
        vmDemandMips: demand,
        vmMigrating: new Uint8Array(c.vms.length),
        vmHistory: hist,
        vmHistoryLength: new Uint8Array(c.vms.length).fill(histLen),
        historyCapacity: 30,
      };
      const fb = thresholdDetector(0.7);
      const detector: OverloadDetector =
        c.detector === 'thr'
          ? thresholdDetector(0.8)
          : c.detector === 'mad'
            ? madDetector(2.5, fb)
            : regressionDetector(1.2, false, 'cloudsim', fb);
      const selection: VmSelectionPolicy =
        c.selection === 'mmt'
          ? minimumMigrationTime
          : c.selection === 'mu'
            ? minimumUtilization
            : maximumCorrelation(minimumMigrationTime);
      const o: ConsolidationOptions = {
        detector,
        selection,
        random: seededRandom(1),
        ramConstraint: c.ramConstraint,
        excludeOverloadTargets: c.excludeOverloadTargets,
        consolidateIdleHosts: false,
      };
      const want = referencePlan(snap, o);
      // Both host searches (the index is the default): each must give the literal plan.
      for (const hostSearch of ['index', 'scan'] as const)
        assert.deepEqual(
          planConsolidation(snap, { ...o, random: seededRandom(1), hostSearch }).migrations,
          want,
          hostSearch,
        );
    }),
    { numRuns: 400, seed: 2026 },
  );
});
