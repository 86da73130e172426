/**
 * Trace-driven discrete-event simulation of a data center under dynamic VM consolidation.
 *
 * `mode: 'cloudsim'` follows CloudSim 4.0's PowerDatacenter event by event (steps at 300k + 0.1 s,
 * host updates at migration starts and completions, its energy and metric rules, quirks Q1–Q17 of
 * the reference spec). `mode: 'default'` runs the same policies with those quirks fixed (see
 * docs/simulator.md). Both call the planner in `policies/`, the same code the control plane uses.
 */
import { shareCpu, VmRole } from '../models/cpu-share.ts';
import { maxPowerW, powerW, type PowerModelSpec } from '../models/power.ts';
import {
  planConsolidation,
  type ConsolidationStats,
  type PlannedMigration,
} from '../policies/consolidation/beloglazov.ts';
import { powerClasses } from '../policies/consolidation/host-index.ts';
import { acquireHostSearch, type HostSearchMode } from '../policies/consolidation/host-scan.ts';
import type { ClusterSnapshot } from '../policies/consolidation/trial-cluster.ts';
import type { OverloadDetector } from '../policies/overload.ts';
import type { VmSelectionPolicy } from '../policies/selection.ts';
import { SimClock } from '../runtime/clock.ts';
import type { Random } from '../runtime/random.ts';
import type { MemoryModel, MemoryResult } from './memory-model.ts';
import { mean, StateMetrics, stdev } from './metrics.ts';
import { utilizationAt, type Workload } from './workload.ts';

export type SimMode = 'cloudsim' | 'default';

/** A resolved consolidation policy (see `policies/registry.ts`). */
export type SimPolicy =
  | { kind: 'migration'; detector: OverloadDetector; selection: VmSelectionPolicy }
  | { kind: 'npa' }
  | { kind: 'dvfs' }
  /**
   * A planner that sees the cluster at each step and returns its migrations (the optimizer, built
   * with its solver by the composition root, src/sim/run.ts); `detector` places the VMs at t = 0.
   */
  | {
      kind: 'planner';
      detector: OverloadDetector;
      plan: (snapshot: ClusterSnapshot, t: number) => PlannedMigration[];
    };

/** Migration duration model: seconds to migrate a VM of `ramMiB` using `utilization` of its CPU to a host with `bandwidthMbps`. */
export type MigrationTimeModel = (ramMiB: number, bandwidthMbps: number, utilization: number) => number;

export interface SimHosts {
  capacityMips: Float64Array;
  peMips: Float64Array;
  ramMiB: Float64Array;
  bandwidthMbps: Float64Array;
  power: PowerModelSpec[];
}

export interface SimVms {
  mips: Float64Array;
  ramMiB: Float64Array;
  bandwidthMbps: Float64Array;
}

export interface SimInput {
  mode: SimMode;
  hosts: SimHosts;
  vms: SimVms;
  workload: Workload;
  policy: SimPolicy;
  stepS: number;
  durationS: number;
  random: Random;
  /** Default mode: power transitions. */
  powerOnS: number;
  powerOffS: number;
  /** Power drawn during a transition, as a fraction of the host's peak power. */
  transitionPowerShare: number;
  migrationTime: MigrationTimeModel;
  pue: number;
  historyLength: number;
  /** How PABFD finds hosts (placement at t = 0 and consolidation); default `index`, same results. */
  hostSearch?: HostSearchMode;
  /**
   * The memory model (src/sim/memory-model.ts): working sets, sharing, balloons, swap; and, unless its
   * placement is `unaware`, the memory check of placement and consolidation. Absent: RAM = flavor size.
   */
  memory?: MemoryModel;
  /** Called after every step with the step index and the total. */
  onStep?: (step: number, total: number) => void;
}

/** Per-step series (one value per consolidation step), for plots and CSV. */
export interface SimSeries {
  timeS: number[];
  activeHosts: number[];
  powerW: number[];
  /** Share of active hosts whose VMs get less CPU than they ask for, at the step. */
  slaViolation: number[];
  migrations: number[];
  energyKWh: number[];
}

