/**
 * How a host shares its CPU among its VMs: CloudSim's time-shared scheduler with oversubscription
 * (`VmSchedulerTimeSharedOverSubscription`). Each VM's request is capped to one core; if the sum fits
 * every VM gets its capped request, otherwise every request is scaled by capacity / total and
 * floored to whole MIPS. A VM migrating out gets 90 % of its share (migration degradation), a VM
 * migrating in reserves 10 % on its target (Beloglazov & Buyya, CCPE 2012, §7.2).
 */

/** Role of a VM on a host. */
export const VmRole = { normal: 0, migratingOut: 1, migratingIn: 2 } as const;
export type VmRole = (typeof VmRole)[keyof typeof VmRole];

/** Result of {@link shareCpu}: free MIPS left (0 when oversubscribed) and whether it was. */
export interface CpuShareResult {
  availableMips: number;
  oversubscribed: boolean;
}

/**
 * Allocate MIPS to the VMs of one host. Writes allocations into `out[0..n)` in list order.
 * @param demandMips requested MIPS per list position (uncapped)
 * @param roles VM role per list position ({@link VmRole})
 * @param capacityMips host total MIPS; @param peMips MIPS of one core
 */
export function shareCpu(
  out: Float64Array,
  n: number,
  demandMips: ArrayLike<number>,
  roles: ArrayLike<number>,
  capacityMips: number,
  peMips: number,
): CpuShareResult {
  let available = capacityMips;
  let over = false;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const d = demandMips[i]!;
    const capped = d > peMips ? peMips : d;
    const tr = roles[i] === VmRole.migratingIn ? capped * 0.1 : capped;
    total += tr;
    if (!over && available >= tr) available -= tr;
    else over = true;
  }
  if (!over) {
    for (let i = 0; i < n; i++) {
      const d = demandMips[i]!;
      const capped = d > peMips ? peMips : d;
      const r = roles[i];
      out[i] = r === VmRole.migratingOut ? capped * 0.9 : r === VmRole.migratingIn ? capped * 0.1 : capped;
    }
    return { availableMips: available, oversubscribed: false };
  }
  const sf = capacityMips / total;
  for (let i = 0; i < n; i++) {
    const d = demandMips[i]!;
    const capped = d > peMips ? peMips : d;
    const r = roles[i];
    out[i] = Math.floor(
      r === VmRole.migratingOut
        ? capped * sf * 0.9
        : r === VmRole.migratingIn
          ? capped * 0.1 * sf
          : capped * sf,
    );
  }
  return { availableMips: 0, oversubscribed: true };
}
