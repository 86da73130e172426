/**
 * Vector bin-packing placement heuristics over resource vectors (CPU, memory, and any further
 * dimension). Decreasing orders sort items by the sum of their demands normalized by the largest
 * capacity in each dimension (Panigrahy et al., "Heuristics for Vector Bin Packing", MSR 2011);
 * best/worst fit score a host by its normalized free capacity left after placement.
 * Every function is pure: it returns a placement and never changes its input.
 */
import { powerW, type PowerModelSpec } from '../../models/power.ts';
import type { Random } from '../../runtime/random.ts';

export const HEURISTICS = [
  'first-fit',
  'next-fit',
  'best-fit',
  'worst-fit',
  'random-fit',
  'first-fit-decreasing',
  'best-fit-decreasing',
  'power-aware-best-fit-decreasing',
] as const;
export type Heuristic = (typeof HEURISTICS)[number];

export interface PackingInstance {
  /** Capacity of each host per dimension: capacities[host][dim]. */
  capacities: readonly (readonly number[])[];
  /** Already used per host and dimension (optional, zeros by default). */
  used?: readonly (readonly number[])[];
  /** Demand of each item (VM) per dimension: demands[item][dim]. */
  demands: readonly (readonly number[])[];
  /** Dimension names for reasons (default: dim0, dim1, …). */
  dimensions?: readonly string[];
}

export interface PackingOptions {
  random?: Random;
  /** For power-aware BFD: host power models and the index of the CPU dimension. */
  power?: { models: readonly PowerModelSpec[]; cpuDimension: number };
}

/** Why a host could not take an item. */
export interface HostRejection {
  host: number;
  dimension: string;
  needed: number;
  free: number;
}

export interface PackingResult {
  /** Host of each item, −1 if it did not fit anywhere. */
  assignment: Int32Array;
  /** Items that did not fit, with the reason per host. */
  unplaced: { item: number; reasons: HostRejection[] }[];
  /** Hosts with at least one item (including hosts already used). */
  hostsUsed: number;
  /** A lower bound on the number of hosts any placement needs ({@link hostLowerBound}). */
  lowerBound: number;
  /** hostsUsed − lowerBound. */
  gap: number;
}

function validate(inst: PackingInstance): number {
  const D = inst.capacities[0]?.length ?? inst.demands[0]?.length ?? 0;
  const check = (rows: readonly (readonly number[])[], what: string) =>
    rows.forEach((r, i) => {
      if (r.length !== D) throw new RangeError(`${what}[${i}] has ${r.length} dimensions, expected ${D}`);
      r.forEach((x, d) => {
        if (!(x >= 0) || !Number.isFinite(x))
          throw new RangeError(`${what}[${i}][${d}] must be a finite number >= 0, got ${x}`);
      });
    });
  check(inst.capacities, 'capacities');
  check(inst.demands, 'demands');
  if (inst.used) check(inst.used, 'used');
  return D;
}

/**
 * Lower bound on the number of hosts: per dimension, the fewest hosts whose largest capacities
 * (after what is already used) add up to the total demand plus what is used; the maximum over
 * dimensions (the per-dimension sum bound, generalized to unequal hosts).
 */
export function hostLowerBound(inst: PackingInstance): number {
  const D = validate(inst);
  let lb = 0;
  for (let d = 0; d < D; d++) {
    let need = 0;
    for (const r of inst.demands) need += r[d]!;
    if (inst.used) for (const r of inst.used) need += r[d]!;
    const caps = inst.capacities.map((c) => c[d]!).sort((a, b) => b - a);
    let k = 0,
      sum = 0;
    while (sum < need - 1e-9 && k < caps.length) sum += caps[k++]!;
    lb = Math.max(lb, k);
  }
  if (inst.used) lb = Math.max(lb, inst.used.filter((r) => r.some((x) => x > 0)).length);
  return lb;
}

/**
 * Place every item with one heuristic.
 * @throws RangeError for malformed input (mismatched dimensions, negative or non-finite numbers),
 *   or when random-fit is asked for without a seeded `random`.
 * @example placeVectors({ capacities: [[4, 8], [4, 8]], demands: [[1, 2], [3, 4]] }, 'best-fit-decreasing')
 */
