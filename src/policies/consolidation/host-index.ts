/**
 * An index of hosts by power class (power model and capacity) and by the segment of the piecewise
 * linear power curve their allocation is in, so power-aware best fit (PABFD, Beloglazov & Buyya,
 * CCPE 2012, Alg. 1) finds its host without computing the power increase of every host.
 *
 * A query is a best-first search: every bucket has a lower bound on the power increase of any host
 * in it (the least base offset of its hosts plus the VM's utilization share times the least slope
 * of the segments the increase can span, minus a margin for rounding); buckets are evaluated in
 * bound order with the caller's exact formula, and a host is returned only once no unevaluated
 * bucket could hold a host ranked before it by (increase, id). The answer is the plain scan's.
 * Pure data structure: no I/O, no clock.
 */
import { powerW, type PowerModelSpec } from '../../models/power.ts';

const EMPTY = new Int32Array(0);

/**
 * What a placement asks of candidate hosts. An object with methods, not two closures: a closure per
 * planning round reached from a long-lived call site's feedback keeps that round's whole trial
 * cluster alive through young-generation GCs (measured: +45 MB RSS on the CloudSim reference run).
 */
export interface HostScorer {
  /** The power increase of placing the VM on host h (less a bonus, if any), W; NaN when it does not fit. */
  evaluate(h: number): number;
  /** Whether host h takes the VM (the overload detector's test). */
  accept(h: number): boolean;
}

/** Power classes of a cluster's hosts: hosts with the same power model and capacity share one. */
export interface PowerClasses {
  /** Class of each host. */
  readonly classOf: Int32Array;
  readonly capacity: Float64Array;
  /** Per class, 10 × 10 table: least slope (W per unit of utilization) over segments lo..hi. */
  readonly minSlope: Float64Array[];
  /** Rounding margin subtracted from every bound, W. */
  readonly margin: number;
}

const classCache = new WeakMap<
  readonly PowerModelSpec[],
  { capacity: Float64Array; classes: PowerClasses }
>();

/** The power classes of hosts with these models and capacities (cached per `power` array). */
export function powerClasses(power: readonly PowerModelSpec[], capacity: Float64Array): PowerClasses {
  const hit = classCache.get(power);
  if (hit && sameValues(hit.capacity, capacity)) return hit.classes;
  const modelKey = new Map<PowerModelSpec, string>();
  const ids = new Map<string, number>();
  const classOf = new Int32Array(power.length);
  const caps: number[] = [];
  const minSlope: Float64Array[] = [];
  let maxW = 0;
  for (let h = 0; h < power.length; h++) {
    const m = power[h]!;
    let mk = modelKey.get(m);
    if (mk === undefined) {
      mk = JSON.stringify(m);
      modelKey.set(m, mk);
    }
    const key = `${mk}|${capacity[h]}`;
    let c = ids.get(key);
    if (c === undefined) {
      c = caps.length;
      ids.set(key, c);
      caps.push(capacity[h]!);
      const slopes = Array.from({ length: 10 }, (_, j) =>
        m.type === 'linear' ? m.maxW - m.idleW : (m.wattsAt[j + 1]! - m.wattsAt[j]!) * 10,
      );
      const table = new Float64Array(100);
      for (let lo = 0; lo < 10; lo++) {
        let s = Infinity;
        for (let hi = lo; hi < 10; hi++) table[lo * 10 + hi] = s = Math.min(s, slopes[hi]!);
      }
      minSlope.push(table);
      for (let j = 0; j <= 10; j++) maxW = Math.max(maxW, Math.abs(powerW(m, j / 10)));
    }
    classOf[h] = c;
  }
  const classes = { classOf, capacity: Float64Array.from(caps), minSlope, margin: 1e-7 * (1 + maxW) };
  classCache.set(power, { capacity: Float64Array.from(capacity), classes });
  return classes;
}