export interface SimResult {
  hosts: number;
  vms: number;
  energyKWh: number;
  facilityEnergyKWh: number;
  migrations: number;
  slatah: number;
  pdm: number;
  slav: number;
  esv: number;
  overallSlaViolation: number;
  averageSlaViolation: number;
  hostShutdowns: number;
  meanTimeBeforeShutdownS: number;
  stdevTimeBeforeShutdownS: number;
  meanMigrationTimeS: number;
  stdevMigrationTimeS: number;
  vmsRemoved: number;
  steps: number;
  detectorCalls: number;
  series: SimSeries;
  /** With a memory model: swap-induced SLA (in `slav` too), sharing, balloons and swap. */
  memory?: MemoryResult;
}

const HOST_ON = 1,
  HOST_OFF = 0,
  HOST_BOOTING = 2,
  HOST_SHUTTING = 3;

/** Run one simulation. Deterministic for a given input and seed. */
export function simulate(input: SimInput): SimResult {
  return new DatacenterSim(input).run();
}

export class DatacenterSim {
  private readonly cs: boolean;
  private readonly H: number;
  private readonly V: number;
  private readonly clock = new SimClock(0);
  readonly lists: number[][];
  private readonly migIn: number[][];
  private readonly utilMips: Float64Array;
  private readonly prevUtilMips: Float64Array;
  private readonly hostState: Uint8Array;
  private readonly vmHost: Int32Array;
  private readonly vmAlive: Uint8Array;
  private readonly vmInMig: Uint8Array;
  private readonly demand: Float64Array;
  private readonly beingInstantiated: Uint8Array;
  private readonly hist: Float64Array;
  private readonly histLen: Uint8Array;
  private readonly histPrevT: Float64Array;
  private readonly metrics: StateMetrics;
  private lastProcessT = 0;
  private energyJ = 0;
  private migrations = 0;
  private powerOffs = 0;
  private removed = 0;
  private detectorCalls = 0;
  /** Hosts whose power state changed since the last full update. */
  private readonly stateChanged = new Set<number>();
  private demandT = -1;
  private scratchD = new Float64Array(16);
  private scratchR = new Uint8Array(16);
  private scratchA = new Float64Array(16);
  private readonly series: SimSeries = {
    timeS: [],
    activeHosts: [],
    powerW: [],
    slaViolation: [],
    migrations: [],
    energyKWh: [],
  };

  constructor(private readonly input: SimInput) {
    this.cs = input.mode === 'cloudsim';
    this.H = input.hosts.capacityMips.length;
    this.V = input.vms.mips.length;
    const H = this.H,
      V = this.V;
    this.lists = Array.from({ length: H }, () => []);
    this.migIn = Array.from({ length: H }, () => []);
    this.utilMips = new Float64Array(H);
    this.prevUtilMips = new Float64Array(H);
    this.hostState = new Uint8Array(H).fill(this.cs ? HOST_ON : HOST_OFF);
    this.vmHost = new Int32Array(V).fill(-1);
    this.vmAlive = new Uint8Array(V);
    this.vmInMig = new Uint8Array(V);
    this.demand = new Float64Array(V);
    this.beingInstantiated = new Uint8Array(V);
    this.hist = new Float64Array(V * input.historyLength);
    this.histLen = new Uint8Array(V);
    this.histPrevT = new Float64Array(V);
    this.metrics = new StateMetrics(H, V);
  }

