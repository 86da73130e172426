/**
 * A mutable copy of a cluster's placement on which a consolidation policy tries moves before it
 * commits to a plan (CloudSim's save/trial/restore allocation, done on a copy instead).
 * Pure data structure: no I/O, no clock.
 */
import { shareCpu } from '../../models/cpu-share.ts';
import type { PowerModelSpec } from '../../models/power.ts';
import type { HostLoadView } from '../overload.ts';
import type { VmSelectionView } from '../selection.ts';

/** The state a planner starts from. Arrays are indexed by host id or VM id. */
export interface ClusterSnapshot {
  hostCapacityMips: Float64Array;
  hostPeMips: Float64Array;
  hostRamMiB: Float64Array;
  hostBandwidthMbps: Float64Array;
  hostPower: readonly PowerModelSpec[];
  /** Measured CPU utilization at the last update (fraction). */
  hostUtilization: Float64Array;
  /** Power the host draws now, W (CloudSim: P(measured utilization) even for an empty host). */
  hostPowerNowW: Float64Array;
  /** 1 when the host is switched off (or in a power transition) and may only be used to add capacity. */
  hostOff: Uint8Array;
  /** 1 when the host may not receive VMs at all (failed, maintenance, shutting down). */
  hostBlocked: Uint8Array;
  /** VMs on each host, in the host's order. Copied, not modified. */
  hostVms: readonly (readonly number[])[];
  vmMips: Float64Array;
  vmRamMiB: Float64Array;
  vmDemandMips: Float64Array;
  /** 1 when the VM is migrating (it may not be selected). */
  vmMigrating: Uint8Array;
  /** Utilization histories: `historyCapacity` values per VM, newest first. */
  vmHistory: Float64Array;
  vmHistoryLength: Uint8Array;
  historyCapacity: number;
}

/**
 * Trial placement with per-host caches (allocated MIPS, free MIPS, requested MIPS, history sum),
 * each recomputed in list order when the host's list changes so sums match a sequential sum.
 */
export class TrialCluster implements VmSelectionView {
  readonly hostCount: number;
  readonly lists: number[][];
  private readonly dirty: Uint8Array;
  private readonly allocSum: Float64Array;
  private readonly available: Float64Array;
  private readonly reqSum: Float64Array;
  private readonly ramUsed: Float64Array;
  private readonly maxRam: Float64Array;
  /** Per host, the sum of its VMs' utilization histories (allocated when first asked for). */
  private readonly histSum: (Float64Array | undefined)[];
  private readonly histDirty: Uint8Array;
  private scratchDemand = new Float64Array(64);
  private scratchRoles = new Uint8Array(64);
  private scratchAlloc = new Float64Array(64);
  private readonly view: HostLoadView & { host: number; extraVm: number };
  private readonly histOut: Float64Array;
  readonly ramMiB: Float64Array;
  readonly mips: Float64Array;
  readonly demandMips: Float64Array;

  constructor(readonly snap: ClusterSnapshot) {
    this.hostCount = snap.hostCapacityMips.length;
    this.lists = snap.hostVms.map((l) => l.slice());
    const H = this.hostCount;
    this.dirty = new Uint8Array(H).fill(1);
    this.allocSum = new Float64Array(H);
    this.available = new Float64Array(H);
    this.reqSum = new Float64Array(H);
    this.ramUsed = new Float64Array(H);
    this.maxRam = new Float64Array(H);
    this.histSum = new Array<Float64Array | undefined>(H);
    this.histDirty = new Uint8Array(H).fill(1);
    this.histOut = new Float64Array(snap.historyCapacity);
    this.ramMiB = snap.vmRamMiB;
    this.mips = snap.vmMips;
    this.demandMips = snap.vmDemandMips;
    const view = {
      host: -1,
      extraVm: -1,
      capacityMips: 0,
      requestedMips: 0,
      maxVmRamMiB: 0,
      bandwidthMbps: 0,
      history: () => this.hostHistory(view.host, view.extraVm),
    };
    this.view = view;
  }

  /** VM v's history, newest first. */
  history(v: number): Float64Array {
    const c = this.snap.historyCapacity;
    return this.snap.vmHistory.subarray(v * c, v * c + this.snap.vmHistoryLength[v]!);
  }

  add(h: number, v: number): void {
    this.lists[h]!.push(v);
    this.dirty[h] = 1;
    this.histDirty[h] = 1;
  }

