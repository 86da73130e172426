/**
 * Dynamic VM consolidation of Beloglazov & Buyya (CCPE 2012): detect overloaded hosts, select VMs to
 * move off them, place those VMs with power-aware best fit decreasing (PABFD), then try to empty the
 * least-utilized hosts one by one. Returns a plan; it changes nothing.
 */
import { powerW } from '../../models/power.ts';
import type { Random } from '../../runtime/random.ts';
import type { OverloadDetector } from '../overload.ts';
import type { VmSelectionPolicy } from '../selection.ts';
import { powerClasses, type HostScorer } from './host-index.ts';
import { acquireHostSearch, type HostSearch, type HostSearchMode } from './host-scan.ts';
import { TrialCluster, type ClusterSnapshot } from './trial-cluster.ts';

/** One move of a plan. */
export interface PlannedMigration {
  vm: number;
  from: number;
  to: number;
  /** Why: the source host was overloaded, or it was being emptied. */
  phase: 'overload' | 'underload';
}

export interface ConsolidationOptions {
  detector: OverloadDetector;
  selection: VmSelectionPolicy;
  random: Random;
  /** Check host RAM for every placement (CloudSim only checks it at t = 0: quirk Q3). */
  ramConstraint: boolean;
  /**
   * Hosts that receive VMs from overloaded hosts may not be emptied in the same round (the paper's
   * intent). CloudSim's list for that is always empty (quirk Q8), so it must be false there.
   */
  excludeOverloadTargets: boolean;
  /** Whether hosts with measured utilization 0 but VMs on them may be emptied (default mode). */
  consolidateIdleHosts: boolean;
  /**
   * A further test a target must pass (the control plane's vCPU reservations: a host with free
   * cycles may still have no vCPU slots left). Absent in the simulator.
   */
  extraFits?: (t: TrialCluster, h: number, v: number) => boolean;
  /** How PABFD finds its host: the power-increase index (default) or the plain scan; same plan. */
  hostSearch?: HostSearchMode;
  /**
   * A bonus PABFD subtracts from a target's power increase (the simulator's sharing-aware placement:
   * watts that the pages VM v would share on host h are worth). Absent: PABFD ranks by power alone.
   */
  placementBonus?: PlacementBonus;
}

/** A score term of PABFD's placement, in watts: the lower the power increase less the bonus, the better. */
export interface PlacementBonus {
  /** Bonus of placing VM v on host h of the trial cluster, W (≥ 0, ≤ `maxBonusW(v)`). */
  bonusW(t: TrialCluster, h: number, v: number): number;
  /** An upper bound of `bonusW(·, ·, v)` over all hosts (the host index lowers its bounds by it). */
  maxBonusW(v: number): number;
}

/** Counters of one planning round, for the report and the benchmark. */
export interface ConsolidationStats {
  overloadedHosts: number;
  underloadAttempts: number;
  detectorCalls: number;
}

/**
 * Plan one consolidation round.
 * @returns the migrations in the order they should start (a VM may appear twice in CloudSim's
 *   quirky mode, see quirk Q17), and counters.
 */
