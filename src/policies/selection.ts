/**
 * VM selection policies: which VM to move off an overloaded host (Beloglazov & Buyya, CCPE 2012, §6.3).
 * Pure functions over the host's candidate VMs.
 */
import { olsRSquared } from '../core/stats.ts';
import type { Random } from '../runtime/random.ts';

/** The VMs a selection policy sees. Arrays are indexed by VM id. */
export interface VmSelectionView {
  ramMiB: ArrayLike<number>;
  mips: ArrayLike<number>;
  demandMips: ArrayLike<number>;
  /** Utilization history of VM v, newest first. */
  history(v: number): ArrayLike<number>;
}

/** Returns the chosen VM id from `candidates` (host list order), or -1 if none. */
export type VmSelectionPolicy = (
  candidates: readonly number[],
  vms: VmSelectionView,
  random: Random,
) => number;

/** MMT, minimum migration time: the VM with the least RAM; ties go to the first in list order. */
export const minimumMigrationTime: VmSelectionPolicy = (c, vms) => {
  let best = -1;
  let min = Number.MAX_VALUE;
  for (const v of c) {
    const m = vms.ramMiB[v]!;
    if (m < min) {
      min = m;
      best = v;
    }
  }
  return best;
};

/** MU, minimum utilization: the VM using the smallest share of its own MIPS; ties → first. */
export const minimumUtilization: VmSelectionPolicy = (c, vms) => {
  let best = -1;
  let min = Number.MAX_VALUE;
  for (const v of c) {
    const m = vms.demandMips[v]! / vms.mips[v]!;
    if (m < min) {
      min = m;
      best = v;
    }
  }
  return best;
};

/** RS, random selection (uniform), from the run's seeded generator. */
export const randomSelection: VmSelectionPolicy = (c, _vms, random) =>
  c.length === 0 ? -1 : c[random.int(c.length)]!;

/**
 * MC, maximum correlation: the VM whose utilization history is best explained (largest R² of an
 * OLS multiple regression with intercept) by the histories of the other candidates
 * (Verma et al., Middleware 2009; Beloglazov & Buyya 2012). Falls back to `fallback` when the
 * regression cannot be computed (one candidate, too few observations, singular design).
 */
export function maximumCorrelation(fallback: VmSelectionPolicy): VmSelectionPolicy {
  return (c, vms, random) => {
    if (c.length === 0) return -1;
    let m = Number.MAX_SAFE_INTEGER;
    for (const v of c) m = Math.min(m, vms.history(v).length);
    const rows = c.map((v) => Array.from({ length: m }, (_, j) => vms.history(v)[j]!));
    const r2: number[] = [];
    try {
      if (rows.length < 2) throw new RangeError('one candidate');
      for (let i = 0; i < rows.length; i++) {
        r2.push(
          olsRSquared(
            rows[i]!,
            rows.filter((_, j) => j !== i),
          ),
        );
      }
    } catch {
      return fallback(c, vms, random);
    }
    let max = Number.MIN_VALUE; // CloudSim starts at Double.MIN_VALUE (quirk Q15)
    let idx = 0;
    for (let i = 0; i < r2.length; i++)
      if (r2[i]! > max) {
        max = r2[i]!;
        idx = i;
      }
    return c[idx]!;
  };
}
