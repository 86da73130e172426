/**
 * Host memory physics for the simulator: per step, each host's demand (Σ working sets − pages its
 * mergeable VMs share), balloon reclaim of the guests' slack toward their balloon targets with a
 * latency, host swap for what the balloons cannot cover, and the swap's performance penalty (an SLA
 * violation). Also the memory checks the placement variants use. The demand, sharing, overcommit and
 * balloon rules are the control plane's own (policies/memory-overcommit.ts, core/memory/fingerprint.ts).
 *
 * Ballooning: Waldspurger, "Memory resource management in VMware ESX Server", OSDI 2002.
 * Host swapping's cost (the hypervisor cannot tell which guest pages are hot, so it swaps working-set
 * pages too): Amit, Tsafrir, Schuster, "VSwapper: a memory swapper for virtualized environments",
 * ASPLOS 2014.
 */
import { PAGES_PER_MIB, SharingIndex, type PageFingerprint } from '../core/memory/fingerprint.ts';
import {
  admitsMemory,
  balloonTargets,
  sharedMiBWith,
  type MemoryRiskOptions,
  type VmMemory,
} from '../policies/memory-overcommit.ts';

/** How placement counts memory: flavor size (today), working sets at a risk, or that plus sharing. */
export type MemoryPlacement = 'unaware' | 'memory' | 'sharing';

export interface MemoryModelOptions {
  placement: MemoryPlacement;
  /** Risk, headroom and sharing credit of admission and balloon targets (the control plane's). */
  risk: MemoryRiskOptions;
  /** Share of its RAM a guest holds when it starts (page caches fill free memory: 1). */
  initialResidentShare: number;
  /** Seconds before the balloon starts reclaiming after a target drops (the balloon policy's period). */
  balloonDelayS: number;
  /** How fast one guest's balloon inflates, MiB/s. */
  balloonRateMiBps: number;
  /** Slowdown per unit of swapped working-set share (1: a VM with 10 % of its working set swapped runs 10 % slower). */
  swapPenalty: number;
  /** Sharing-aware placement: watts of power increase one GiB of shared pages is worth. */
  sharingWeightWPerGiB: number;
  /** Prior standard deviation of a working set, as a share of the VM's RAM (before it is measured). */
  sdPriorShare: number;
}

/** The VMs' memory: sizes, content, and working set over time. */
export interface MemoryVms {
  ramMiB: Float64Array;
  guaranteedMiB: Float64Array;
  /** Content of the shareable segments (OS image, application), per VM. */
  fingerprints: PageFingerprint[];
  /** 1: the VM's tenant allows merging its pages with others'. */
  mergeable: Uint8Array;
  /** Working set of VM v at time t (s) with CPU utilization u (0..1), MiB (≤ its RAM). */
  workingSetMiB(v: number, t: number, u: number): number;
}

/** Per-step memory series, one value per consolidation step. */
export interface MemorySeries {
  timeS: number[];
  /** Σ working sets − shared pages over the hosts, MiB. */
  demandMiB: number[];
  /** Pages shared by merging, MiB. */
  sharedMiB: number[];
  /** Memory held by balloons, MiB. */
  balloonMiB: number[];
  /** Memory swapped out by the hosts, MiB. */
  swapMiB: number[];
  /** Memory of the hosts that hold VMs, MiB. */
  capacityMiB: number[];
}

export interface MemoryResult {
  placement: MemoryPlacement;
  /** Mean performance lost to host swapping over VM time (like PDM, for swap). */
  slaSwap: number;
  /** Share of VM time with some working set swapped out. */
  swapTimeShare: number;
  meanSharedMiB: number;
  meanSwapMiB: number;
  maxSwapMiB: number;
  meanBalloonMiB: number;
  meanDemandMiB: number;
  series: MemorySeries;
}