  run(): SimResult {
    const { input } = this;
    this.placeInitial();
    // Default mode records the state right after placement, so the first interval starts from it
    // (CloudSim has no update before its first step: that interval costs nothing, quirk Q14).
    if (!this.cs) this.fullUpdate(0);
    const offset = this.cs ? 0.1 : 0;
    const total = Math.max(0, Math.ceil((input.durationS - offset) / input.stepS) - 1);
    let stepIdx = 0;
    const step = (): void => {
      const t = this.clock.now();
      this.fullUpdate(t);
      this.memoryStep(t);
      const consolidates = input.policy.kind === 'migration' || input.policy.kind === 'planner';
      const started = consolidates ? this.consolidate(t) : 0;
      this.recordSeries(t, started);
      stepIdx++;
      input.onStep?.(stepIdx, total);
      this.clock.schedule(input.stepS, step);
    };
    // CloudSim: cloudlets arrive at 0.1 s and the first step is 300 s later (quirk Q14).
    this.clock.scheduleAt(offset + input.stepS, step);
    this.clock.runBefore(input.durationS);
    if (!this.cs) {
      // Default mode closes the books at the end of the run.
      this.clock.advanceTo(input.durationS);
      this.fullUpdate(input.durationS);
      this.memoryStep(input.durationS);
    }
    this.metrics.finish();
    const m = this.metrics;
    const energyKWh = this.energyJ / 3.6e6;
    const slatah = m.slatah(),
      pdm = m.pdm();
    const shutdownTimes = m.timesBeforeShutdownS();
    const migTimes = m.migrationDurationsS();
    const memory = input.memory?.result();
    return {
      hosts: this.H,
      vms: this.V,
      energyKWh,
      facilityEnergyKWh: energyKWh * input.pue,
      migrations: this.migrations,
      slatah,
      pdm,
      // With memory: the swap-induced degradation adds to SLATAH × PDM.
      slav: slatah * pdm + (memory?.slaSwap ?? 0),
      esv: energyKWh * slatah * pdm,
      overallSlaViolation: m.overallSlaViolation(),
      averageSlaViolation: m.averageSlaViolation(),
      // CloudSim counts active → inactive transitions of its host histories; default mode counts power-offs.
      hostShutdowns: this.cs ? m.hostShutdowns : this.powerOffs,
      meanTimeBeforeShutdownS: mean(shutdownTimes),
      stdevTimeBeforeShutdownS: stdev(shutdownTimes),
      meanMigrationTimeS: mean(migTimes),
      stdevMigrationTimeS: stdev(migTimes),
      vmsRemoved: this.removed,
      steps: stepIdx,
      detectorCalls: this.detectorCalls,
      series: this.series,
      ...(memory ? { memory } : {}),
    };
  }

  // ---- initial placement -------------------------------------------------------------------

  placeInitial(): void {
    const { input } = this;
    const { hosts, vms, policy } = input;
    const baseline = policy.kind === 'npa' || policy.kind === 'dvfs';
    const mem = this.memoryAware();
    if (input.memory)
      for (let v = 0; v < this.V; v++) input.memory.observe(v, 0, utilizationAt(input.workload, v, 0));
    // Memory-aware: admission by working sets at a risk instead of flavor RAM (memory-model.ts).
    const ramFits = (h: number, v: number): boolean =>
      mem ? mem.fits(hosts.ramMiB[h]!, this.lists[h]!, v) : ramFree[h]! >= vms.ramMiB[v]!;
    const ramFree = Float64Array.from(hosts.ramMiB);
    const bwFree = Float64Array.from(hosts.bandwidthMbps);
    const allocFull = new Float64Array(this.H); // MIPS held by created VMs (full size at creation)
    const cur = { v: 0, need: 0, d: 0, size: 0 };
    const nowW = (h: number): number =>
      this.cs || this.lists[h]!.length > 0 ? powerW(hosts.power[h]!, 0) : 0;
    const index = baseline
      ? undefined
      : acquireHostSearch(
          input.hostSearch ?? 'index',
          () => powerClasses(hosts.power, hosts.capacityMips),
          hosts.power,
          hosts.peMips,
          hosts.ramMiB,
        );
    const setHost = (h: number): void =>
      index!.set(h, allocFull[h]!, hosts.capacityMips[h]! - allocFull[h]!, ramFree[h]!, nowW(h));
    if (index) for (let h = 0; h < this.H; h++) setHost(h);
    const evaluate = (h: number): number => {
      const { v, need } = cur;
      if (!(
        hosts.peMips[h]! >= need &&
        hosts.capacityMips[h]! - allocFull[h]! >= need &&
        bwFree[h]! >= vms.bandwidthMbps[v]! &&
        ramFits(h, v)
      ))
        return NaN;
      const inc =
        powerW(hosts.power[h]!, Math.min(1, (allocFull[h]! + need) / hosts.capacityMips[h]!)) - nowW(h);
      return mem ? inc - mem.sharingBonusW(this.lists[h]!, v) : inc;
    };
    const zeroHistory = () => new Float64Array([0]);
    const accept = (h: number): boolean => {
      if (allocFull[h] === 0) return true;
      const { v, d, size } = cur;
      const view = {
        capacityMips: hosts.capacityMips[h]!,
        requestedMips: this.cs ? size : this.hostDemand(h) + d,
        history: zeroHistory,
        maxVmRamMiB: vms.ramMiB[v]!,
        bandwidthMbps: hosts.bandwidthMbps[h]!,
      };
      this.detectorCalls++;
      return !(policy as { detector: OverloadDetector }).detector(view);
    };
    for (let v = 0; v < this.V; v++) {
      // CloudSim: a VM being created asks for its full MIPS, RAM and BW.
      const d = this.cs ? vms.mips[v]! : utilizationAt(input.workload, v, 0) * vms.mips[v]!;
      const size = vms.mips[v]!;
      // Baselines reserve the full VM size (no CPU overcommit); consolidation in default mode
      // places by current demand.
      const need = this.cs || baseline ? size : d;
      let best = -1;
      const suitable = (h: number): boolean =>
        hosts.peMips[h]! >= need &&
        hosts.capacityMips[h]! - allocFull[h]! >= need &&
        bwFree[h]! >= vms.bandwidthMbps[v]! &&
        ramFits(h, v);
      if (policy.kind === 'npa' || policy.kind === 'dvfs') {
        // NPA and DVFS: first fit (CloudSim `PowerVmAllocationPolicySimple`).
        for (let h = 0; h < this.H && best < 0; h++) if (suitable(h)) best = h;
      } else {
        // PABFD with the state of t = 0: created VMs report no demand yet, hosts are at P(0).
        // Rank by power increase, then run the detector in that order (same winner as CloudSim's scan),
        // reading only the hosts the index cannot rule out.
        cur.v = v;
        cur.need = need;
        cur.d = d;
        cur.size = size;
        // The sharing bonus lowers scores by at most maxSharingBonusW: the index's bounds by as much.
        const slackW = mem ? mem.maxSharingBonusW(v) : 0;
        best = index!.best(need, mem ? -Infinity : vms.ramMiB[v]!, { evaluate, accept }, slackW);
      }
      if (best < 0)
        throw new PlacementError(
          `Cannot place VM ${v} (${input.workload.names[v] ?? v}) at t = 0: no host has room for ${size} MIPS and ${vms.ramMiB[v]} MiB`,
        );
      this.lists[best]!.push(v);
      this.vmHost[v] = best;
      this.vmAlive[v] = 1;
      this.demand[v] = d;
      allocFull[best] = allocFull[best]! + (this.cs ? size : Math.min(need, hosts.peMips[best]!));
      ramFree[best] = ramFree[best]! - vms.ramMiB[v]!;
      bwFree[best] = bwFree[best]! - vms.bandwidthMbps[v]!;
      if (!this.cs) this.hostState[best] = HOST_ON;
      this.beingInstantiated[v] = 0;
      if (index) setHost(best);
    }
    index?.release();
  }

