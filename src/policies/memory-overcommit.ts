/**
 * Memory-aware admission and overcommit, pure, for the control plane's scheduler and the simulator
 * alike: a VM counts as its guaranteed memory plus its expected working set, less the pages it is
 * expected to share with the host's other VMs, and a host admits VMs while the chance that their
 * demand exceeds its memory stays below a configured risk.
 *
 * Overbooking with a risk bound: Urgaonkar, Shenoy, Roscoe, "Resource overbooking and application
 * profiling in shared hosting platforms", OSDI 2002 (demand as a sum of independent per-VM
 * distributions, here normal with the measured mean and deviation of each working set).
 * Sharing credit from page fingerprints: Wood et al., "Memory Buddies", VEE 2009.
 */
import { PAGES_PER_MIB, SharingIndex, type PageFingerprint } from '../core/memory/fingerprint.ts';

export interface VmMemory {
  id: string;
  /** Configured (flavor) memory: the balloon's ceiling, MiB. */
  memoryMiB: number;
  /** Memory the VM is always given (never overcommitted), MiB; ≤ memoryMiB. */
  guaranteedMiB: number;
  /** Measured working set: mean and standard deviation, MiB. Absent: not measured, counts as memoryMiB. */
  workingSet?: { meanMiB: number; sdMiB: number };
  /** Its pages' content (measured, or predicted from VMs of the same image). */
  fingerprint?: PageFingerprint;
  /** Whether its pages may be merged with others' (false: the tenant opted out of sharing). */
  mergeable: boolean;
}

export interface MemoryRiskOptions {
  /** Accepted probability that the host's VMs need more memory than it has (0 < risk < 0.5). */
  risk: number;
  /** Kept above each VM's expected working set, MiB. */
  headroomMiB: number;
  /** Share of the estimated shared pages credited (1 = all; less hedges the estimate). */
  sharingCredit: number;
}

export const DEFAULT_MEMORY_RISK: MemoryRiskOptions = { risk: 0.01, headroomMiB: 64, sharingCredit: 0.9 };

/** A VM's expected memory demand: its mean and variance (MiB, MiB²). */
export function vmDemand(v: VmMemory, o: MemoryRiskOptions = DEFAULT_MEMORY_RISK) {
  if (!v.workingSet) return { meanMiB: v.memoryMiB, varMiB2: 0 };
  const mean = Math.min(v.memoryMiB, Math.max(v.guaranteedMiB, v.workingSet.meanMiB + o.headroomMiB));
  return { meanMiB: mean, varMiB2: v.workingSet.sdMiB ** 2 };
}

/** The memory demand of a set of VMs on one host. */
export interface HostMemoryDemand {
  /** Σ guaranteed, MiB: must fit in the host's memory, always. */
  guaranteedMiB: number;
  /** Σ flavor memory, MiB (what a static policy counts). */
  configuredMiB: number;
  /** Σ expected demand less the credited sharing, MiB. */
  expectedMiB: number;
  /** Standard deviation of the total, MiB. */
  sdMiB: number;
  /** Pages merging is expected to save, credited share, MiB. */
  sharedMiB: number;
  /** expected + z(risk)·sd: the memory the host must have to stay within the risk, MiB. */
  atRiskMiB: number;
}

/**
 * The demand of `vms` together, sharing estimated over the mergeable VMs' fingerprints (sampled at
 * `sampleBits`, the coarsest rate the fingerprints are taken to).
 */
export function hostDemand(
  vms: readonly VmMemory[],
  o: MemoryRiskOptions = DEFAULT_MEMORY_RISK,
  sampleBits = coarsest(vms),
): HostMemoryDemand {
  const s = demandSums(vms, o, sampleBits);
  return demandOf(s, s.index.estimate().savedPages, o);
}

/**
 * A host's VMs' demand summed once (and their sharing index at `sampleBits`), to judge one more VM
 * without re-adding every VM's fingerprint: `admitsMemory(cap, sums, vm)` answers as
 * `admitsMemory(cap, sums.vms, vm)` (the scheduler keeps these per measured host).
 */
