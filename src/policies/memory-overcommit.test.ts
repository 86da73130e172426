import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { syntheticFingerprint } from '../core/memory/fingerprint.ts';
import {
  admitsMemory,
  balloonTargets,
  DEFAULT_MEMORY_RISK,
  hostDemand,
  normalQuantile,
  sharedMiBWith,
  type VmMemory,
} from './memory-overcommit.ts';
import { SharingIndex } from '../core/memory/fingerprint.ts';

const o = { risk: 0.01, headroomMiB: 0, sharingCredit: 1 };
const vm = (id: string, x: Partial<VmMemory> = {}): VmMemory => ({
  id,
  memoryMiB: 4096,
  guaranteedMiB: 1024,
  mergeable: true,
  ...x,
});

describe('memory-aware admission', () => {
  it('normalQuantile matches known quantiles', () => {
    assert.ok(Math.abs(normalQuantile(0.975) - 1.959964) < 1e-5);
    assert.ok(Math.abs(normalQuantile(0.99) - 2.326348) < 1e-5);
    assert.ok(Math.abs(normalQuantile(0.001) + 3.090232) < 1e-5);
    assert.equal(normalQuantile(0.5), 0);
  });

  it("the issue's example: a 48 GB host holds 19 VMs of 4 GB that use 2.5 GB, not 12", () => {
    const host = 48 * 1024;
    const use = (id: string) => vm(id, { workingSet: { meanMiB: 2560, sdMiB: 0 } });
    const fit = (make: (id: string) => VmMemory) => {
      const vms: VmMemory[] = [];
      while (admitsMemory(host, vms, make(`v${vms.length}`), o).ok) vms.push(make(`v${vms.length}`));
      return vms.length;
    };
    assert.equal(fit(use), 19);
    // Not measured: each counts its flavor size.
    assert.equal(
      fit((id) => vm(id)),
      12,
    );
  });

  it('variability costs memory at the risk; sharing gives it back', () => {
    const noisy = (id: string) => vm(id, { workingSet: { meanMiB: 2560, sdMiB: 400 } });
    const a = hostDemand([noisy('a'), noisy('b'), noisy('c'), noisy('d')], o);
    assert.ok(Math.abs(a.sdMiB - 800) < 1e-9);
    assert.ok(Math.abs(a.atRiskMiB - (4 * 2560 + normalQuantile(0.99) * 800)) < 1e-6);
    const os = (id: string) =>
      vm(id, {
        workingSet: { meanMiB: 2560, sdMiB: 0 },
        fingerprint: syntheticFingerprint({ sampleBits: 4, segments: [{ seed: 1, pages: 512 * 256 }] }),
      });
    const s = hostDemand([os('a'), os('b'), os('c')], o);
    assert.equal(s.sharedMiB, 1024); // three copies of a 512 MiB image: two saved
    assert.equal(s.expectedMiB, 3 * 2560 - 1024);
    const optOut = hostDemand([os('a'), { ...os('b'), mergeable: false }, os('c')], o);
    assert.equal(optOut.sharedMiB, 512);
  });

  it('refusals say what did not fit', () => {
    const r = admitsMemory(2000, [vm('a')], vm('b'), o);
    assert.equal(r.ok, false);
    assert.match(r.reason, /guaranteed memory 2048 MiB would exceed the host's 2000 MiB/);
    assert.throws(() => hostDemand([], { ...o, risk: 0.7 }), /risk must be between/);
  });

  it('sharedMiBWith: what a VM would share with a host, nothing when it opted out', () => {
    const idx = new SharingIndex(4);
    const img = (seed: number) => syntheticFingerprint({ sampleBits: 4, segments: [{ seed, pages: 25600 }] });
    idx.add(img(1));
    assert.equal(sharedMiBWith(idx, vm('x', { fingerprint: img(1) })), 100);
    assert.equal(sharedMiBWith(idx, vm('x', { fingerprint: img(2) })), 0);
    assert.equal(sharedMiBWith(idx, vm('x', { fingerprint: img(1), mergeable: false })), 0);
  });

  it('property: admitted sets never overcommit guaranteed memory; balloon targets respect guarantees', () => {
    const arbVm = fc.record({
      memoryMiB: fc.integer({ min: 256, max: 8192 }),
      g: fc.double({ min: 0, max: 1, noNaN: true }),
      ws: fc.option(
        fc.record({ mean: fc.double({ min: 0, max: 1, noNaN: true }), sd: fc.integer({ min: 0, max: 800 }) }),
      ),
      seed: fc.integer({ min: 1, max: 3 }),
      mergeable: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.integer({ min: 1024, max: 65536 }), fc.array(arbVm, { maxLength: 30 }), (cap, xs) => {
        const placed: VmMemory[] = [];
        xs.forEach((x, i) => {
          const v: VmMemory = {
            id: `v${i}`,
            memoryMiB: x.memoryMiB,
            guaranteedMiB: Math.round(x.memoryMiB * x.g),
            mergeable: x.mergeable,
            ...(x.ws ? { workingSet: { meanMiB: x.ws.mean * x.memoryMiB, sdMiB: x.ws.sd } } : {}),
            fingerprint: syntheticFingerprint({
              sampleBits: 6,
              segments: [{ seed: x.seed, pages: x.memoryMiB * 64 }],
            }),
          };
          if (admitsMemory(cap, placed, v, DEFAULT_MEMORY_RISK).ok) placed.push(v);
        });
        const d = hostDemand(placed, DEFAULT_MEMORY_RISK);
        assert.ok(d.guaranteedMiB <= cap);
        assert.ok(d.atRiskMiB <= cap + 1e-6);
        const { targets } = balloonTargets(cap, placed, DEFAULT_MEMORY_RISK);
        targets.forEach((t, i) => {
          assert.ok(t.targetMiB >= placed[i]!.guaranteedMiB - 0.5);
          assert.ok(t.targetMiB <= placed[i]!.memoryMiB + 0.5);
        });
      }),
      { numRuns: 200, seed: 17 },
    );
  });

  it('balloon targets cut toward guarantees when the host is short', () => {
    const vms = [
      vm('a', { workingSet: { meanMiB: 3000, sdMiB: 0 } }),
      vm('b', { workingSet: { meanMiB: 3000, sdMiB: 0 } }),
    ];
    const roomy = balloonTargets(8192, vms, o);
    assert.deepEqual(
      roomy.targets.map((t) => t.targetMiB),
      [3000, 3000],
    );
    assert.equal(roomy.cutMiB, 0);
    const short = balloonTargets(5048, vms, o);
    assert.deepEqual(
      short.targets.map((t) => t.targetMiB),
      [2524, 2524],
    );
    assert.equal(short.cutMiB, 952);
  });
});