  /** The memory model when placement counts memory (not `unaware`). */
  private memoryAware(): MemoryModel | undefined {
    const m = this.input.memory;
    return m && m.o.placement !== 'unaware' ? m : undefined;
  }

  /** Observe every live VM's working set at t and advance the hosts' memory physics. */
  private memoryStep(t: number): void {
    const m = this.input.memory;
    if (!m) return;
    for (let v = 0; v < this.V; v++)
      if (this.vmAlive[v]) m.observe(v, t, this.demand[v]! / this.input.vms.mips[v]!);
    // A VM migrating in is listed on its target too: count it on the host it runs on.
    m.step(t, this.input.hosts.ramMiB, (h) => this.lists[h]!.filter((v) => this.vmHost[v] === h));
  }

  private hostDemand(h: number): number {
    let s = 0;
    for (const v of this.lists[h]!) s += this.demand[v]!;
    return s;
  }

  // ---- updates -----------------------------------------------------------------------------

  /** Re-evaluate every live VM's demand at t; record VM utilization history on step times. */
  private refreshDemand(t: number): void {
    if (this.demandT === t) return;
    this.demandT = t;
    const { input } = this;
    const L = input.historyLength;
    // CloudSim records history only where (t − 0.1) % 300 == 0 in floating point.
    const onGrid = this.cs ? (t - 0.1) % input.stepS === 0 : true;
    for (let v = 0; v < this.V; v++) {
      if (!this.vmAlive[v]) continue;
      const u = utilizationAt(input.workload, v, t);
      this.demand[v] = u * input.vms.mips[v]!;
      if (onGrid && t > this.histPrevT[v]!) {
        const b = v * L;
        this.hist.copyWithin(b + 1, b, b + L - 1);
        this.hist[b] = u;
        if (this.histLen[v]! < L) this.histLen[v]!++;
        this.histPrevT[v] = t;
      }
    }
  }