function sameValues(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const spare = new WeakMap<PowerClasses, PowerIncreaseIndex[]>();

/** Levels of allocated/capacity per power class: 1 % steps and one for allocations at capacity or above. */
const LEVELS = 101;
/** Levels of free RAM (eighths of the largest host's RAM). */
const RAM_LEVELS = 8;

/**
 * The hosts a placement may choose from, bucketed by (power class, allocated/capacity in 1 % steps,
 * free RAM in eighths), each with its base offset P(min(1, allocated/capacity)) − (power the host
 * draws now). Buckets keep bounds (least base, most free MIPS and RAM, largest core) that are exact
 * after a query reads the bucket and only loosen in between, so a bucket whose bounds rule a VM out
 * is skipped without reading its hosts.
 */
export class PowerIncreaseIndex {
  private readonly bucketOf: Int32Array;
  private readonly posOf: Int32Array;
  private readonly base: Float64Array;
  private readonly avail: Float64Array;
  private readonly freeRam: Float64Array;
  private readonly members: Int32Array[] = [];
  private readonly sizes: Int32Array;
  private readonly minBase: Float64Array;
  private readonly maxAvail: Float64Array;
  private readonly maxRam: Float64Array;
  private readonly maxPe: Float64Array;
  /** Nonempty buckets, and each bucket's place in that list. */
  private readonly live: Int32Array;
  private liveCount = 0;
  private readonly livePos: Int32Array;
  private readonly bound: Float64Array;
  /** A min-heap of bucket ids by `bound` (the buckets a query has yet to read). */
  private readonly cand: Int32Array;
  private readonly ramUnit: number;
  private heapDiff: Float64Array;
  private heapHost: Int32Array;
  private heapSize = 0;

  constructor(
    private readonly classes: PowerClasses,
    private readonly power: readonly PowerModelSpec[],
    private readonly peMips: Float64Array,
    private readonly ramMiB: Float64Array,
  ) {
    const H = classes.classOf.length;
    const B = classes.capacity.length * LEVELS * RAM_LEVELS;
    this.bucketOf = new Int32Array(H).fill(-1);
    this.posOf = new Int32Array(H);
    this.base = new Float64Array(H);
    this.avail = new Float64Array(H);
    this.freeRam = new Float64Array(H);
    for (let b = 0; b < B; b++) this.members.push(EMPTY);
    this.sizes = new Int32Array(B);
    this.minBase = new Float64Array(B).fill(Infinity);
    this.maxAvail = new Float64Array(B).fill(-Infinity);
    this.maxRam = new Float64Array(B).fill(-Infinity);
    this.maxPe = new Float64Array(B).fill(-Infinity);
    this.live = new Int32Array(B);
    this.livePos = new Int32Array(B);
    this.bound = new Float64Array(B);
    this.cand = new Int32Array(B);
    let maxRam = 0;
    for (let h = 0; h < H; h++) maxRam = Math.max(maxRam, ramMiB[h]!);
    this.ramUnit = maxRam > 0 ? maxRam / RAM_LEVELS : 1;
    this.heapDiff = new Float64Array(16);
    this.heapHost = new Int32Array(16);
  }

  /**
   * An empty index for these hosts, reusing one given back with `release` (a planning round builds
   * two per step; reuse keeps the simulator's memory flat).
   */
  static acquire(
    classes: PowerClasses,
    power: readonly PowerModelSpec[],
    peMips: Float64Array,
    ramMiB: Float64Array,
  ): PowerIncreaseIndex {
    const free = spare.get(classes);
    const i = free?.findIndex((x) => x.power === power && x.peMips === peMips && x.ramMiB === ramMiB) ?? -1;
    if (i >= 0) return free!.splice(i, 1)[0]!;
    return new PowerIncreaseIndex(classes, power, peMips, ramMiB);
  }

  /** Empty this index and keep it for `acquire`; do not use it afterwards. */
  release(): void {
    for (let i = 0; i < this.liveCount; i++) {
      const b = this.live[i]!;
      this.sizes[b] = 0;
      this.minBase[b] = Infinity;
      this.maxAvail[b] = this.maxRam[b] = this.maxPe[b] = -Infinity;
    }
    this.liveCount = 0;
    this.bucketOf.fill(-1);
    let free = spare.get(this.classes);
    if (!free) spare.set(this.classes, (free = []));
    if (free.length < 2) free.push(this);
  }

  has(h: number): boolean {
    return this.bucketOf[h]! >= 0;
  }

  /** Insert host h, or update it after its allocation changed. */
  set(h: number, allocatedMips: number, availableMips: number, freeRamMiB: number, nowW: number): void {
    const c = this.classes.classOf[h]!;
    const x = allocatedMips / this.classes.capacity[c]!;
    const level = x >= 1 ? LEVELS - 1 : Math.floor(x * 100);
    const rl = freeRamMiB > 0 ? Math.min(RAM_LEVELS - 1, Math.floor(freeRamMiB / this.ramUnit)) : 0;
    const b = (c * LEVELS + level) * RAM_LEVELS + rl;
    const base = powerW(this.power[h]!, x >= 1 ? 1 : x) - nowW;
    if (this.bucketOf[h] !== b) {
      this.delete(h);
      let m = this.members[b]!;
      const n = this.sizes[b]!;
      if (n === m.length) {
        const grown = new Int32Array(Math.max(4, n * 2));
        grown.set(m);
        this.members[b] = m = grown;
      }
      m[n] = h;
      this.posOf[h] = n;
      this.sizes[b] = n + 1;
      this.bucketOf[h] = b;
      if (n === 0) {
        this.live[this.liveCount] = b;
        this.livePos[b] = this.liveCount++;
      }
    }
    this.base[h] = base;
    this.avail[h] = availableMips;
    this.freeRam[h] = freeRamMiB;
    if (base < this.minBase[b]!) this.minBase[b] = base;
    if (availableMips > this.maxAvail[b]!) this.maxAvail[b] = availableMips;
    if (freeRamMiB > this.maxRam[b]!) this.maxRam[b] = freeRamMiB;
    if (this.peMips[h]! > this.maxPe[b]!) this.maxPe[b] = this.peMips[h]!;
  }

  delete(h: number): void {
    const b = this.bucketOf[h]!;
    if (b < 0) return;
    const m = this.members[b]!;
    const last = --this.sizes[b]!;
    const p = this.posOf[h]!;
    const moved = m[last]!;
    m[p] = moved;
    this.posOf[moved] = p;
    this.bucketOf[h] = -1;
    if (last === 0) {
      this.minBase[b] = Infinity;
      this.maxAvail[b] = this.maxRam[b] = this.maxPe[b] = -Infinity;
      const lp = this.livePos[b]!;
      const other = this.live[--this.liveCount]!;
      this.live[lp] = other;
      this.livePos[other] = lp;
    }
  }

  /**
   * The host with the least (increase, id) among those `s.evaluate` gives a number for (NaN: does not
   * fit) that `s.accept` takes, asking `s.accept` in that order; -1 when none.
   * @param d the VM's demand, MIPS: hosts need that much free and on one core; the bounds scale with it.
   * @param r the VM's RAM, MiB, when RAM is checked, else 0.
   * @param slackW how far below the power increase `s.evaluate` may go (a placement bonus: every bound
   *   is lowered by it, so the bounds stay valid and the answer stays the scan's), W.
   */
  best(d: number, r: number, s: HostScorer, slackW = 0): number {
    const { classes } = this;
    const { cand, bound } = this;
    let nb = 0;
    for (let i = 0; i < this.liveCount; i++) {
      const b = this.live[i]!;
      if (this.maxAvail[b]! < d || this.maxPe[b]! < d || this.maxRam[b]! < r) continue;
      const cl = (b / RAM_LEVELS) | 0;
      const c = (cl / LEVELS) | 0;
      const k = Math.floor((cl - c * LEVELS) / 10);
      let inc = 0;
      if (k < 10) {
        const share = d / classes.capacity[c]!;
        const hi = Math.min(9, k + 1 + Math.ceil(share * 10));
        const s = classes.minSlope[c]![Math.max(0, k - 1) * 10 + hi]!;
        inc = s >= 0 ? s * Math.max(0, share - 1e-8) : s * (share + 1e-8);
      }
      bound[b] = this.minBase[b]! + inc - classes.margin - slackW;
      cand[nb++] = b;
    }
    // Buckets leave in bound order from a heap built in O(n) (Floyd): a query that stops early
    // does not pay for sorting the buckets it never reads, and nothing is allocated per query.
    for (let i = (nb >> 1) - 1; i >= 0; i--) siftDown(cand, bound, i, nb);
    this.heapSize = 0;
    for (;;) {
      while (nb > 0 && (this.heapSize === 0 || !(bound[cand[0]!]! > this.heapDiff[0]!))) {
        const b = cand[0]!;
        cand[0] = cand[--nb]!;
        siftDown(cand, bound, 0, nb);
        this.readBucket(b, s);
      }
      if (this.heapSize === 0) return -1;
      const h = this.heapHost[0]!;
      this.pop();
      if (s.accept(h)) return h;
    }
  }

  /** Evaluate every host of bucket b, pushing those that fit, and make its bounds exact. */
  private readBucket(b: number, s: HostScorer): void {
    const m = this.members[b]!;
    let mb = Infinity,
      ma = -Infinity,
      mr = -Infinity,
      mp = -Infinity;
    for (let i = 0; i < this.sizes[b]!; i++) {
      const h = m[i]!;
      if (this.base[h]! < mb) mb = this.base[h]!;
      if (this.avail[h]! > ma) ma = this.avail[h]!;
      if (this.freeRam[h]! > mr) mr = this.freeRam[h]!;
      if (this.peMips[h]! > mp) mp = this.peMips[h]!;
      const diff = s.evaluate(h);
      if (diff === diff) this.push(diff, h);
    }
    this.minBase[b] = mb;
    this.maxAvail[b] = ma;
    this.maxRam[b] = mr;
    this.maxPe[b] = mp;
  }
  private less(i: number, j: number): boolean {
    const a = this.heapDiff[i]!,
      b = this.heapDiff[j]!;
    return a < b || (a === b && this.heapHost[i]! < this.heapHost[j]!);
  }

  private push(diff: number, h: number): void {
    if (this.heapSize === this.heapDiff.length) {
      const d = new Float64Array(this.heapSize * 2);
      d.set(this.heapDiff);
      this.heapDiff = d;
      const hh = new Int32Array(this.heapSize * 2);
      hh.set(this.heapHost);
      this.heapHost = hh;
    }
    let i = this.heapSize++;
    this.heapDiff[i] = diff;
    this.heapHost[i] = h;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  private pop(): void {
    const n = --this.heapSize;
    this.heapDiff[0] = this.heapDiff[n]!;
    this.heapHost[0] = this.heapHost[n]!;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1,
        r = l + 1;
      let m = i;
      if (l < n && this.less(l, m)) m = l;
      if (r < n && this.less(r, m)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }

  private swap(i: number, j: number): void {
    const d = this.heapDiff[i]!;
    this.heapDiff[i] = this.heapDiff[j]!;
    this.heapDiff[j] = d;
    const h = this.heapHost[i]!;
    this.heapHost[i] = this.heapHost[j]!;
    this.heapHost[j] = h;
  }
}

/** Restore the min-heap property of heap[0..n) by key below position i. */
function siftDown(heap: Int32Array, key: Float64Array, i: number, n: number): void {
  const x = heap[i]!;
  const kx = key[x]!;
  for (;;) {
    let c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && key[heap[c + 1]!]! < key[heap[c]!]!) c++;
    if (!(key[heap[c]!]! < kx)) break;
    heap[i] = heap[c]!;
    i = c;
  }
  heap[i] = x;
}