/** Memory state and accounting of one simulation run. */
export class MemoryModel {
  /** Current working set per VM, MiB. */
  readonly ws: Float64Array;
  /** Memory the guest holds on its host (its RAM less its balloon), MiB. */
  readonly held: Float64Array;
  private readonly wsT: Float64Array;
  private readonly n: Uint32Array;
  private readonly wsMean: Float64Array;
  private readonly wsM2: Float64Array;
  private readonly vmMem: VmMemory[];
  private lastT = 0;
  private penaltyS = 0;
  private swapVmS = 0;
  private vmS = 0;
  private readonly series: MemorySeries = {
    timeS: [],
    demandMiB: [],
    sharedMiB: [],
    balloonMiB: [],
    swapMiB: [],
    capacityMiB: [],
  };
  private readonly sharedCache = new Map<number, { key: string; sharedMiB: number }>();

  constructor(
    readonly vms: MemoryVms,
    readonly o: MemoryModelOptions,
  ) {
    const V = vms.ramMiB.length;
    this.ws = new Float64Array(V);
    this.held = Float64Array.from(vms.ramMiB, (r) => r * o.initialResidentShare);
    this.wsT = new Float64Array(V).fill(-1);
    this.n = new Uint32Array(V);
    this.wsMean = new Float64Array(V);
    this.wsM2 = new Float64Array(V);
    const withSharing = o.placement === 'sharing';
    this.vmMem = Array.from({ length: V }, (_, v) => ({
      id: String(v),
      memoryMiB: vms.ramMiB[v]!,
      guaranteedMiB: vms.guaranteedMiB[v]!,
      workingSet: { meanMiB: vms.ramMiB[v]!, sdMiB: 0 },
      fingerprint: withSharing ? vms.fingerprints[v] : undefined,
      mergeable: withSharing && vms.mergeable[v] === 1,
    }));
  }

  /** Record VM v's working set at time t (once per time; Welford's running mean and variance). */
  observe(v: number, t: number, u: number): void {
    if (this.wsT[v] === t) return;
    this.wsT[v] = t;
    const w = this.vms.workingSetMiB(v, t, u);
    this.ws[v] = w;
    const k = ++this.n[v]!;
    const d = w - this.wsMean[v]!;
    this.wsMean[v] = this.wsMean[v]! + d / k;
    this.wsM2[v] = this.wsM2[v]! + d * (w - this.wsMean[v]!);
    const sd = Math.max(Math.sqrt(this.wsM2[v]! / k), this.vms.ramMiB[v]! * this.o.sdPriorShare);
    this.vmMem[v]!.workingSet = { meanMiB: this.wsMean[v]!, sdMiB: sd };
  }

  /** VM v as the placement policy sees it (measured working set; content only when sharing-aware). */
  vmMemory(v: number): VmMemory {
    return this.vmMem[v]!;
  }

  /** Whether a host of `capacityMiB` holding `list` admits VM v (the control plane's admission). */
  fits(capacityMiB: number, list: readonly number[], v: number): boolean {
    const cur: VmMemory[] = [];
    for (const x of list) if (x !== v) cur.push(this.vmMem[x]!);
    return admitsMemory(capacityMiB, cur, this.vmMem[v]!, this.o.risk).ok;
  }

  /** Sharing-aware placement's bonus for putting VM v beside `list`, watts (0 unless sharing-aware). */
  sharingBonusW(list: readonly number[], v: number): number {
    if (this.o.placement !== 'sharing' || list.length === 0) return 0;
    const fp = this.vmMem[v]!.fingerprint;
    if (!fp) return 0;
    const idx = new SharingIndex(fp.sampleBits);
    for (const x of list) {
      const m = this.vmMem[x]!;
      if (x !== v && m.mergeable && m.fingerprint) idx.add(m.fingerprint);
    }
    return (sharedMiBWith(idx, this.vmMem[v]!) / 1024) * this.o.sharingWeightWPerGiB;
  }

  /**
   * An upper bound of `sharingBonusW(·, v)` over all hosts, watts: VM v can share at most all its
   * pages (the host index lowers its bounds by this, so it still finds the scan's host).
   */
  maxSharingBonusW(v: number): number {
    if (this.o.placement !== 'sharing') return 0;
    const m = this.vmMem[v]!;
    if (!m.mergeable || !m.fingerprint) return 0;
    return (m.fingerprint.pages / PAGES_PER_MIB / 1024) * this.o.sharingWeightWPerGiB;
  }