  /** CloudSim `HostDynamicWorkload#updateVmsProcessing` for host h at time t. */
  private updateHost(h: number, t: number): void {
    const list = this.lists[h]!;
    const n = list.length;
    if (this.scratchD.length < n) {
      this.scratchD = new Float64Array(2 * n);
      this.scratchR = new Uint8Array(2 * n);
      this.scratchA = new Float64Array(2 * n);
    }
    const mIn = this.migIn[h]!;
    for (let i = 0; i < n; i++) {
      const v = list[i]!;
      this.scratchD[i] = this.demand[v]!;
      this.scratchR[i] =
        mIn.length > 0 && mIn.includes(v)
          ? VmRole.migratingIn
          : this.vmInMig[v]
            ? VmRole.migratingOut
            : VmRole.normal;
    }
    shareCpu(
      this.scratchA,
      n,
      this.scratchD,
      this.scratchR,
      this.input.hosts.capacityMips[h]!,
      this.input.hosts.peMips[h]!,
    );
    this.prevUtilMips[h] = this.utilMips[h]!;
    let util = 0,
      req = 0,
      ownAlloc = 0,
      ownReq = 0;
    for (let i = 0; i < n; i++) {
      const v = list[i]!;
      let a = this.scratchA[i]!;
      const r = this.scratchD[i]!;
      if (this.scratchR[i] !== VmRole.migratingIn) {
        this.metrics.vm(v, t, a, r, this.scratchR[i] === VmRole.migratingOut);
        if (this.vmInMig[v]) a /= 0.9;
        ownAlloc += a;
        ownReq += r;
      }
      util += a;
      req += r;
    }
    this.utilMips[h] = util;
    if (this.cs) this.metrics.host(h, t, util, req, util > 0);
    // Default mode: a host is active while it is on; VMs migrating in do not count as its SLA violation.
    else this.metrics.host(h, t, ownAlloc, ownReq, this.hostState[h] === HOST_ON);
  }

  private utilization(h: number, mips: number): number {
    const u = mips / this.input.hosts.capacityMips[h]!;
    return u > 1 && u < 1.01 ? 1 : u;
  }

  /** CloudSim `updateCloudetProcessingWithoutSchedulingFutureEventsForce`. */
  private fullUpdate(t: number): void {
    this.refreshDemand(t);
    this.stateChanged.clear();
    for (let h = 0; h < this.H; h++) this.updateHost(h, t);
    const dt = t - this.lastProcessT;
    if (dt > 0) {
      const P = this.input.hosts.power;
      if (this.input.policy.kind === 'npa') {
        // Non-power-aware: every host at peak power all the time.
        for (let h = 0; h < this.H; h++) this.energyJ += maxPowerW(P[h]!) * dt;
      } else {
        for (let h = 0; h < this.H; h++) {
          const from = this.utilization(h, this.prevUtilMips[h]!);
          const to = this.utilization(h, this.utilMips[h]!);
          if (this.cs) {
            if (from === 0) continue; // a host with no load at the start of the interval is off (Q4)
            const pf = powerW(P[h]!, from),
              pt = powerW(P[h]!, to);
            this.energyJ += (pf + (pt - pf) / 2) * dt;
          } else if (this.hostState[h] === HOST_ON) {
            this.energyJ += ((powerW(P[h]!, Math.min(1, from)) + powerW(P[h]!, Math.min(1, to))) / 2) * dt;
          }
        }
      }
    }
    // Q1: a VM (not migrating) whose demand is exactly 0 is finished and removed for good.
    if (this.cs) for (let h = 0; h < this.H; h++) this.removeFinished(h);
    this.lastProcessT = t;
  }

  private removeFinished(h: number): void {
    const list = this.lists[h]!;
    for (let i = 0; i < list.length; i++) {
      const v = list[i]!;
      if (this.vmInMig[v] || this.demand[v] !== 0) continue;
      this.removeFromList(this.vmHost[v]!, v);
      if (this.vmHost[v] === h) i--;
      this.vmHost[v] = -1;
      this.vmAlive[v] = 0;
      this.removed++;
    }
  }

