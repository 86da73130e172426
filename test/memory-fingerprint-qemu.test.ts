/**
 * Page fingerprints of real guests against what KSM really merges: two guests hold the same data set
 * (a random seed per run, so no other guest on the host can share it); the known set must show up
 * in the estimate, and the estimate of merged pages must agree with KSM's per-process counts.
 */
import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { downsample, SharingIndex, type PageFingerprint } from '../src/core/memory/fingerprint.ts';
import { checkMemoryProfile } from '../src/core/memory/profile.ts';
import {
  estimateMergingPages,
  fastKsm,
  ksmMergingPages,
  ksmValue,
  waitKsmStable,
} from '../src/drivers/qemu/ksm-compare.ts';
import { scanGuestMemory } from '../src/drivers/qemu/page-sampler.ts';
import { QemuDriver } from '../src/drivers/qemu/qemu-driver.ts';
import { GUEST_DIR, tinyGuest, waitForSerial } from './helpers/guest.ts';

const g = tinyGuest();
/** Why the test cannot run here (no QEMU, not root, no KSM, a tiny guest built before guest/filler.c). */
function skipReason(): string | undefined {
  if (typeof g === 'string') return g;
  if (process.getuid?.() !== 0) return 'reading guest memory and driving KSM need root';
  if (!existsSync('/sys/kernel/mm/ksm/run') || !existsSync('/proc/self/ksm_merging_pages'))
    return 'no KSM with per-process counts on this kernel';
  try {
    const files = execSync(`gzip -dc '${g.initrd}' | cpio -t --quiet`, {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    if (!/^bin\/filler$/m.test(files))
      return 'the tiny guest has no filler (rebuild: bash scripts/build-guest.sh)';
  } catch {
    return 'cannot list the tiny guest initramfs';
  }
  return undefined;
}
const skip = skipReason();
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const MEM_MIB = 256;
const FILL_MIB = 96;
const FILL_PAGES = FILL_MIB * 256;

test(
  'fingerprints of two guests holding the same data set: the estimate sees the set and agrees with KSM',
  { skip, timeout: 900_000 },
  async () => {
    const state = mkdtempSync(join(tmpdir(), 'nubis-memfp-'));
    dirs.push(state);
    const d = await QemuDriver.open({ stateDir: state, accel: 'tcg', imageDirs: [GUEST_DIR] });
    const t = g as Exclude<typeof g, string>;
    const seed = randomInt(1, 2 ** 31);
    const ids = ['memfp-a', 'memfp-b'];
    let restore: (() => void) | undefined;
    try {
      for (const id of ids) {
        await d.create({
          id,
          memoryMiB: MEM_MIB,
          vcpus: 1,
          image: { kernel: t.kernel, initrd: t.initrd },
          workload: { mib: 4, rateMiBps: 0, fill: { seed, mib: FILL_MIB } },
        });
        await d.start(id);
      }
      for (const id of ids)
        await waitForSerial(
          d.serialLog(id),
          (l) => l.includes(`nubis-fill ready ${seed} ${FILL_MIB}`),
          180_000,
        );

      // Every page (exact), and the default sampling.
      const full: PageFingerprint[] = [];
      const sharedZero = async () => {
        let n = 0;
        for (const id of ids)
          n += (await scanGuestMemory(d.pid(id)!, MEM_MIB * 2 ** 20, { sampleBits: 16 })).sharedZeroPages;
        return n;
      };
      const sharedZeroBefore = await sharedZero();
      for (const id of ids) {
        const p = await d.memoryProfile(id, { sampleBits: 0 });
        assert.deepEqual(checkMemoryProfile(p), []);
        assert.ok(p.residentMiB >= FILL_MIB && p.residentMiB <= MEM_MIB, `resident ${p.residentMiB} MiB`);
        assert.ok(p.workingSetMiB >= FILL_MIB * 0.9, `working set ${p.workingSetMiB} MiB holds the fill`);
        full.push(p.fingerprint!);
      }
      const sharedAt = (bits: number) => {
        const idx = new SharingIndex(bits);
        idx.add(downsample(full[0]!, bits));
        return idx.sharedWith(downsample(full[1]!, bits));
      };
      // The known set is shared (plus what the guests' kernels and init have in common).
      assert.ok(sharedAt(0) >= FILL_PAGES, `exact: ${sharedAt(0)} shared pages, the set is ${FILL_PAGES}`);
      assert.ok(
        sharedAt(0) <= FILL_PAGES + 96 * 256,
        `exact: ${sharedAt(0)} shared pages is more than set + OS`,
      );
      assert.ok(
        Math.abs(sharedAt(6) - sharedAt(0)) <= 0.2 * sharedAt(0),
        `sampled 1/64: ${sharedAt(6)} vs exact ${sharedAt(0)}`,
      );

      // KSM, fast, until the guests' merged pages settle; every setting restored.
      const pids = ids.map((id) => d.pid(id)!);
      restore = fastKsm();
      const settled = await waitKsmStable(() => pids.reduce((a, p) => a + ksmMergingPages(p), 0), {
        stableScans: 3,
        timeoutMs: 600_000,
      });
      restore();
      restore = undefined;
      // KSM splits huge pages to merge them; their zero-filled parts then map the shared zero page
      // instead of a merged page: deduplicated too, though ksm_merging_pages does not count them.
      const merging = settled.value + Math.max(0, (await sharedZero()) - sharedZeroBefore);
      const est = estimateMergingPages(full, ksmValue('use_zero_pages') === 1);
      // KSM merged the known set in both guests...
      assert.ok(merging >= 2 * FILL_PAGES * 0.9, `KSM merged ${merging} pages, the set is 2 × ${FILL_PAGES}`);
      // ...and the fingerprints' estimate of merged pages agrees within a tolerance that holds on a
      // loaded machine (other guests' pages that merge with ours count in KSM's figures only).
      const err = Math.abs(est - merging) / merging;
      assert.ok(
        err <= 0.25,
        `estimate ${est} vs KSM ${merging} merged pages: ${(err * 100).toFixed(1)} % off`,
      );
    } finally {
      restore?.();
      for (const id of ids) await d.delete(id).catch(() => undefined);
      await d.close();
    }
  },
);
