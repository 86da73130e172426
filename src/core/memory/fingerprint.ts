/**
 * Page fingerprints: what a guest's memory holds, as a compact sample of its 4 KiB pages' content
 * hashes, from which the pages a set of guests would share (KSM: one copy per distinct content) are
 * estimated without comparing pages pairwise. Pure.
 *
 * Sampling is by content (Broder, "On the resemblance and containment of documents", 1997): a page is
 * kept when its hash is a multiple of 2^sampleBits, so two guests keep exactly the same contents and
 * the union and overlap of any set of fingerprints are estimated without bias (Memory Buddies, Wood et
 * al., VEE 2009, fingerprint guests' pages for sharing-aware placement; they use Bloom filters, a
 * content-sampled multiset also counts duplicates inside one guest, which KSM merges too).
 * Zero pages, and pages filled with one byte value (a freed-memory poison such as 0xcc), are counted
 * exactly: they are the most common duplicates, cheap to recognise, and a sampled one would be
 * multiplied by 2^sampleBits or missed altogether.
 */

/** Hashes are 48-bit non-negative integers (exact in a double). */
export const HASH_LIMIT = 2 ** 48;
/** Highest sampling exponent accepted (a rate of 1 page in 65,536). */
export const MAX_SAMPLE_BITS = 16;
/** Most sampled hashes one fingerprint may carry (bounds what an agent can make the control plane hold). */
export const MAX_FINGERPRINT_HASHES = 1 << 20;
/** Pages per MiB (4 KiB pages). */
export const PAGES_PER_MIB = 256;

export interface PageFingerprint {
  /** A page's content is sampled when its hash is a multiple of 2^sampleBits (0..16). */
  sampleBits: number;
  /** Resident pages scanned, zero pages included. */
  pages: number;
  /** Resident pages whose bytes are all zero (counted exactly, not sampled). */
  zeroPages: number;
  /**
   * Resident pages filled with one non-zero byte value, counted exactly: `[byte, pages]` pairs, bytes
   * ascending (1..255). Absent = none.
   */
  uniformPages?: [number, number][];
  /** Sampled content hashes of non-zero pages, ascending and distinct. */
  hashes: number[];
  /** How many of the guest's pages hold each sampled content (same order as `hashes`, each ≥ 1). */
  counts: number[];
}

/** What a set of fingerprints would share if merged on one host. Page counts, estimated. */
export interface SharingEstimate {
  /** Resident pages in all (zero pages included). */
  pages: number;
  /** Distinct contents among them (what the host would hold after merging). */
  distinctPages: number;
  /** Pages merging would free: `pages − distinctPages` (KSM's `pages_sharing`). */
  savedPages: number;
}

/** Builds a fingerprint page by page (the agent's scanner feeds it one hash per resident page). */
export class FingerprintBuilder {
  private readonly counts = new Map<number, number>();
  private readonly uniform = new Map<number, number>();
  private pages = 0;
  private zeros = 0;
  private readonly modulus: number;

  constructor(readonly sampleBits: number) {
    checkSampleBits(sampleBits);
    this.modulus = 2 ** sampleBits;
  }

  /** A resident non-zero page with content hash `hash` (48-bit integer). */
  addPage(hash: number): void {
    this.pages++;
    if (hash % this.modulus === 0) this.counts.set(hash, (this.counts.get(hash) ?? 0) + 1);
  }

  /** A resident page of zeros. */
  addZeroPage(): void {
    this.pages++;
    this.zeros++;
  }

  /** A resident page whose 4,096 bytes all equal `byte` (0 is a zero page). */
  addUniformPage(byte: number): void {
    if (!(Number.isInteger(byte) && byte >= 0 && byte <= 255))
      throw new RangeError(`byte must be 0..255, got ${byte}`);
    if (byte === 0) return this.addZeroPage();
    this.pages++;
    this.uniform.set(byte, (this.uniform.get(byte) ?? 0) + 1);
  }

  build(): PageFingerprint {
    const hashes = [...this.counts.keys()].sort((a, b) => a - b);
    const fp: PageFingerprint = {
      sampleBits: this.sampleBits,
      pages: this.pages,
      zeroPages: this.zeros,
      hashes,
      counts: hashes.map((h) => this.counts.get(h)!),
    };
    if (this.uniform.size) fp.uniformPages = [...this.uniform].sort((a, b) => a[0] - b[0]);
    return fp;
  }
}

/** Whether a hash is kept at `sampleBits`. */
export const sampled = (hash: number, sampleBits: number) => hash % 2 ** sampleBits === 0;

