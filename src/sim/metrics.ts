/**
 * The study's metrics (Beloglazov & Buyya, CCPE 2012, §7.3; CloudSim `Helper#printResults`),
 * accumulated online from per-host and per-VM state entries. An entry at the same time as the
 * previous one replaces it (CloudSim's `addStateHistoryEntry`), so an entry is final only when a
 * later one arrives; intervals are piecewise constant from one entry to the next.
 */
export class StateMetrics {
  // hosts
  private hT: Float64Array;
  private hAlloc: Float64Array;
  private hReq: Float64Array;
  private hActive: Uint8Array;
  private hPrevActive: Uint8Array;
  private hLastOn: Float64Array;
  activeTimeS = 0;
  slaViolationTimeS = 0;
  hostShutdowns = 0;
  private shutdownTimes: number[] = [];
  // vms
  private vT: Float64Array;
  private vAlloc: Float64Array;
  private vReq: Float64Array;
  private vMig: Uint8Array;
  private vPrevMig: Uint8Array;
  private vMigStart: Float64Array;
  private requestedMipsS = 0;
  private allocatedMipsS = 0;
  private underAllocatedMigrationMipsS = 0;
  private violationShareSum = 0;
  private violationCount = 0;
  private migrationDurations: number[] = [];
  private finished = false;

  constructor(hosts: number, vms: number) {
    this.hT = new Float64Array(hosts).fill(-1);
    this.hAlloc = new Float64Array(hosts);
    this.hReq = new Float64Array(hosts);
    this.hActive = new Uint8Array(hosts);
    this.hPrevActive = new Uint8Array(hosts).fill(1);
    this.hLastOn = new Float64Array(hosts);
    this.vT = new Float64Array(vms).fill(-1);
    this.vAlloc = new Float64Array(vms);
    this.vReq = new Float64Array(vms);
    this.vMig = new Uint8Array(vms);
    this.vPrevMig = new Uint8Array(vms);
    this.vMigStart = new Float64Array(vms);
  }

  host(h: number, t: number, allocatedMips: number, requestedMips: number, active: boolean): void {
    const t0 = this.hT[h]!;
    if (t0 !== t) {
      if (t0 >= 0) {
        const dt = t - t0;
        if (this.hActive[h]) {
          this.activeTimeS += dt;
          if (this.hAlloc[h]! < this.hReq[h]!) this.slaViolationTimeS += dt;
        }
        this.hostTransition(h);
      }
      this.hT[h] = t;
    }
    this.hAlloc[h] = allocatedMips;
    this.hReq[h] = requestedMips;
    this.hActive[h] = active ? 1 : 0;
  }

  private hostTransition(h: number): void {
    const prev = this.hPrevActive[h]!,
      cur = this.hActive[h]!;
    if (prev && !cur) {
      this.hostShutdowns++;
      this.shutdownTimes.push(this.hT[h]! - this.hLastOn[h]!);
    }
    if (!prev && cur) this.hLastOn[h] = this.hT[h]!;
    this.hPrevActive[h] = cur;
  }

  vm(v: number, t: number, allocatedMips: number, requestedMips: number, inMigration: boolean): void {
    const t0 = this.vT[v]!;
    if (t0 !== t) {
      if (t0 >= 0) {
        const dt = t - t0;
        const a = this.vAlloc[v]!,
          r = this.vReq[v]!;
        this.allocatedMipsS += a * dt;
        this.requestedMipsS += r * dt;
        if (a < r) {
          this.violationShareSum += (r - a) / r;
          this.violationCount++;
          if (this.vMig[v]) this.underAllocatedMigrationMipsS += (r - a) * dt;
        }
        this.vmTransition(v);
      }
      this.vT[v] = t;
    }
    this.vAlloc[v] = allocatedMips;
    this.vReq[v] = requestedMips;
    this.vMig[v] = inMigration ? 1 : 0;
  }

  private vmTransition(v: number): void {
    const prev = this.vPrevMig[v]!,
      cur = this.vMig[v]!;
    if (prev && !cur) this.migrationDurations.push(this.vT[v]! - this.vMigStart[v]!);
    if (!prev && cur) this.vMigStart[v] = this.vT[v]!;
    this.vPrevMig[v] = cur;
  }

  /** Close the last entries (transitions only: no interval follows them). */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    for (let h = 0; h < this.hT.length; h++) if (this.hT[h]! >= 0) this.hostTransition(h);
    for (let v = 0; v < this.vT.length; v++) if (this.vT[v]! >= 0) this.vmTransition(v);
  }

  /** SLATAH: share of active host time with allocated < requested (pooled ratio). */
  slatah(): number {
    return this.activeTimeS > 0 ? this.slaViolationTimeS / this.activeTimeS : 0;
  }
  /** PDM: MIPS·s lost to migrations / MIPS·s requested (pooled ratio). */
  pdm(): number {
    return this.requestedMipsS > 0 ? this.underAllocatedMigrationMipsS / this.requestedMipsS : 0;
  }
  /** Overall SLA violation: (requested − allocated) / requested over all VM time. */
  overallSlaViolation(): number {
    return this.requestedMipsS > 0 ? (this.requestedMipsS - this.allocatedMipsS) / this.requestedMipsS : 0;
  }
  /** Mean, over under-allocated VM intervals, of the unserved share (unweighted by time). */
  averageSlaViolation(): number {
    return this.violationCount > 0 ? this.violationShareSum / this.violationCount : 0;
  }
  migrationDurationsS(): readonly number[] {
    return this.migrationDurations;
  }
  timesBeforeShutdownS(): readonly number[] {
    return this.shutdownTimes;
  }
}

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return 0;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (n − 1), 0 for fewer than 2 values. */
export function stdev(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) * (x - m);
  return Math.sqrt(s / (xs.length - 1));
}
