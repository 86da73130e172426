import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkFingerprint,
  downsample,
  estimateSharing,
  FingerprintBuilder,
  SharingIndex,
  syntheticFingerprint,
  type PageFingerprint,
} from './fingerprint.ts';
import { checkMemoryProfile } from './profile.ts';

/** A 48-bit content hash for content number `c` of a page set (an integer mix, as the agent's digest would be). */
function hashOf(c: number): number {
  let a = Math.imul(c ^ 0x5bd1e995, 0x85ebca6b) >>> 0;
  a ^= a >>> 15;
  a = Math.imul(a, 0xc2b2ae35) >>> 0;
  let b = Math.imul(a ^ (c * 31 + 7), 0x27d4eb2f) >>> 0;
  b ^= b >>> 13;
  return a * 65536 + (b >>> 16);
}

/** A fingerprint of an explicit list of page contents (content 0 = a zero page). */
function fingerprintOf(contents: number[], bits: number): PageFingerprint {
  const b = new FingerprintBuilder(bits);
  for (const c of contents) {
    if (c === 0) b.addZeroPage();
    else b.addPage(hashOf(c));
  }
  return b.build();
}

/** Exact saved pages of guests with explicit contents: pages − distinct contents. */
function exactSaved(sets: number[][]): number {
  const all = sets.flat();
  return all.length - new Set(all).size;
}

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