  /** Remove the last occurrence of v from host h's list. */
  remove(h: number, v: number): void {
    const l = this.lists[h]!;
    const i = l.lastIndexOf(v);
    if (i < 0) throw new RangeError(`VM ${v} is not on host ${h}`);
    l.splice(i, 1);
    this.dirty[h] = 1;
    this.histDirty[h] = 1;
  }

  private refresh(h: number): void {
    if (!this.dirty[h]) return;
    const l = this.lists[h]!;
    const n = l.length;
    if (this.scratchDemand.length < n) {
      this.scratchDemand = new Float64Array(n * 2);
      this.scratchRoles = new Uint8Array(n * 2);
      this.scratchAlloc = new Float64Array(n * 2);
    }
    let req = 0,
      ram = 0,
      maxRam = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = l[i]!;
      const d = this.snap.vmDemandMips[v]!;
      this.scratchDemand[i] = d;
      this.scratchRoles[i] = 0;
      req += d;
      const r = this.snap.vmRamMiB[v]!;
      ram += r;
      if (r > maxRam) maxRam = r;
    }
    const res = shareCpu(
      this.scratchAlloc,
      n,
      this.scratchDemand,
      this.scratchRoles,
      this.snap.hostCapacityMips[h]!,
      this.snap.hostPeMips[h]!,
    );
    let alloc = 0;
    for (let i = 0; i < n; i++) alloc += this.scratchAlloc[i]!;
    this.allocSum[h] = alloc;
    this.available[h] = res.availableMips;
    this.reqSum[h] = req;
    this.ramUsed[h] = ram;
    this.maxRam[h] = maxRam;
    this.dirty[h] = 0;
  }

  /** Sum of the MIPS allocated on host h (CloudSim `getUtilizationOfCpuMips`). */
  allocatedMips(h: number): number {
    this.refresh(h);
    return this.allocSum[h]!;
  }
  /** Free MIPS on host h (0 when oversubscribed). */
  availableMips(h: number): number {
    this.refresh(h);
    return this.available[h]!;
  }
  requestedMips(h: number): number {
    this.refresh(h);
    return this.reqSum[h]!;
  }
  freeRamMiB(h: number): number {
    this.refresh(h);
    return this.snap.hostRamMiB[h]! - this.ramUsed[h]!;
  }

  /**
   * Host utilization history (newest first, trailing zeros trimmed as CloudSim's `trimZeroTail`:
   * an all-zero history becomes [0]), optionally with VM `extra` added at the end of the list.
   */
  hostHistory(h: number, extra = -1): Float64Array {
    const c = this.snap.historyCapacity;
    const cap = this.snap.hostCapacityMips[h]!;
    let sum = this.histSum[h];
    if (sum === undefined) this.histSum[h] = sum = new Float64Array(c);
    if (this.histDirty[h]) {
      sum.fill(0);
      for (const v of this.lists[h]!) this.addHistory(sum, 0, v, cap);
      this.histDirty[h] = 0;
    }
    const out = this.histOut;
    out.set(sum);
    if (extra >= 0) this.addHistory(out, 0, extra, cap);
    let i = c - 1;
    while (i >= 0) {
      if (out[i--] !== 0) break;
    }
    return out.subarray(0, i + 2);
  }

  private addHistory(target: Float64Array, base: number, v: number, cap: number): void {
    const c = this.snap.historyCapacity;
    const len = this.snap.vmHistoryLength[v]!;
    const mips = this.snap.vmMips[v]!;
    const hv = this.snap.vmHistory;
    for (let i = 0; i < len; i++) target[base + i] = target[base + i]! + (hv[v * c + i]! * mips) / cap;
  }

  /** A load view of host h (with VM `extra` tentatively added when >= 0). Reused: do not keep it. */
  loadView(h: number, extra = -1): HostLoadView {
    this.refresh(h);
    const w = this.view;
    w.host = h;
    w.extraVm = extra;
    w.capacityMips = this.snap.hostCapacityMips[h]!;
    w.bandwidthMbps = this.snap.hostBandwidthMbps[h]!;
    if (extra >= 0) {
      w.requestedMips = this.reqSum[h]! + this.snap.vmDemandMips[extra]!;
      w.maxVmRamMiB = Math.max(this.maxRam[h]!, this.snap.vmRamMiB[extra]!);
    } else {
      w.requestedMips = this.reqSum[h]!;
      w.maxVmRamMiB = this.maxRam[h]!;
    }
    return w;
  }
}