export interface DemandSums {
  vms: readonly VmMemory[];
  headroomMiB: number;
  guaranteedMiB: number;
  configuredMiB: number;
  meanMiB: number;
  varMiB2: number;
  /** The mergeable VMs' fingerprints; never changed once built. */
  index: SharingIndex;
}

/** The sums of `vms`' demand (in their order) and their sharing index at `sampleBits`. */
export function demandSums(
  vms: readonly VmMemory[],
  o: MemoryRiskOptions = DEFAULT_MEMORY_RISK,
  sampleBits = coarsest(vms),
): DemandSums {
  checkRisk(o);
  const index = new SharingIndex(sampleBits);
  let g = 0,
    conf = 0,
    mean = 0,
    v2 = 0;
  for (const v of vms) {
    const d = vmDemand(v, o);
    g += v.guaranteedMiB;
    conf += v.memoryMiB;
    mean += d.meanMiB;
    v2 += d.varMiB2;
    if (v.mergeable && v.fingerprint) index.add(v.fingerprint);
  }
  return {
    vms,
    headroomMiB: o.headroomMiB,
    guaranteedMiB: g,
    configuredMiB: conf,
    meanMiB: mean,
    varMiB2: v2,
    index,
  };
}

/** The demand of `s`'s VMs and `vm` (added last, as `hostDemand([...vms, vm])` adds it). */
function demandPlus(s: DemandSums, vm: VmMemory, o: MemoryRiskOptions): HostMemoryDemand {
  checkRisk(o);
  const d = vmDemand(vm, o);
  const saved =
    vm.mergeable && vm.fingerprint
      ? s.index.estimateWith(vm.fingerprint).savedPages
      : s.index.estimate().savedPages;
  return demandOf(
    {
      guaranteedMiB: s.guaranteedMiB + vm.guaranteedMiB,
      configuredMiB: s.configuredMiB + vm.memoryMiB,
      meanMiB: s.meanMiB + d.meanMiB,
      varMiB2: s.varMiB2 + d.varMiB2,
    },
    saved,
    o,
  );
}

function demandOf(
  s: Pick<DemandSums, 'guaranteedMiB' | 'configuredMiB' | 'meanMiB' | 'varMiB2'>,
  savedPages: number,
  o: MemoryRiskOptions,
): HostMemoryDemand {
  const g = s.guaranteedMiB;
  const shared = (savedPages / PAGES_PER_MIB) * o.sharingCredit;
  const expected = Math.max(g, s.meanMiB - shared);
  const sd = Math.sqrt(s.varMiB2);
  return {
    guaranteedMiB: g,
    configuredMiB: s.configuredMiB,
    expectedMiB: expected,
    sdMiB: sd,
    sharedMiB: shared,
    atRiskMiB: Math.max(g, expected + normalQuantile(1 - o.risk) * sd),
  };
}

/**
 * Whether a host of `capacityMiB` (after reservations) admits `vm` beside `current`: the guaranteed
 * memory must fit outright, and the demand at the risk must fit too.
 * @returns ok, the demand with the VM, and the reason (for refusals: what did not fit and by how much)
 */
export function admitsMemory(
  capacityMiB: number,
  current: readonly VmMemory[] | DemandSums,
  vm: VmMemory,
  o: MemoryRiskOptions = DEFAULT_MEMORY_RISK,
): { ok: boolean; demand: HostMemoryDemand; reason: string } {
  const sums = 'index' in current ? current : undefined;
  const vms = sums ? sums.vms : (current as readonly VmMemory[]);
  // Sums taken at the sampling and headroom this judgement needs answer for them; else sum again.
  const demand =
    sums && sums.headroomMiB === o.headroomMiB && sums.index.sampleBits === coarsest([...vms, vm])
      ? demandPlus(sums, vm, o)
      : hostDemand([...vms, vm], o);
  const r = (x: number) => Math.round(x);
  if (demand.guaranteedMiB > capacityMiB)
    return {
      ok: false,
      demand,
      reason: `guaranteed memory ${r(demand.guaranteedMiB)} MiB would exceed the host's ${r(capacityMiB)} MiB`,
    };
  if (demand.atRiskMiB > capacityMiB)
    return {
      ok: false,
      demand,
      reason: `expected memory ${r(demand.expectedMiB)} MiB (${r(demand.sharedMiB)} MiB shared) + ${normalQuantile(1 - o.risk).toFixed(2)} × ${r(demand.sdMiB)} MiB at a ${o.risk} risk = ${r(demand.atRiskMiB)} MiB would exceed the host's ${r(capacityMiB)} MiB`,
    };
  return {
    ok: true,
    demand,
    reason: `${r(demand.atRiskMiB)} of ${r(capacityMiB)} MiB at a ${o.risk} risk (${r(demand.sharedMiB)} MiB shared)`,
  };
}