/**
 * The same fingerprint at a coarser rate (keeps the hashes that are multiples of 2^sampleBits): what
 * lets fingerprints taken at different rates be compared.
 * @throws RangeError when `sampleBits` is finer than the fingerprint's own
 */
export function downsample(fp: PageFingerprint, sampleBits: number): PageFingerprint {
  checkSampleBits(sampleBits);
  if (sampleBits < fp.sampleBits)
    throw new RangeError(`cannot refine a fingerprint sampled at 2^-${fp.sampleBits} to 2^-${sampleBits}`);
  if (sampleBits === fp.sampleBits) return fp;
  const hashes: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < fp.hashes.length; i++)
    if (sampled(fp.hashes[i]!, sampleBits)) {
      hashes.push(fp.hashes[i]!);
      counts.push(fp.counts[i]!);
    }
  const out: PageFingerprint = { sampleBits, pages: fp.pages, zeroPages: fp.zeroPages, hashes, counts };
  if (fp.uniformPages) out.uniformPages = fp.uniformPages;
  return out;
}

/**
 * Incremental sharing estimate for one host: add and remove guests' fingerprints, read how many
 * pages merging saves, and how many a candidate guest would add to the savings (the sharing-aware
 * scorer's measure). All fingerprints are taken to `sampleBits` (coarser ones are refused).
 */
export class SharingIndex {
  private readonly counts = new Map<number, number>();
  /** Pages per uniform byte value (exact), and Σ over them of max(0, pages − 1). */
  private readonly uniform = new Map<number, number>();
  private uniformSaved = 0;
  private zeros = 0;
  private pages = 0;
  /** Σ over sampled contents of (count − 1). */
  private excess = 0;

  /** Answers about candidate fingerprints since the last add or remove (a scheduler asks per decision). */
  private memo = new WeakMap<PageFingerprint, { marginal?: number; with?: SharingEstimate }>();

  constructor(readonly sampleBits: number) {
    checkSampleBits(sampleBits);
  }

  /** Add a guest's pages. @throws RangeError for a fingerprint sampled coarser than the index */
  add(fp: PageFingerprint): void {
    this.memo = new WeakMap();
    const f = downsample(fp, this.sampleBits);
    this.pages += f.pages;
    this.zeros += f.zeroPages;
    for (const [byte, k] of f.uniformPages ?? []) {
      const n = this.uniform.get(byte) ?? 0;
      this.uniformSaved += n > 0 ? k : k - 1;
      this.uniform.set(byte, n + k);
    }
    for (let i = 0; i < f.hashes.length; i++) {
      const h = f.hashes[i]!;
      const k = f.counts[i]!;
      const n = this.counts.get(h) ?? 0;
      this.excess += n > 0 ? k : k - 1;
      this.counts.set(h, n + k);
    }
  }

  /** Remove a guest's pages (the same fingerprint that was added). */
  remove(fp: PageFingerprint): void {
    this.memo = new WeakMap();
    const f = downsample(fp, this.sampleBits);
    this.pages -= f.pages;
    this.zeros -= f.zeroPages;
    for (const [byte, k] of f.uniformPages ?? []) {
      const n = this.uniform.get(byte) ?? 0;
      if (n < k)
        throw new RangeError(`fingerprint was not added: byte ${byte} has ${n} pages, removing ${k}`);
      this.uniformSaved -= n - k > 0 ? k : k - 1;
      if (n === k) this.uniform.delete(byte);
      else this.uniform.set(byte, n - k);
    }
    for (let i = 0; i < f.hashes.length; i++) {
      const h = f.hashes[i]!;
      const k = f.counts[i]!;
      const n = this.counts.get(h) ?? 0;
      if (n < k)
        throw new RangeError(`fingerprint was not added: content ${h} has ${n} pages, removing ${k}`);
      this.excess -= n - k > 0 ? k : k - 1;
      if (n === k) this.counts.delete(h);
      else this.counts.set(h, n - k);
    }
  }

  /** The estimate for the guests added. */
  estimate(): SharingEstimate {
    const saved = Math.min(
      Math.max(0, this.pages - 1),
      Math.max(0, this.zeros - 1) + this.uniformSaved + this.excess * 2 ** this.sampleBits,
    );
    return { pages: this.pages, distinctPages: this.pages - saved, savedPages: saved };
  }

  /**
   * The estimate with `fp` added, without adding it: the same numbers `add(fp)` then `estimate()`
   * give (integer counts, so exactly), at the cost of one lookup per sampled content.
   */
  estimateWith(fp: PageFingerprint): SharingEstimate {
    const m = this.memoOf(fp);
    return (m.with ??= this.estimateWithNow(fp));
  }