  /**
   * A full update again at the instant of the last one, after only `hosts` changed (their lists or
   * power state): every other host would record exactly what it recorded then, so it is skipped.
   */
  private updateChanged(t: number, hosts: Set<number>): void {
    for (const h of this.stateChanged) hosts.add(h);
    this.stateChanged.clear();
    const order = [...hosts].sort((a, b) => a - b);
    for (const h of order) this.updateHost(h, t);
    if (this.cs) for (const h of order) this.removeFinished(h);
  }

  private removeFromList(h: number, v: number): void {
    const l = this.lists[h]!;
    const i = l.indexOf(v);
    if (i >= 0) l.splice(i, 1);
  }

  // ---- consolidation -----------------------------------------------------------------------

  private snapshot(): ClusterSnapshot {
    const { hosts, vms } = this.input;
    const H = this.H;
    const util = new Float64Array(H);
    const nowW = new Float64Array(H);
    const off = new Uint8Array(H);
    const blocked = new Uint8Array(H);
    for (let h = 0; h < H; h++) {
      util[h] = this.utilization(h, this.utilMips[h]!);
      if (this.cs) {
        nowW[h] = powerW(hosts.power[h]!, Math.min(1, util[h]!));
        off[h] = util[h] === 0 ? 1 : 0;
      } else {
        const s = this.hostState[h];
        off[h] = s === HOST_ON ? 0 : 1;
        blocked[h] = s === HOST_BOOTING || s === HOST_SHUTTING ? 1 : 0;
        nowW[h] = s === HOST_ON ? powerW(hosts.power[h]!, Math.min(1, util[h]!)) : 0;
      }
    }
    return {
      hostCapacityMips: hosts.capacityMips,
      hostPeMips: hosts.peMips,
      hostRamMiB: hosts.ramMiB,
      hostBandwidthMbps: hosts.bandwidthMbps,
      hostPower: hosts.power,
      hostUtilization: util,
      hostPowerNowW: nowW,
      hostOff: off,
      hostBlocked: blocked,
      hostVms: this.lists,
      vmMips: vms.mips,
      vmRamMiB: vms.ramMiB,
      vmDemandMips: this.demand,
      vmMigrating: this.vmInMig,
      vmHistory: this.hist,
      vmHistoryLength: this.histLen,
      historyCapacity: this.input.historyLength,
    };
  }

  private consolidate(t: number): number {
    const policy = this.input.policy;
    let migrations: PlannedMigration[];
    if (policy.kind === 'planner') migrations = policy.plan(this.snapshot(), t);
    else if (policy.kind === 'migration') {
      const mem = this.memoryAware();
      const ramMiB = this.input.hosts.ramMiB;
      const r = planConsolidation(this.snapshot(), {
        detector: policy.detector,
        selection: policy.selection,
        random: this.input.random,
        // Memory-aware: the target's memory admission replaces the flavor-RAM check.
        ramConstraint: !this.cs && !mem,
        extraFits: mem ? (tc, h, v) => mem.fits(ramMiB[h]!, tc.lists[h]!, v) : undefined,
        // Sharing-aware: PABFD's power increase less the pages the VM would share there, in watts.
        placementBonus:
          mem?.o.placement === 'sharing'
            ? {
                bonusW: (tc, h, v) => mem.sharingBonusW(tc.lists[h]!, v),
                maxBonusW: (v) => mem.maxSharingBonusW(v),
              }
            : undefined,
        excludeOverloadTargets: !this.cs,
        consolidateIdleHosts: !this.cs,
        hostSearch: this.input.hostSearch,
      });
      this.addStats(r.stats);
      migrations = r.migrations;
    } else return 0;
    // Group completions by time, in plan order (CloudSim's event queue order).
    const groups = new Map<number, { vm: number; to: number }[]>();
    for (const m of migrations) {
      let start = t;
      if (!this.cs && this.hostState[m.to] === HOST_OFF) {
        this.hostState[m.to] = HOST_BOOTING;
        this.stateChanged.add(m.to);
        this.energyJ +=
          this.input.powerOnS * this.input.transitionPowerShare * maxPowerW(this.input.hosts.power[m.to]!);
        const h = m.to;
        this.clock.schedule(this.input.powerOnS, () => {
          this.hostState[h] = HOST_ON;
          this.stateChanged.add(h);
        });
      }
      if (!this.cs && this.hostState[m.to] === HOST_BOOTING) start = t + this.input.powerOnS;
      if (start === t) this.startMigration(m.vm, m.to, t);
      else this.clock.scheduleAt(start, () => this.startMigration(m.vm, m.to, start));
      const end =
        start +
        this.input.migrationTime(
          this.input.vms.ramMiB[m.vm]!,
          this.input.hosts.bandwidthMbps[m.to]!,
          this.demand[m.vm]! / this.input.vms.mips[m.vm]!,
        );
      let g = groups.get(end);
      if (!g) {
        g = [];
        groups.set(end, g);
        const group = g;
        this.clock.scheduleAt(end, () => this.completeMigrations(end, group));
      }
      g.push({ vm: m.vm, to: m.to });
    }
    return migrations.length;
  }