export function placeVectors(
  inst: PackingInstance,
  heuristic: Heuristic,
  opts: PackingOptions = {},
): PackingResult {
  const D = validate(inst);
  const H = inst.capacities.length;
  const N = inst.demands.length;
  const names = inst.dimensions ?? Array.from({ length: D }, (_, d) => `dim${d}`);
  const used = inst.capacities.map((_, h) => Array.from({ length: D }, (_, d) => inst.used?.[h]?.[d] ?? 0));
  const maxCap = Array.from({ length: D }, (_, d) => Math.max(1e-12, ...inst.capacities.map((c) => c[d]!)));
  const size = (i: number) => inst.demands[i]!.reduce((s, x, d) => s + x / maxCap[d]!, 0);
  const fits = (h: number, i: number) =>
    inst.demands[i]!.every((x, d) => used[h]![d]! + x <= inst.capacities[h]![d]! + 1e-9);
  const freeAfter = (h: number, i: number) =>
    inst.demands[i]!.reduce((s, x, d) => s + (inst.capacities[h]![d]! - used[h]![d]! - x) / maxCap[d]!, 0);
  if (heuristic === 'random-fit' && !opts.random)
    throw new RangeError('random-fit needs a seeded random generator (opts.random)');
  if (heuristic === 'power-aware-best-fit-decreasing' && !opts.power)
    throw new RangeError(
      'power-aware-best-fit-decreasing needs opts.power (host power models and the CPU dimension)',
    );

  let order = Array.from({ length: N }, (_, i) => i);
  if (heuristic.endsWith('-decreasing')) order = order.sort((a, b) => size(b) - size(a) || a - b);
  const assignment = new Int32Array(N).fill(-1);
  let nextFitHost = 0;
  for (const i of order) {
    let chosen = -1;
    switch (heuristic) {
      case 'first-fit':
      case 'first-fit-decreasing':
        for (let h = 0; h < H && chosen < 0; h++) if (fits(h, i)) chosen = h;
        break;
      case 'next-fit':
        // Keep filling the current host; move on (never back) when the item does not fit.
        for (let k = 0; k < H && chosen < 0; k++) {
          const h = (nextFitHost + k) % H;
          if (fits(h, i)) {
            chosen = h;
            nextFitHost = h;
          }
        }
        break;
      case 'best-fit':
      case 'best-fit-decreasing': {
        let best = Infinity;
        for (let h = 0; h < H; h++)
          if (fits(h, i)) {
            const f = freeAfter(h, i);
            if (f < best) {
              best = f;
              chosen = h;
            }
          }
        break;
      }
      case 'worst-fit': {
        let best = -Infinity;
        for (let h = 0; h < H; h++)
          if (fits(h, i)) {
            const f = freeAfter(h, i);
            if (f > best) {
              best = f;
              chosen = h;
            }
          }
        break;
      }
      case 'random-fit': {
        const ok: number[] = [];
        for (let h = 0; h < H; h++) if (fits(h, i)) ok.push(h);
        if (ok.length) chosen = ok[opts.random!.int(ok.length)]!;
        break;
      }
      case 'power-aware-best-fit-decreasing': {
        // Beloglazov, Abawajy & Buyya, FGCS 2012: the host whose power grows least.
        const { models, cpuDimension: c } = opts.power!;
        let best = Infinity;
        for (let h = 0; h < H; h++) {
          if (!fits(h, i)) continue;
          const cap = inst.capacities[h]![c]!;
          const before = used[h]![c]! > 0 ? powerW(models[h]!, Math.min(1, used[h]![c]! / cap)) : 0;
          const inc = powerW(models[h]!, Math.min(1, (used[h]![c]! + inst.demands[i]![c]!) / cap)) - before;
          if (inc < best) {
            best = inc;
            chosen = h;
          }
        }
        break;
      }
    }
    if (chosen >= 0) {
      assignment[i] = chosen;
      inst.demands[i]!.forEach((x, d) => {
        used[chosen]![d] = used[chosen]![d]! + x;
      });
    }
  }
  const unplaced = order
    .filter((i) => assignment[i]! < 0)
    .sort((a, b) => a - b)
    .map((item) => ({
      item,
      reasons: inst.capacities.map((cap, h) => {
        let d = 0;
        while (d < D && used[h]![d]! + inst.demands[item]![d]! <= cap[d]! + 1e-9) d++;
        const dd = Math.min(d, D - 1);
        return {
          host: h,
          dimension: names[dd]!,
          needed: inst.demands[item]![dd]!,
          free: cap[dd]! - used[h]![dd]!,
        };
      }),
    }));
  const hostsUsed = used.filter((r) => r.some((x) => x > 0)).length;
  const lowerBound = hostLowerBound(inst);
  return { assignment, unplaced, hostsUsed, lowerBound, gap: hostsUsed - lowerBound };
}