  /** Pages the mergeable VMs of a host really share (whatever the placement), MiB. */
  private sharedMiB(h: number, list: readonly number[]): number {
    const key = list.join(',');
    const c = this.sharedCache.get(h);
    if (c?.key === key) return c.sharedMiB;
    const fps: PageFingerprint[] = [];
    for (const v of list) if (this.vms.mergeable[v]) fps.push(this.vms.fingerprints[v]!);
    let shared = 0;
    if (fps.length > 1) {
      const idx = new SharingIndex(Math.max(...fps.map((f) => f.sampleBits)));
      for (const f of fps) idx.add(f);
      shared = idx.estimate().savedPages / PAGES_PER_MIB;
    }
    this.sharedCache.set(h, { key, sharedMiB: shared });
    return shared;
  }

  /**
   * Advance the memory state to time t: `hostVms(h)` lists the VMs resident on host h (each VM on one
   * host), whose working sets were observed at t. The interval since the last step is charged with the
   * state at t (balloons have reclaimed what they could by then).
   */
  step(t: number, hostRamMiB: Float64Array, hostVms: (h: number) => readonly number[]): void {
    const dt = t - this.lastT;
    if (dt <= 0) return;
    this.lastT = t;
    const reclaimMiB = this.o.balloonRateMiBps * Math.max(0, dt - this.o.balloonDelayS);
    let demand = 0,
      sharedAll = 0,
      balloon = 0,
      swapAll = 0,
      cap = 0;
    for (let h = 0; h < hostRamMiB.length; h++) {
      const list = hostVms(h);
      if (list.length === 0) continue;
      const capH = hostRamMiB[h]!;
      cap += capH;
      const shared = this.sharedMiB(h, list);
      // Balloon targets from the current working sets (the host's balloon policy acts on what it measures).
      const now = list.map((v) => ({ ...this.vmMem[v]!, workingSet: { meanMiB: this.ws[v]!, sdMiB: 0 } }));
      const { targets } = balloonTargets(capH, now, this.o.risk);
      let heldSum = 0,
        wsSum = 0;
      list.forEach((v, i) => {
        const target = targets[i]!.targetMiB;
        let m = this.held[v]!;
        // Deflating is immediate; inflating reclaims at most `reclaimMiB` of the guest's slack.
        m = target >= m ? target : Math.max(target, m - reclaimMiB);
        m = Math.min(this.vms.ramMiB[v]!, Math.max(m, this.ws[v]!));
        this.held[v] = m;
        heldSum += m;
        wsSum += this.ws[v]!;
        balloon += this.vms.ramMiB[v]! - m;
      });
      const resident = heldSum - shared;
      const swap = Math.max(0, resident - capH);
      // The host picks victims blind to guest usage: the swapped share hits working sets alike.
      const swappedShare = resident > 0 ? swap / resident : 0;
      const p = Math.min(1, this.o.swapPenalty * swappedShare);
      this.penaltyS += p * dt * list.length;
      if (swap > 0) this.swapVmS += dt * list.length;
      this.vmS += dt * list.length;
      demand += wsSum - shared;
      sharedAll += shared;
      swapAll += swap;
    }
    const s = this.series;
    s.timeS.push(t);
    s.demandMiB.push(demand);
    s.sharedMiB.push(sharedAll);
    s.balloonMiB.push(balloon);
    s.swapMiB.push(swapAll);
    s.capacityMiB.push(cap);
  }

  result(): MemoryResult {
    const s = this.series;
    const avg = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
    return {
      placement: this.o.placement,
      slaSwap: this.vmS > 0 ? this.penaltyS / this.vmS : 0,
      swapTimeShare: this.vmS > 0 ? this.swapVmS / this.vmS : 0,
      meanSharedMiB: avg(s.sharedMiB),
      meanSwapMiB: avg(s.swapMiB),
      maxSwapMiB: Math.max(0, ...s.swapMiB),
      meanBalloonMiB: avg(s.balloonMiB),
      meanDemandMiB: avg(s.demandMiB),
      series: s,
    };
  }
}