export function planConsolidation(
  snap: ClusterSnapshot,
  o: ConsolidationOptions,
): { migrations: PlannedMigration[]; stats: ConsolidationStats } {
  const t = new TrialCluster(snap);
  const H = t.hostCount;
  const stats: ConsolidationStats = { overloadedHosts: 0, underloadAttempts: 0, detectorCalls: 0 };
  const detect = (h: number, extra = -1): boolean => {
    stats.detectorCalls++;
    return o.detector(t.loadView(h, extra));
  };
  const vmHostAtStart = new Int32Array(snap.vmMips.length).fill(-1);
  for (let h = 0; h < H; h++) for (const v of snap.hostVms[h]!) vmHostAtStart[v] = h;

  // 1. Overloaded hosts, in id order.
  const overloaded: number[] = [];
  for (let h = 0; h < H; h++) if (t.lists[h]!.length > 0 && detect(h)) overloaded.push(h);
  stats.overloadedHosts = overloaded.length;

  // 2. Select VMs until each host is no longer overloaded.
  const toMigrate: number[] = [];
  for (const h of overloaded) {
    for (;;) {
      const candidates = t.lists[h]!.filter((v) => !snap.vmMigrating[v]);
      const v = o.selection(candidates, t, o.random);
      if (v < 0) break;
      toMigrate.push(v);
      t.remove(h, v);
      if (!detect(h)) break;
    }
  }

  // 3. Place them with PABFD, overloaded hosts excluded; switched-off hosts may be switched on.
  const excludedPlace = new Uint8Array(H);
  for (let h = 0; h < H; h++) if (snap.hostBlocked[h]) excludedPlace[h] = 1;
  for (const h of overloaded) excludedPlace[h] = 1;
  const migrations: PlannedMigration[] = [];
  const allHosts = Int32Array.from({ length: H }, (_, h) => h);
  const classes = () => powerClasses(snap.hostPower, snap.hostCapacityMips);
  const update = (idx: HostSearch, h: number): void =>
    idx.set(h, t.allocatedMips(h), t.availableMips(h), t.freeRamMiB(h), snap.hostPowerNowW[h]!);
  const newIndex = (hosts: Iterable<number>): HostSearch => {
    const mode = o.hostSearch ?? 'index';
    const idx = acquireHostSearch(mode, classes, snap.hostPower, snap.hostPeMips, snap.hostRamMiB);
    for (const h of hosts) if (!excludedPlace[h]) update(idx, h);
    return idx;
  };
  const placer = new Placer(t, excludedPlace, o, stats);
  if (toMigrate.length > 0) {
    const idx = newIndex(allHosts);
    for (const v of sortByDemandDecreasing(toMigrate, snap.vmDemandMips)) {
      const h = placer.find(idx, v);
      if (h >= 0) {
        t.add(h, v);
        update(idx, h);
        migrations.push({ vm: v, from: vmHostAtStart[v]!, to: h, phase: 'overload' });
      }
    }
    idx.release();
  }

  // 4. Underloaded hosts: least utilized first, try to move all their VMs elsewhere.
  const excludedUnder = new Uint8Array(H);
  for (let h = 0; h < H; h++) {
    const off = snap.hostOff[h] === 1 || (!o.consolidateIdleHosts && snap.hostUtilization[h] === 0);
    if (off || snap.hostBlocked[h]) {
      excludedUnder[h] = 1;
      excludedPlace[h] = 1;
    }
  }
  for (const h of overloaded) excludedUnder[h] = 1;
  if (o.excludeOverloadTargets) for (const m of migrations) excludedUnder[m.to] = 1;
  const order: number[] = [];
  for (let h = 0; h < H; h++) {
    const u = snap.hostUtilization[h]!;
    if ((u > 0 || (o.consolidateIdleHosts && snap.hostOff[h] === 0)) && u < 1) order.push(h);
  }
  order.sort((a, b) => snap.hostUtilization[a]! - snap.hostUtilization[b]! || a - b);
  // From here on every switched-off host is excluded, and hosts only lose room: scan only the hosts
  // that have room now for the smallest VM that could move (in id order).
  let minRam = Infinity,
    minDemand = Infinity;
  for (const l of t.lists)
    for (const v of l) {
      minRam = Math.min(minRam, snap.vmRamMiB[v]!);
      minDemand = Math.min(minDemand, snap.vmDemandMips[v]!);
    }
  let candidates = Int32Array.from(
    allHosts.filter(
      (h) =>
        !excludedPlace[h] &&
        t.availableMips(h) >= minDemand &&
        (!o.ramConstraint || t.freeRamMiB(h) >= minRam),
    ),
  );
  const idx = newIndex(candidates);
  const moved = (h: number): void => {
    if (idx.has(h)) update(idx, h);
  };
  let excludedSinceCompaction = 0;
  // Within this phase hosts only lose room and exclusions only grow: once no host passes the cheap
  // tests for a VM of (demand, RAM), none will for a VM at least as large. Skipping those scans is
  // what keeps the phase near-linear on large clusters; the plan is unchanged.
  const hopeless = new DominatedRequests();
  let failedAfterMoves = -1;
  for (const u of order) {
    if (excludedUnder[u]) continue;
    if (t.lists[u]!.length === 0) continue; // CloudSim: "all VMs migrating out" holds vacuously
    excludedUnder[u] = 1;
    excludedPlace[u] = 1;
    idx.delete(u);
    if (++excludedSinceCompaction * 4 > candidates.length) {
      candidates = candidates.filter((h) => !excludedPlace[h]);
      excludedSinceCompaction = 0;
    }
    const vms = t.lists[u]!.filter((v) => !snap.vmMigrating[v]);
    if (vms.length === 0) continue;
    stats.underloadAttempts++;
    const placed: PlannedMigration[] = [];
    let ok = true;
    const sorted = sortByDemandDecreasing(vms, snap.vmDemandMips);
    const req = (v: number): [number, number] => [
      snap.vmDemandMips[v]!,
      o.ramConstraint ? snap.vmRamMiB[v]! : 0,
    ];
    // A VM with no room even before this attempt will not find any after the attempt's first moves.
    if (sorted.some((v) => hopeless.dominates(...req(v)))) continue;
    for (const v of sorted) {
      const h = placer.find(idx, v);
      if (h < 0) {
        if (placed.length === 0) recordNoRoom(t, v, candidates, excludedPlace, o, hopeless);
        else failedAfterMoves = v;
        ok = false;
        break;
      }
      t.add(h, v);
      moved(h);
      placed.push({ vm: v, from: u, to: h, phase: 'underload' });
    }
    if (!ok) {
      for (const m of placed) {
        t.remove(m.to, m.vm);
        moved(m.to);
      }
      // Once undone, find out whether the VM that failed has no room at all (then it never will).
      if (failedAfterMoves >= 0) recordNoRoom(t, failedAfterMoves, candidates, excludedPlace, o, hopeless);
      failedAfterMoves = -1;
      continue;
    }
    for (const m of placed) {
      excludedUnder[m.to] = 1;
      migrations.push(m);
    }
  }
  idx.release();
  return { migrations, stats };
}