  private memoOf(fp: PageFingerprint) {
    let m = this.memo.get(fp);
    if (!m) {
      m = {};
      this.memo.set(fp, m);
    }
    return m;
  }

  private estimateWithNow(fp: PageFingerprint): SharingEstimate {
    const f = downsample(fp, this.sampleBits);
    let excess = this.excess;
    for (let i = 0; i < f.hashes.length; i++) {
      const n = this.counts.get(f.hashes[i]!) ?? 0;
      excess += n > 0 ? f.counts[i]! : f.counts[i]! - 1;
    }
    let uniformSaved = this.uniformSaved;
    for (const [byte, k] of f.uniformPages ?? [])
      uniformSaved += (this.uniform.get(byte) ?? 0) > 0 ? k : k - 1;
    const pages = this.pages + f.pages;
    const zeros = this.zeros + f.zeroPages;
    const saved = Math.min(
      Math.max(0, pages - 1),
      Math.max(0, zeros - 1) + uniformSaved + excess * 2 ** this.sampleBits,
    );
    return { pages, distinctPages: pages - saved, savedPages: saved };
  }

  /** Pages the host would save in all with `fp` added, minus what it saves now. */
  marginalSavedPages(fp: PageFingerprint): number {
    const m = this.memoOf(fp);
    return (m.marginal ??= this.marginalNow(fp));
  }

  private marginalNow(fp: PageFingerprint): number {
    const f = downsample(fp, this.sampleBits);
    let excess = 0;
    for (let i = 0; i < f.hashes.length; i++) {
      const n = this.counts.get(f.hashes[i]!) ?? 0;
      excess += n > 0 ? f.counts[i]! : f.counts[i]! - 1;
    }
    const zerosAfter = this.zeros + f.zeroPages;
    let exact = Math.max(0, zerosAfter - 1) - Math.max(0, this.zeros - 1);
    for (const [byte, k] of f.uniformPages ?? []) exact += (this.uniform.get(byte) ?? 0) > 0 ? k : k - 1;
    return Math.max(0, Math.min(f.pages, exact + excess * 2 ** this.sampleBits));
  }

  /**
   * Pages `fp` would share with the guests already here (its marginal saving minus what it saves
   * alone): the measure a sharing-aware placement maximises.
   */
  sharedWith(fp: PageFingerprint): number {
    let alone = selfSaved.get(fp);
    if (alone === undefined) {
      alone = estimateSharing([fp]).savedPages;
      selfSaved.set(fp, alone);
    }
    return Math.max(0, this.marginalSavedPages(fp) - alone);
  }
}

/** What each fingerprint saves alone (fingerprints are not changed once built: a scheduler asks per host). */
const selfSaved = new WeakMap<PageFingerprint, number>();

/**
 * Pages a set of guests would share on one host, estimated from their fingerprints (taken to the
 * coarsest sampling among them). Unbiased for the non-zero part; its relative error shrinks as
 * 1/√(sampled shared contents).
 * @example estimateSharing([a, b]).savedPages * 4096 // bytes KSM would free
 */
export function estimateSharing(fps: readonly PageFingerprint[]): SharingEstimate {
  if (fps.length === 0) return { pages: 0, distinctPages: 0, savedPages: 0 };
  const idx = new SharingIndex(Math.max(...fps.map((f) => f.sampleBits)));
  for (const f of fps) idx.add(f);
  return idx.estimate();
}

/** One group of page contents in a synthetic fingerprint. */
export interface SyntheticSegment {
  /** Contents are numbered 0.. within a seed: two segments with the same seed share their common prefix. */
  seed: number;
  /** Distinct contents in the segment. */
  pages: number;
  /** Copies of each content inside this guest (duplicates KSM merges within one guest). Default 1. */
  copies?: number;
}

/**
 * A deterministic fingerprint with a known content, for tests and the simulator: `segments` of
 * numbered contents (same seed = same contents, so overlap between guests is known exactly) plus
 * zero pages. The sampled hashes are generated directly (1 in 2^sampleBits contents of each seed), so
 * building a fingerprint costs O(pages / 2^sampleBits).
 */
