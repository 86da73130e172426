/**
 * Lower bounds on the number of hosts any feasible placement of a {@link PackInstance} uses, per
 * resource dimension: L1 (total demand over capacity) and L2 (Martello & Toth, "Knapsack Problems:
 * Algorithms and Computer Implementations", Wiley 1990, §8.3.1), and their maximum. A packing must
 * fit in every dimension at once, so the bound of any one dimension bounds the whole. Pure functions.
 */
import type { PackInstance } from '../optimize/instance.ts';

/** Which bound, and in which dimension, gave the best value. */
export interface BoundWinner {
  bound: 'l1' | 'l2';
  dim: string;
}

/** A bound: its value (hosts), the value per dimension, and the dimension that gave it. */
export interface DimBound {
  value: number;
  perDim: number[];
  dim: string;
}

/** The best lower bound on hosts, with every bound computed and the one that won. */
export interface LowerBound {
  hosts: number;
  winner: BoundWinner;
  l1: DimBound;
  l2: DimBound;
}

const EPS = 1e-9;

function column(inst: PackInstance, d: number): { demands: number[]; caps: number[] } {
  return { demands: inst.vms.map((v) => v.demand[d]!), caps: inst.hosts.map((h) => h.capacity[d]!) };
}

/** Fewest hosts, largest first, whose capacities add up to `need` (all of them if none do). */
function fewestLargest(capsDesc: readonly number[], need: number): number {
  let k = 0,
    sum = 0;
  while (sum < need - EPS && k < capsDesc.length) sum += capsDesc[k++]!;
  return sum < need - EPS ? capsDesc.length + 1 : k;
}

/** L1 of one dimension: the fewest largest hosts whose capacity covers the total demand. */
function l1Dim(demands: readonly number[], caps: readonly number[]): number {
  const total = demands.reduce((s, x) => s + x, 0);
  if (total <= EPS) return 0;
  return fewestLargest(
    [...caps].sort((a, b) => b - a),
    total,
  );
}

/**
 * L2 of one dimension for bins of capacity C (Martello & Toth 1990, Theorem 8.3): for every K in
 * [0, C/2], with J1 = items > C−K, J2 = items in (C/2, C−K], J3 = items in [K, C/2]:
 * L(K) = |J1| + |J2| + max(0, ⌈(ΣJ3 − (|J2|·C − ΣJ2)) / C⌉); L2 = max over K. Only K equal to an item
 * size (or 0) need be tried. Items of size 0 are left out (they need no host of their own).
 */
export function l2Identical(sizes: readonly number[], C: number): number {
  return l2Core(sizes, C, (rest) => Math.ceil(rest / C - EPS));
}

/**
 * L2's scan over K with bins of capacity C; `extraHosts(rest)` is how many further hosts the J3
 * volume left over needs at least.
 */
function l2Core(sizes: readonly number[], C: number, extraHosts: (rest: number) => number): number {
  const items = sizes.filter((x) => x > EPS).sort((a, b) => b - a);
  if (items.length === 0) return 0;
  if (!(C > 0)) return items.length; // nothing fits: every item would need its own host
  const ks = [0, ...new Set(items.filter((x) => x <= C / 2 + EPS))];
  let best = 0;
  for (const K of ks) {
    let n12 = 0,
      n2 = 0,
      sum2 = 0,
      sum3 = 0;
    for (const x of items) {
      if (x > C - K + EPS) n12++;
      else if (x > C / 2 + EPS) {
        n12++;
        n2++;
        sum2 += x;
      } else if (x >= K - EPS) sum3 += x;
    }
    const rest = sum3 - (n2 * C - sum2);
    const v = n12 + (rest > EPS ? extraHosts(rest) : 0);
    if (v > best) best = v;
  }
  return best;
}

/**
 * L2 of one dimension generalised to unequal hosts. With C the largest capacity: no two items of
 * J1 ∪ J2 share a host and no J1 item shares one with a J3 item on any host (none is larger than
 * C), the free room the J2 items leave is at most |J2|·C − ΣJ2, and the J3 volume beyond it needs at
 * least the fewest largest hosts covering it. With identical hosts this is Martello & Toth's L2. An
 * item larger than every host makes the instance infeasible: the bound is then the hosts + 1.
 */
function l2Dim(demands: readonly number[], caps: readonly number[]): number {
  const C = Math.max(0, ...caps);
  if (demands.some((x) => x > C + EPS)) return caps.length + 1;
  const desc = [...caps].sort((a, b) => b - a);
  return Math.min(
    l2Core(demands, C, (rest) => fewestLargest(desc, rest)),
    caps.length + 1,
  );
}

function perDimension(inst: PackInstance, f: (demands: number[], caps: number[]) => number): DimBound {
  const perDim = inst.dims.map((_, d) => {
    const { demands, caps } = column(inst, d);
    return f(demands, caps);
  });
  let w = 0;
  perDim.forEach((v, d) => {
    if (v > perDim[w]!) w = d;
  });
  return { value: perDim.length ? perDim[w]! : 0, perDim, dim: inst.dims[w] ?? '' };
}

/**
 * L1 per dimension: ⌈total demand / capacity⌉ for identical hosts; for unequal hosts the fewest
 * largest hosts whose capacities add up to the total demand. The value is the maximum over dimensions.
 * A value above the number of hosts means the instance is infeasible.
 * @example l1Bound({ dims: ['cpu'], hosts: [h(10), h(10), h(10)], vms: [v(6), v(6), v(6)] }).value // 2
 */
export function l1Bound(inst: PackInstance): DimBound {
  return perDimension(inst, l1Dim);
}

/**
 * Martello & Toth's L2 per dimension (see {@link l2Identical}), generalised to unequal hosts with the
 * largest capacity and the fewest largest hosts for the volume left over; the maximum over dimensions.
 * @example l2Bound({ dims: ['cpu'], hosts: [h(10), h(10), h(10)], vms: [v(6), v(6), v(6)] }).value // 3
 */
export function l2Bound(inst: PackInstance): DimBound {
  return perDimension(inst, l2Dim);
}

/**
 * The best lower bound on hosts used: max over dimensions of L1 and L2, with which one won (L1 on
 * ties). Never above the optimum of a feasible instance.
 */
export function lowerBound(inst: PackInstance): LowerBound {
  const l1 = l1Bound(inst);
  const l2 = l2Bound(inst);
  const winner: BoundWinner =
    l2.value > l1.value ? { bound: 'l2', dim: l2.dim } : { bound: 'l1', dim: l1.dim };
  return { hosts: Math.max(l1.value, l2.value), winner, l1, l2 };
}

/** Relative gap of a solution using `hostsUsed` hosts to a bound: (used − bound) / used, 0 if none used. */
export function boundGap(hostsUsed: number, bound: number): number {
  return hostsUsed > 0 ? Math.max(0, (hostsUsed - bound) / hostsUsed) : 0;
}