/** Stable sort by current demand, decreasing (CloudSim `PowerVmList#sortByCpuUtilization`). */
function sortByDemandDecreasing(vms: readonly number[], demand: Float64Array): number[] {
  return vms.slice().sort((a, b) => demand[b]! - demand[a]!);
}

/**
 * PABFD (Beloglazov & Buyya, CCPE 2012, Alg. 1): among suitable hosts that would not become
 * overloaded, the one whose power grows least; ties go to the lowest host id.
 * CloudSim tests every host in id order and keeps the first strictly smaller increase; that is the
 * minimum of (increase, id) over the hosts that pass the overload test. So we rank the cheap part
 * first (with an index of hosts by power segment, see host-index.ts) and run the costly detector
 * only in that order until one host passes: same answer, a fraction of the work.
 */
class Placer implements HostScorer {
  private v = -1;
  private d = 0;

  constructor(
    private readonly t: TrialCluster,
    private readonly excluded: Uint8Array,
    private readonly o: ConsolidationOptions,
    private readonly stats: ConsolidationStats,
  ) {}

  evaluate(h: number): number {
    const { t, o, d } = this;
    const snap = t.snap;
    if (this.excluded[h]) return NaN;
    if (snap.hostPeMips[h]! < d) return NaN;
    if (t.availableMips(h) < d) return NaN;
    if (o.ramConstraint && t.freeRamMiB(h) < snap.vmRamMiB[this.v]!) return NaN;
    if (o.extraFits && !o.extraFits(t, h, this.v)) return NaN;
    let u = (t.allocatedMips(h) + d) / snap.hostCapacityMips[h]!;
    if (u > 1) {
      if (u < 1 + 1e-9) u = 1;
      else return NaN;
    }
    const diff = powerW(snap.hostPower[h]!, u) - snap.hostPowerNowW[h]!;
    if (!(diff < Number.MAX_VALUE)) return NaN;
    return o.placementBonus ? diff - o.placementBonus.bonusW(t, h, this.v) : diff;
  }

  accept(h: number): boolean {
    if (this.t.allocatedMips(h) === 0) return true;
    this.stats.detectorCalls++;
    return !this.o.detector(this.t.loadView(h, this.v));
  }

  /** The PABFD host for VM v among the indexed hosts, or -1. */
  find(idx: HostSearch, v: number): number {
    this.v = v;
    this.d = this.t.snap.vmDemandMips[v]!;
    const r = this.o.ramConstraint ? this.t.snap.vmRamMiB[v]! : -Infinity;
    // A bonus lowers a host's score by at most maxBonusW(v): the index lowers its bounds by that much.
    return idx.best(this.d, r, this, this.o.placementBonus?.maxBonusW(v) ?? 0);
  }
}

/**
 * If no host passes the cheap tests (core, free MIPS, free RAM) for VM v, remember why: no RAM
 * anywhere covers every demand of that RAM size or more, no CPU anywhere covers every RAM size.
 */
function recordNoRoom(
  t: TrialCluster,
  v: number,
  hosts: Int32Array,
  excluded: Uint8Array,
  o: ConsolidationOptions,
  hopeless: DominatedRequests,
): void {
  const snap = t.snap;
  const d = snap.vmDemandMips[v]!;
  const r = o.ramConstraint ? snap.vmRamMiB[v]! : 0;
  let ramSomewhere = false,
    cpuSomewhere = false;
  for (let i = 0; i < hosts.length; i++) {
    const h = hosts[i]!;
    if (excluded[h]) continue;
    const cpu = snap.hostPeMips[h]! >= d && t.availableMips(h) >= d;
    const ram = !o.ramConstraint || t.freeRamMiB(h) >= r;
    if (cpu && ram) return; // room somewhere: the failure was the detector's (or the attempt's own moves)
    ramSomewhere ||= ram;
    cpuSomewhere ||= cpu;
  }
  if (!ramSomewhere) hopeless.add(0, r);
  if (!cpuSomewhere) hopeless.add(d, 0);
  hopeless.add(d, r);
}

/** Requests (demand MIPS, RAM MiB) known to fit nowhere; answers "is this one at least as large as one of them?". */
class DominatedRequests {
  private readonly minDemandByRam = new Map<number, number>();
  add(d: number, r: number): void {
    const cur = this.minDemandByRam.get(r);
    if (cur === undefined || d < cur) this.minDemandByRam.set(r, d);
  }
  dominates(d: number, r: number): boolean {
    for (const [ram, minD] of this.minDemandByRam) if (ram <= r && minD <= d) return true;
    return false;
  }
}
