/**
 * The plain PABFD scan (Beloglazov & Buyya, CCPE 2012, Alg. 1, as CloudSim's
 * `PowerVmAllocationPolicyMigrationAbstract#findHostForVm` runs it): evaluate every member host in id
 * order, then ask `accept` in (increase, id) order. Same contract and answers as
 * `PowerIncreaseIndex`, which it backs up as the plain reference. Pure data structure: no I/O, no clock.
 */
import { PowerIncreaseIndex, type HostScorer, type PowerClasses } from './host-index.ts';
import type { PowerModelSpec } from '../../models/power.ts';

/** What a PABFD placement asks of its host set: the index and the scan both answer it. */
export interface HostSearch {
  has(h: number): boolean;
  /** Insert host h, or update it after its allocation changed. */
  set(h: number, allocatedMips: number, availableMips: number, freeRamMiB: number, nowW: number): void;
  delete(h: number): void;
  /**
   * The host with the least (increase, id) among those `s.evaluate` gives a number for (NaN: does not
   * fit) that `s.accept` takes, asking `s.accept` in that order; -1 when none.
   * @param d the VM's demand, MIPS (the index's bounds use it).
   * @param r the VM's RAM, MiB, when RAM is checked, else 0 or -Infinity.
   * @param slackW how far below the power increase `s.evaluate` may go (a placement bonus), W; 0 if absent.
   */
  best(d: number, r: number, s: HostScorer, slackW?: number): number;
  /** Empty it and keep it for reuse; do not use it afterwards. */
  release(): void;
}

/** Which host search PABFD uses (both give the same plan): the index (default) or the plain scan. */
export type HostSearchMode = 'index' | 'scan';

/**
 * An empty host search over `power.length` hosts. The index costs no more than the scan even on
 * small clusters (measured, lr-mmt:1.2, one warm run, CPU-s scan / index: synthetic days of 100
 * hosts 0.074 / 0.066, 400 hosts 0.24 / 0.26, 4,000 hosts 6.7 / 3.9; PlanetLab's 800 hosts in
 * cloudsim mode 0.58 / 0.52, and the same 0.98 CPU-s median for a whole `nubis sim` process); the scan
 * stays as the literal reference the tests compare the index with, and as an option.
 */
export function acquireHostSearch(
  mode: HostSearchMode,
  classes: () => PowerClasses,
  power: readonly PowerModelSpec[],
  peMips: Float64Array,
  ramMiB: Float64Array,
): HostSearch {
  if (mode === 'scan') return HostScan.acquire(power.length);
  return PowerIncreaseIndex.acquire(classes(), power, peMips, ramMiB);
}

/** Released scans for reuse (one is enough: a planning round holds one at a time). */
const spare: HostScan[] = [];

/** Member hosts as flags; a query evaluates all of them in id order. */
export class HostScan implements HostSearch {
  private readonly member: Uint8Array;
  private readonly candHost: Int32Array;
  private readonly candDiff: Float64Array;

  constructor(readonly hostCount: number) {
    this.member = new Uint8Array(hostCount);
    this.candHost = new Int32Array(hostCount);
    this.candDiff = new Float64Array(hostCount);
  }

  /** An empty scan over H hosts, reusing the one last released when it has that size. */
  static acquire(H: number): HostScan {
    const s = spare.pop();
    return s && s.hostCount === H ? s : new HostScan(H);
  }

  release(): void {
    this.member.fill(0);
    spare.length = 0;
    spare.push(this);
  }

  has(h: number): boolean {
    return this.member[h] === 1;
  }

  set(h: number): void {
    this.member[h] = 1;
  }

  delete(h: number): void {
    this.member[h] = 0;
  }

  best(_d: number, _r: number, s: HostScorer): number {
    const { member, candHost, candDiff } = this;
    let n = 0;
    for (let h = 0; h < this.hostCount; h++) {
      if (!member[h]) continue;
      const diff = s.evaluate(h);
      if (diff !== diff) continue;
      candHost[n] = h;
      candDiff[n++] = diff;
    }
    for (;;) {
      let k = -1;
      for (let i = 0; i < n; i++) {
        if (candHost[i]! < 0) continue;
        if (k < 0 || candDiff[i]! < candDiff[k]!) k = i; // in id order: ties keep the lowest id
      }
      if (k < 0) return -1;
      const h = candHost[k]!;
      if (s.accept(h)) return h;
      candHost[k] = -1;
    }
  }
}
