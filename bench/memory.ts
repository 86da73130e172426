/**
 * `npm run bench:memory`: page-sharing estimate from fingerprints vs what KSM really merges, on real
 * guests (QEMU, TCG here). Boots N guests (by default 3 × 384 MiB: two fill the same data set, one
 * another), scans each one's RAM into a fingerprint (src/drivers/qemu/page-sampler.ts), turns KSM on
 * with a fast scan until the guests' merged pages settle (every KSM setting restored afterwards), then
 * prints the estimate at several sampling rates against KSM's counts, the error in %, and the scan's
 * CPU cost per GiB. Root only. `-- --quick`: 2 guests of 256 MiB; `-- --json`: the result as JSON only.
 * Only this run's guests should be on the host for the host-wide `pages_sharing` comparison.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomInt } from 'node:crypto';
import { downsample, estimateSharing, type PageFingerprint } from '../src/core/memory/fingerprint.ts';
import {
  estimateMergingPages,
  fastKsm,
  ksmMergingPages,
  ksmValue,
  waitKsmStable,
} from '../src/drivers/qemu/ksm-compare.ts';
import { scanGuestMemory } from '../src/drivers/qemu/page-sampler.ts';
import { QemuDriver } from '../src/drivers/qemu/qemu-driver.ts';
import { existsSync, readFileSync } from 'node:fs';

const quick = process.argv.includes('--quick');
const json = process.argv.includes('--json');
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const guestDir = process.env.NUBIS_GUEST_DIR ?? join(root, '.nubis/guest');
const log = (s: string) => {
  if (!json) process.stderr.write(s + '\n');
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const memMiB = quick ? 256 : 384;
const fillMiB = quick ? 96 : 160;
const seedA = randomInt(1, 2 ** 31);
const seedB = seedA + 1;
const guests = (quick ? [seedA, seedA] : [seedA, seedA, seedB]).map((seed, i) => ({
  id: `memfp-${i}`,
  seed,
}));
const BITS = [0, 2, 4, 6, 8];

if (process.getuid?.() !== 0 || !existsSync('/sys/kernel/mm/ksm/run')) {
  log('bench:memory needs root and KSM (/sys/kernel/mm/ksm)');
  console.log(JSON.stringify({ skipped: 'needs root and KSM' }));
  process.exit(0);
}
const others = (() => {
  try {
    return Number(readFileSync('/sys/kernel/mm/ksm/pages_sharing', 'utf8'));
  } catch {
    return 0;
  }
})();

const state = mkdtempSync(join(tmpdir(), 'nubis-bench-mem-'));
const d = await QemuDriver.open({ stateDir: state, accel: 'tcg', imageDirs: [guestDir] });
let restore: (() => void) | undefined;
const pct = (est: number, real: number) => (real > 0 ? ((est - real) / real) * 100 : NaN);
try {
  for (const g of guests) {
    await d.create({
      id: g.id,
      memoryMiB: memMiB,
      vcpus: 1,
      image: { kernel: join(guestDir, 'vmlinuz'), initrd: join(guestDir, 'initramfs.cpio.gz') },
      workload: { mib: 8, rateMiBps: 0, fill: { seed: g.seed, mib: fillMiB } },
    });
    await d.start(g.id);
  }
  for (const g of guests) {
    const deadline = Date.now() + 180_000;
    while (!readFileSync(d.serialLog(g.id), 'utf8').includes('nubis-fill ready')) {
      if (Date.now() > deadline) throw new Error(`guest ${g.id} did not fill its memory`);
      await sleep(500);
    }
  }
  await sleep(3000); // the guests settle (page cache, init's background jobs)
  log(
    `${guests.length} guests of ${memMiB} MiB up, each filled ${fillMiB} MiB (seeds ${guests.map((g) => (g.seed === seedA ? 'A' : 'B')).join(', ')})`,
  );

  // Fingerprints: a full scan (every page), and a sampled one for its cost.
  const full: PageFingerprint[] = [];
  let fullCpuMs = 0,
    sampledCpuMs = 0,
    scannedGiB = 0,
    sharedZeroBefore = 0;
  for (const g of guests) {
    const pid = d.pid(g.id)!;
    const s0 = await scanGuestMemory(pid, memMiB * 2 ** 20, { sampleBits: 0, rateMiBps: 4096 });
    const s6 = await scanGuestMemory(pid, memMiB * 2 ** 20, { sampleBits: 6, rateMiBps: 4096 });
    full.push(s0.fingerprint);
    sharedZeroBefore += s0.sharedZeroPages;
    fullCpuMs += s0.scanCpuMs;
    sampledCpuMs += s6.scanCpuMs;
    scannedGiB += (s0.residentPages * 4096) / 2 ** 30;
  }

  const zeroApart = ksmValue('use_zero_pages') === 1;
  const before = ksmValue('pages_sharing');
  restore = fastKsm();
  const pids = guests.map((g) => d.pid(g.id)!);
  const merging = () => pids.reduce((a, p) => a + ksmMergingPages(p), 0);
  const t0 = Date.now();
  const settled = await waitKsmStable(merging, {
    timeoutMs: quick ? 240_000 : 480_000,
    stableScans: 4,
    tolerance: 0.002,
  });
  const ksm = {
    pagesSharing: ksmValue('pages_sharing'),
    pagesShared: ksmValue('pages_shared'),
    mergingPages: settled.value,
    perGuest: pids.map(ksmMergingPages),
    ksmZeroPages: ksmValue('ksm_zero_pages'),
    pagesSkipped: ksmValue('pages_skipped'),
    pagesVolatile: ksmValue('pages_volatile'),
    fullScans: settled.scans,
    settleS: (Date.now() - t0) / 1000,
  };
  restore();
  restore = undefined;
  // KSM splits the guests' transparent huge pages to merge them, and the kernel then maps their
  // zero-filled parts to the shared zero page instead of merging them: memory freed that
  // ksm_merging_pages does not count. A second scan counts those pages.
  let sharedZeroAfter = 0;
  for (const g of guests)
    sharedZeroAfter += (
      await scanGuestMemory(d.pid(g.id)!, memMiB * 2 ** 20, { sampleBits: 16, rateMiBps: 4096 })
    ).sharedZeroPages;
  const zeroRemapped = Math.max(0, sharedZeroAfter - sharedZeroBefore);
  const dedup = ksm.mergingPages + zeroRemapped;
  const freed = ksm.pagesSharing + zeroRemapped;
  const rows = BITS.map((b) => {
    const fps = full.map((f) => downsample(f, b));
    const est = estimateSharing(fps);
    const mergingEst = estimateMergingPages(fps, zeroApart);
    return {
      sampleBits: b,
      savedPages: est.savedPages,
      mergingPages: mergingEst,
      errorSavedPct: pct(est.savedPages, freed),
      errorMergingPct: pct(mergingEst, dedup),
    };
  });
  // The largest groups of identical non-zero pages (counts only) and the coarsest sampling that keeps
  // each: one large group kept at a rate weighs 2^sampleBits × its size in that rate's estimate.
  const groups = new Map<number, number>();
  for (const f of full) f.hashes.forEach((h, i) => groups.set(h, (groups.get(h) ?? 0) + f.counts[i]!));
  const trailingBits = (h: number) => {
    let b = 0;
    while (b < 16 && h % 2 ** (b + 1) === 0) b++;
    return b;
  };
  const largest = [...groups]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([h, n]) => ({ pages: n, keptUpToSampleBits: trailingBits(h) }));
  const result = {
    guests: guests.length,
    memMiB,
    fillMiB,
    useZeroPages: zeroApart,
    pagesSharingBefore: before,
    ksm: { ...ksm, zeroRemapped, dedupPages: dedup, freedPages: freed },
    largestGroups: largest,
    zeroPages: full.map((f) => f.zeroPages),
    residentPages: full.map((f) => f.pages),
    estimates: rows,
    // For `npm run bench`'s table: one row per sampling rate and one for the scan's cost.
    rows: [
      ...rows.map((r) => ({
        case: `sampleBits ${r.sampleBits}`,
        errorMergingPct: Math.round(r.errorMergingPct * 10) / 10,
        errorSavedPct: Math.round(r.errorSavedPct * 10) / 10,
        mergingPages: r.mergingPages,
        savedPages: r.savedPages,
      })),
      {
        case: 'scan',
        fullCpuMsPerGiB: Math.round(fullCpuMs / scannedGiB),
        sampledCpuMsPerGiB: Math.round(sampledCpuMs / scannedGiB),
      },
    ],
    scan: {
      fullCpuMsPerGiB: Math.round(fullCpuMs / scannedGiB),
      sampledCpuMsPerGiB: Math.round(sampledCpuMs / scannedGiB),
    },
  };
  log(
    `KSM settled after ${ksm.fullScans} full scans (${ksm.settleS.toFixed(0)} s): pages_sharing ${ksm.pagesSharing}` +
      ` (host-wide; ${before} before, ${others} at start), Σ ksm_merging_pages of the guests ${ksm.mergingPages}` +
      ` (${ksm.perGuest.join(' + ')}); use_zero_pages ${zeroApart ? 1 : 0}`,
  );
  log(
    `zero pages remapped to the shared zero page by KSM's huge-page splits: ${zeroRemapped}; deduplicated ` +
      `pages (Σ ksm_merging_pages + those) ${dedup}; freed host-wide (pages_sharing + those) ${freed}`,
  );
  log(
    `largest groups of identical non-zero pages: ${largest.map((g) => `${g.pages} (kept up to sampleBits ${g.keptUpToSampleBits})`).join(', ')}`,
  );
  log(
    `guests' resident pages ${result.residentPages.join(' + ')}, of which zero pages ${result.zeroPages.join(' + ')}`,
  );
  log('sampleBits  est. saved  vs freed  est. merging  vs deduplicated');
  for (const r of rows)
    log(
      `${String(r.sampleBits).padStart(10)}  ${String(r.savedPages).padStart(10)}  ${r.errorSavedPct.toFixed(1).padStart(6)} %` +
        `  ${String(r.mergingPages).padStart(12)}  ${r.errorMergingPct.toFixed(1).padStart(13)} %`,
    );
  log(
    `scan cost: ${result.scan.fullCpuMsPerGiB} CPU ms per GiB (every page), ${result.scan.sampledCpuMsPerGiB} at sampleBits 6`,
  );
  console.log(JSON.stringify(result));
} finally {
  restore?.();
  for (const g of guests) await d.delete(g.id).catch(() => undefined);
  await d.close();
  rmSync(state, { recursive: true, force: true });
}