describe('page fingerprints: sharing estimated from content samples', () => {
  const cases: { name: string; sets: number[][] }[] = [
    { name: 'disjoint guests share nothing', sets: [range(1, 20000), range(100000, 20000)] },
    { name: 'identical guests share all', sets: [range(1, 20000), range(1, 20000)] },
    {
      name: 'half overlap, plus zero pages',
      sets: [
        [...range(1, 20000), ...Array(3000).fill(0)],
        [...range(10001, 20000), ...Array(1000).fill(0)],
      ],
    },
    {
      name: 'duplicates inside one guest',
      sets: [[...range(1, 10000), ...range(1, 10000), ...range(1, 5000)]],
    },
    {
      name: 'three guests, a common image and private data',
      sets: [
        [...range(1, 8000), ...range(50000, 12000)],
        [...range(1, 8000), ...range(70000, 12000)],
        [...range(1, 8000), ...range(90000, 6000), ...range(50000, 3000)],
      ],
    },
  ];
  for (const c of cases)
    it(`${c.name}: within 10 % of the pages at a 1/16 rate, exact at rate 1`, () => {
      const exact = exactSaved(c.sets);
      const full = estimateSharing(c.sets.map((s) => fingerprintOf(s, 0)));
      assert.equal(full.savedPages, exact);
      assert.equal(full.pages, c.sets.flat().length);
      const est = estimateSharing(c.sets.map((s) => fingerprintOf(s, 4)));
      const tolerance = Math.max(0.1 * exact, 200);
      assert.ok(
        Math.abs(est.savedPages - exact) <= tolerance,
        `estimated ${est.savedPages} saved pages, exact ${exact}`,
      );
      assert.equal(est.pages - est.distinctPages, est.savedPages);
    });

  it('pages of one byte value are counted exactly, not sampled (a sampled one would count 2^bits times)', () => {
    const poisoned = (n: number, from: number) => {
      const b = new FingerprintBuilder(6);
      for (let i = 0; i < n; i++) b.addUniformPage(0xcc);
      for (let i = 0; i < 1000; i++) b.addPage(hashOf(from + i));
      b.addUniformPage(0);
      return b.build();
    };
    const a = poisoned(3000, 1);
    const b = poisoned(1500, 500000);
    assert.deepEqual(a.uniformPages, [[0xcc, 3000]]);
    assert.equal(a.zeroPages, 1);
    assert.deepEqual(checkFingerprint(a), []);
    // 4,499 of the 4,500 poison pages and one of the two zero pages go; the 2,000 others are distinct.
    assert.equal(estimateSharing([a, b]).savedPages, 4499 + 1);
    const idx = new SharingIndex(6);
    idx.add(a);
    assert.equal(idx.marginalSavedPages(b), 1500 + 1); // all its poison pages and its zero page
    idx.add(b);
    assert.equal(idx.estimate().savedPages, 4500);
    idx.remove(a);
    assert.deepEqual(idx.estimate(), estimateSharing([b]));
    assert.match(checkFingerprint({ ...a, uniformPages: [[0, 5]] }).join(), /uniformPages\[0\]/);
    assert.match(checkFingerprint({ ...a, uniformPages: [[0xcc, 99999]] }).join(), /exceed pages/);
  });

  it('a set of fingerprints is estimated at the coarsest rate among them', () => {
    const a = fingerprintOf(range(1, 20000), 2);
    const b = fingerprintOf(range(1, 20000), 5);
    assert.equal(estimateSharing([a, b]).savedPages, estimateSharing([downsample(a, 5), b]).savedPages);
    assert.throws(() => downsample(b, 2), /cannot refine/);
  });

  it('SharingIndex: add, remove and marginal gain agree with a fresh estimate', () => {
    const fps = [
      syntheticFingerprint({ sampleBits: 3, zeroPages: 500, segments: [{ seed: 1, pages: 40000 }] }),
      syntheticFingerprint({ sampleBits: 3, zeroPages: 10, segments: [{ seed: 1, pages: 20000 }] }),
      syntheticFingerprint({ sampleBits: 3, segments: [{ seed: 2, pages: 8000, copies: 2 }] }),
    ];
    const idx = new SharingIndex(3);
    idx.add(fps[0]!);
    const before = idx.estimate().savedPages;
    const gain = idx.marginalSavedPages(fps[1]!);
    idx.add(fps[1]!);
    assert.equal(idx.estimate().savedPages, before + gain);
    idx.add(fps[2]!);
    assert.deepEqual(idx.estimate(), estimateSharing(fps));
    idx.remove(fps[1]!);
    assert.deepEqual(idx.estimate(), estimateSharing([fps[0]!, fps[2]!]));
    // The second guest's 20,000 contents are all in the first: co-located, they save those, and its
    // 10 zero pages save 10 instead of the 9 they save alone.
    const only = new SharingIndex(3);
    only.add(fps[0]!);
    assert.equal(only.sharedWith(fps[1]!), 20000 + 1);
    // The third shares nothing with the first; its own duplicates are not "shared with" the host.
    assert.equal(only.sharedWith(fps[2]!), 0);
  });

  it('synthetic fingerprints: same seed overlaps by the common prefix, exactly', () => {
    const a = syntheticFingerprint({ sampleBits: 6, segments: [{ seed: 7, pages: 64000 }] });
    const b = syntheticFingerprint({ sampleBits: 6, segments: [{ seed: 7, pages: 32000 }] });
    const c = syntheticFingerprint({ sampleBits: 6, segments: [{ seed: 8, pages: 32000 }] });
    assert.equal(estimateSharing([a, b]).savedPages, 32000);
    assert.equal(estimateSharing([a, c]).savedPages, 0);
    assert.deepEqual(checkFingerprint(a), []);
  });

  it('checkFingerprint names what is wrong', () => {
    const ok = syntheticFingerprint({ sampleBits: 2, segments: [{ seed: 1, pages: 100 }] });
    assert.deepEqual(checkFingerprint(ok), []);
    assert.match(checkFingerprint({ ...ok, sampleBits: 40 }).join(), /sampleBits/);
    assert.match(
      checkFingerprint({ ...ok, hashes: [...ok.hashes].reverse() }).join(),
      /above the one before/,
    );
    assert.match(checkFingerprint({ ...ok, hashes: [1, ...ok.hashes.slice(1)] }).join(), /multiple/);
    assert.match(checkFingerprint({ ...ok, pages: 1 }).join(), /exceed pages/);
    assert.match(checkFingerprint({ ...ok, counts: ok.counts.slice(1) }).join(), /same length/);
    assert.match(checkFingerprint('x').join(), /object/);
  });

  it('checkMemoryProfile validates a reported profile', () => {
    const p = {
      at: '2026-12-01T00:00:00Z',
      memoryMiB: 512,
      residentMiB: 300,
      workingSetMiB: 200,
      mergeable: true,
      fingerprint: syntheticFingerprint({ sampleBits: 2, segments: [{ seed: 1, pages: 100 }] }),
    };
    assert.deepEqual(checkMemoryProfile(p), []);
    assert.match(checkMemoryProfile({ ...p, workingSetMiB: -1 }).join(), /workingSetMiB/);
    assert.match(checkMemoryProfile({ ...p, at: 'yesterday' }).join(), /ISO/);
    assert.match(
      checkMemoryProfile({ ...p, fingerprint: { ...p.fingerprint, pages: 0 } }).join(),
      /fingerprint:/,
    );
  });
});
