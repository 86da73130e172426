/**
 * The scheduler's cached memory arithmetic answers as the plain one (issue 17 × issue 15): property
 * (fast-check) over random synthetic fingerprints and VMs: `SharingIndex.estimateWith(fp)` equals
 * adding `fp` then estimating, and `admitsMemory` over a host's `DemandSums` equals it over the VM list
 * (the same demand to the last bit, the same verdict and reason), asked repeatedly (memoised answers).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SharingIndex, syntheticFingerprint } from '../src/core/memory/fingerprint.ts';
import { admitsMemory, coarsestBits, demandSums, type VmMemory } from '../src/policies/memory-overcommit.ts';

const arbFp = fc
  .record({
    bits: fc.integer({ min: 0, max: 3 }),
    zero: fc.nat(300),
    seed: fc.nat(3),
    pages: fc.integer({ min: 1, max: 800 }),
    own: fc.nat(400),
    copies: fc.integer({ min: 1, max: 3 }),
    uniform: fc.boolean(),
  })
  .map((o) =>
    syntheticFingerprint({
      sampleBits: o.bits,
      zeroPages: o.zero,
      ...(o.uniform ? { uniformPages: [[7, 5] as [number, number]] } : {}),
      segments: [
        { seed: o.seed, pages: o.pages, copies: o.copies },
        ...(o.own ? [{ seed: 50 + o.own, pages: o.own }] : []),
      ],
    }),
  );

const arbVm = fc.record({
  memoryMiB: fc.constantFrom(1024, 4096, 8192),
  guarantee: fc.constantFrom(0.25, 0.5, 1),
  ws: fc.option(
    fc.record({ meanMiB: fc.integer({ min: 0, max: 9000 }), sdMiB: fc.integer({ min: 0, max: 900 }) }),
  ),
  fp: fc.option(arbFp),
  mergeable: fc.boolean(),
});

type VmArb = typeof arbVm extends fc.Arbitrary<infer T> ? T : never;

const vmOf = (v: VmArb, i: number): VmMemory => ({
  id: `v${i}`,
  memoryMiB: v.memoryMiB,
  guaranteedMiB: v.memoryMiB * v.guarantee,
  ...(v.ws ? { workingSet: v.ws } : {}),
  ...(v.fp ? { fingerprint: v.fp } : {}),
  mergeable: v.mergeable,
});

test('property: estimateWith equals add then estimate, and leaves the index as it was', () => {
  fc.assert(
    fc.property(fc.array(arbFp, { maxLength: 5 }), arbFp, (host, fp) => {
      const bits = Math.max(fp.sampleBits, ...host.map((f) => f.sampleBits));
      const idx = new SharingIndex(bits);
      for (const f of host) idx.add(f);
      const before = idx.estimate();
      const got = idx.estimateWith(fp);
      assert.deepEqual(idx.estimateWith(fp), got);
      assert.deepEqual(idx.estimate(), before);
      idx.add(fp);
      assert.deepEqual(got, idx.estimate());
    }),
    { numRuns: 200, seed: 17 },
  );
});

test('property: admitsMemory over DemandSums answers as over the VM list', () => {
  fc.assert(
    fc.property(
      fc.array(arbVm, { maxLength: 6 }),
      arbVm,
      fc.integer({ min: 2048, max: 49152 }),
      fc.constantFrom(0.001, 0.01, 0.2),
      (host, cand, cap, risk) => {
        const vms = host.map(vmOf);
        const vm = vmOf(cand, 99);
        const o = { risk, headroomMiB: 64, sharingCredit: 0.9 };
        const want = admitsMemory(cap, vms, vm, o);
        const sums = demandSums(vms, o, coarsestBits([...vms, vm]));
        assert.deepEqual(admitsMemory(cap, sums, vm, o), want);
        assert.deepEqual(admitsMemory(cap, sums, vm, o), want);
        // Sums taken at another sampling still answer right (summed again).
        assert.deepEqual(admitsMemory(cap, demandSums(vms, o, 4), vm, o), want);
      },
    ),
    { numRuns: 300, seed: 17 },
  );
});