/**
 * Pages `vm` would share with `host`'s mergeable VMs, MiB: what the sharing-aware scorer prefers
 * (0 for a VM that may not merge or has no fingerprint).
 */
export function sharedMiBWith(host: SharingIndex, vm: VmMemory): number {
  if (!vm.mergeable || !vm.fingerprint || vm.fingerprint.sampleBits > host.sampleBits) return 0;
  return host.sharedWith(vm.fingerprint) / PAGES_PER_MIB;
}

/** A balloon target for one VM. */
export interface BalloonTarget {
  id: string;
  targetMiB: number;
}

/**
 * Balloon targets for a host's VMs: each gets its expected working set plus headroom and its share of
 * the risk margin (never below its guarantee nor above its flavor); when the host cannot hold them all,
 * every VM is cut toward its guarantee in proportion to its slack above it.
 */
export function balloonTargets(
  capacityMiB: number,
  vms: readonly VmMemory[],
  o: MemoryRiskOptions = DEFAULT_MEMORY_RISK,
): { targets: BalloonTarget[]; cutMiB: number } {
  checkRisk(o);
  const z = normalQuantile(1 - o.risk);
  const d = hostDemand(vms, o);
  const want = vms.map((v) => {
    const m = vmDemand(v, o);
    const t = v.workingSet ? m.meanMiB + z * Math.sqrt(m.varMiB2) : v.memoryMiB;
    return Math.min(v.memoryMiB, Math.max(v.guaranteedMiB, t));
  });
  const total = want.reduce((a, b) => a + b, 0) - d.sharedMiB;
  const over = Math.max(0, total - capacityMiB);
  const slack = vms.map((v, i) => want[i]! - v.guaranteedMiB);
  const slackSum = slack.reduce((a, b) => a + b, 0);
  const cutShare = slackSum > 0 ? Math.min(1, over / slackSum) : 0;
  return {
    targets: vms.map((v, i) => ({ id: v.id, targetMiB: Math.round(want[i]! - slack[i]! * cutShare) })),
    cutMiB: Math.min(over, slackSum),
  };
}

/** The coarsest sampling among the mergeable VMs' fingerprints (what `hostDemand` sums sharing at). */
export function coarsestBits(vms: readonly VmMemory[]): number {
  return coarsest(vms);
}

function coarsest(vms: readonly VmMemory[]): number {
  let b = 0;
  for (const v of vms) if (v.mergeable && v.fingerprint) b = Math.max(b, v.fingerprint.sampleBits);
  return b;
}

function checkRisk(o: MemoryRiskOptions): void {
  if (!(o.risk > 0 && o.risk < 0.5)) throw new RangeError(`risk must be between 0 and 0.5, got ${o.risk}`);
  if (!(o.headroomMiB >= 0)) throw new RangeError(`headroomMiB must be ≥ 0, got ${o.headroomMiB}`);
  if (!(o.sharingCredit >= 0 && o.sharingCredit <= 1))
    throw new RangeError(`sharingCredit must be between 0 and 1, got ${o.sharingCredit}`);
}

/**
 * The standard normal quantile Φ⁻¹(p), 0 < p < 1 (Acklam's rational approximation, relative error
 * below 1.2e-9: P. J. Acklam, "An algorithm for computing the inverse normal cumulative distribution
 * function", 2003).
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`p must be between 0 and 1, got ${p}`);
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) /
      ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1)
    );
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) /
    (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1)
  );
}