  private addStats(s: ConsolidationStats): void {
    this.detectorCalls += s.detectorCalls;
  }

  /** CloudSim `Host#addMigratingInVm` plus the updates it triggers on target and source. */
  private startMigration(v: number, to: number, t: number): void {
    this.migrations++;
    this.vmInMig[v] = 1;
    if (!this.migIn[to]!.includes(v)) {
      this.migIn[to]!.push(v);
      this.lists[to]!.push(v);
      this.updateHost(to, t);
      if (this.vmHost[v]! >= 0) this.updateHost(this.vmHost[v]!, t);
    }
  }

  /** CloudSim `PowerDatacenter#processVmMigrate` for every migration finishing at time t. */
  private completeMigrations(t: number, group: { vm: number; to: number }[]): void {
    if (t > this.lastProcessT) this.fullUpdate(t);
    const sources = new Set<number>();
    const changed = new Set<number>();
    for (const { vm, to } of group) {
      const from = this.vmHost[vm]!;
      if (from >= 0) {
        this.removeFromList(from, vm);
        sources.add(from);
      }
      const mi = this.migIn[to]!;
      const k = mi.indexOf(vm);
      if (k >= 0) mi.splice(k, 1);
      this.removeFromList(to, vm);
      this.vmInMig[vm] = 0;
      this.lists[to]!.push(vm);
      this.vmHost[vm] = to;
      changed.add(to);
    }
    for (const h of sources) changed.add(h);
    this.updateChanged(t, changed);
    if (!this.cs) {
      // Default mode: an emptied host is switched off (it takes time and energy).
      for (const h of sources) {
        if (this.lists[h]!.length === 0 && this.hostState[h] === HOST_ON) {
          this.hostState[h] = HOST_SHUTTING;
          this.stateChanged.add(h);
          this.powerOffs++;
          this.energyJ +=
            this.input.powerOffS * this.input.transitionPowerShare * maxPowerW(this.input.hosts.power[h]!);
          this.metrics.host(h, t, 0, 0, false);
          this.clock.schedule(this.input.powerOffS, () => {
            if (this.hostState[h] === HOST_SHUTTING) this.hostState[h] = HOST_OFF;
            this.stateChanged.add(h);
          });
        }
      }
    }
  }

  private recordSeries(t: number, started: number): void {
    const P = this.input.hosts.power;
    let active = 0,
      watts = 0,
      violating = 0;
    for (let h = 0; h < this.H; h++) {
      const on = this.cs ? this.utilMips[h]! > 0 : this.hostState[h] !== HOST_OFF;
      if (this.input.policy.kind === 'npa') {
        watts += maxPowerW(P[h]!);
        active++;
        continue;
      }
      if (!on) continue;
      active++;
      const u = Math.min(1, this.utilization(h, this.utilMips[h]!));
      watts +=
        this.hostState[h] === HOST_ON || this.cs
          ? powerW(P[h]!, u)
          : this.input.transitionPowerShare * maxPowerW(P[h]!);
      let req = 0;
      for (const v of this.lists[h]!) req += this.demand[v]!;
      if (
        this.utilMips[h]! + 1e-9 < Math.min(req, this.input.hosts.capacityMips[h]!) ||
        req > this.input.hosts.capacityMips[h]!
      )
        violating++;
    }
    this.series.timeS.push(t);
    this.series.activeHosts.push(active);
    this.series.powerW.push(watts);
    this.series.slaViolation.push(active > 0 ? violating / active : 0);
    this.series.migrations.push(started);
    this.series.energyKWh.push(this.energyJ / 3.6e6);
  }
}

/** No host can take a VM at initial placement. */
export class PlacementError extends Error {
  readonly code = 'NO_HOST_FITS';
}