export function syntheticFingerprint(o: {
  sampleBits: number;
  zeroPages?: number;
  /** Pages filled with one byte value: `[byte, pages]`, bytes 1..255 ascending. */
  uniformPages?: [number, number][];
  segments: readonly SyntheticSegment[];
}): PageFingerprint {
  checkSampleBits(o.sampleBits);
  const m = 2 ** o.sampleBits;
  const counts = new Map<number, number>();
  let pages = (o.zeroPages ?? 0) + (o.uniformPages ?? []).reduce((a, [, k]) => a + k, 0);
  for (const s of o.segments) {
    const copies = s.copies ?? 1;
    if (!(Number.isInteger(s.pages) && s.pages >= 0 && Number.isInteger(copies) && copies >= 1))
      throw new RangeError(`segment pages and copies must be whole numbers (got ${s.pages}, ${copies})`);
    pages += s.pages * copies;
    const kept = Math.floor(s.pages / m);
    for (let j = 0; j < kept; j++) {
      const h = contentHash(s.seed, j, o.sampleBits);
      counts.set(h, (counts.get(h) ?? 0) + copies);
    }
  }
  const hashes = [...counts.keys()].sort((a, b) => a - b);
  const fp: PageFingerprint = {
    sampleBits: o.sampleBits,
    pages,
    zeroPages: o.zeroPages ?? 0,
    hashes,
    counts: hashes.map((h) => counts.get(h)!),
  };
  if (o.uniformPages?.length) fp.uniformPages = o.uniformPages.map(([b, k]) => [b, k]);
  return fp;
}

/** The j-th sampled content of `seed`: a 48-bit multiple of 2^sampleBits (two 32-bit mixes, murmur3 fmix). */
function contentHash(seed: number, j: number, sampleBits: number): number {
  const a = fmix32((seed * 0x9e3779b1) ^ j);
  const b = fmix32(a ^ 0x85ebca6b ^ (seed >>> 0));
  const v = (a >>> 0) * 65536 + (b >>> 16);
  const m = 2 ** sampleBits;
  return Math.floor(v / m) * m;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function checkSampleBits(b: number): void {
  if (!(Number.isInteger(b) && b >= 0 && b <= MAX_SAMPLE_BITS))
    throw new RangeError(`sampleBits must be a whole number from 0 to ${MAX_SAMPLE_BITS}, got ${b}`);
}

/**
 * Problems with a fingerprint received from outside (an agent's report); empty when valid.
 * Checks shape, ranges, order, the sampling rule and that the counts fit in the pages.
 */
export function checkFingerprint(x: unknown): string[] {
  const e: string[] = [];
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return ['fingerprint must be an object'];
  const f = x as Record<string, unknown>;
  const int = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (!(int(f.sampleBits) && (f.sampleBits as number) <= MAX_SAMPLE_BITS))
    e.push(`sampleBits must be a whole number from 0 to ${MAX_SAMPLE_BITS}`);
  if (!int(f.pages)) e.push('pages must be a whole number ≥ 0');
  if (!int(f.zeroPages)) e.push('zeroPages must be a whole number ≥ 0');
  if (!Array.isArray(f.hashes) || !Array.isArray(f.counts)) {
    e.push('hashes and counts must be arrays');
    return e;
  }
  if (f.hashes.length !== f.counts.length) e.push('hashes and counts must have the same length');
  if (f.hashes.length > MAX_FINGERPRINT_HASHES) e.push(`at most ${MAX_FINGERPRINT_HASHES} hashes`);
  if (e.length) return e;
  const m = 2 ** (f.sampleBits as number);
  let prev = -1;
  let sum = 0;
  for (let i = 0; i < f.hashes.length; i++) {
    const h = f.hashes[i];
    const c = f.counts[i];
    if (!(int(h) && (h as number) < HASH_LIMIT && (h as number) % m === 0 && (h as number) > prev)) {
      e.push(`hashes[${i}] must be a 48-bit whole number, a multiple of 2^sampleBits, above the one before`);
      break;
    }
    if (!(int(c) && (c as number) >= 1)) {
      e.push(`counts[${i}] must be a whole number ≥ 1`);
      break;
    }
    prev = h as number;
    sum += c as number;
  }
  if (f.uniformPages !== undefined) {
    if (!Array.isArray(f.uniformPages) || f.uniformPages.length > 255) {
      e.push('uniformPages must be an array of at most 255 [byte, pages] pairs');
      return e;
    }
    let last = 0;
    for (const [i, u] of f.uniformPages.entries()) {
      if (!(
        Array.isArray(u) &&
        u.length === 2 &&
        int(u[0]) &&
        u[0] > last &&
        u[0] <= 255 &&
        int(u[1]) &&
        u[1] >= 1
      )) {
        e.push(`uniformPages[${i}] must be [byte 1..255 above the one before, pages ≥ 1]`);
        return e;
      }
      last = u[0] as number;
      sum += u[1] as number;
    }
  }
  if (!e.length && (f.zeroPages as number) + sum > (f.pages as number))
    e.push('zeroPages plus the uniform pages and sampled counts exceed pages');
  return e;
}
