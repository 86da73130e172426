/**
 * Seeded pseudo-random numbers. Every random choice in nubis takes a `Random`; every seed is part
 * of a run's spec, so the same spec and seed give the same numbers.
 */

/** A source of uniform numbers in [0, 1). */
export interface Random {
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** An independent generator derived from this one (for sub-streams). */
  fork(): Random;
}

/** SplitMix32 mixing of a seed into a 32-bit state (Steele, Lea & Flood, OOPSLA 2014). */
function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** sfc32, a small fast chaotic generator (Doty-Humphrey, PractRand). Passes PractRand to 2^40+. */
class Sfc32 implements Random {
  constructor(
    private a: number,
    private b: number,
    private c: number,
    private d: number,
  ) {}
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }
  int(n: number): number {
    if (!(n >= 1) || !Number.isInteger(n)) throw new RangeError(`int(n) needs a positive integer, got ${n}`);
    return Math.floor(this.next() * n);
  }
  fork(): Random {
    return seededRandom(Math.floor(this.next() * 4294967296));
  }
}

/**
 * A seeded generator. The same seed gives the same sequence on every platform.
 * @example const r = seededRandom(42); r.next(); r.int(6)
 */
export function seededRandom(seed: number): Random {
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  const s = Math.floor(seed) >>> 0;
  const g = new Sfc32(mix32(s), mix32(s ^ 0x1234567), mix32(s ^ 0x89abcdef), mix32(s + 1));
  for (let i = 0; i < 12; i++) g.next();
  return g;
}
