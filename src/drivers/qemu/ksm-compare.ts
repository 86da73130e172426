/**
 * What KSM really merged, next to what fingerprints predict (the benchmark and the real-guest test of
 * the page-sharing estimate). KSM's counters (Linux Documentation/admin-guide/mm/ksm.rst):
 * `pages_sharing` is host-wide and counts pages saved (mappings of a merged page beyond the first),
 * `/proc/PID/ksm_merging_pages` counts a process's pages that map a merged page (the first included).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { downsample, type PageFingerprint } from '../../core/memory/fingerprint.ts';
import { KSM_DIR } from '../ksm.ts';

/** KSM settings a measurement changes (restored afterwards). */
const SETTINGS = ['run', 'pages_to_scan', 'sleep_millisecs', 'smart_scan'] as const;

/** Read one KSM counter or setting. */
export function ksmValue(name: string, dir = KSM_DIR): number {
  return Number(readFileSync(join(dir, name), 'utf8').trim());
}

/**
 * Turn KSM on with a fast scan; returns a function that puts every setting back as it was.
 * @example const restore = fastKsm(); try { ... } finally { restore(); }
 */
export function fastKsm(o: { pagesToScan?: number; sleepMs?: number } = {}, dir = KSM_DIR): () => void {
  const saved = SETTINGS.filter((k) => existsSync(join(dir, k))).map(
    (k) => [k, readFileSync(join(dir, k), 'utf8').trim()] as const,
  );
  writeFileSync(join(dir, 'pages_to_scan'), String(o.pagesToScan ?? 20_000));
  // Smart scan skips pages that did not merge lately (Linux 6.7+): it delays merging pages that
  // settled after the first scans, so measurements settle later; off while we measure.
  if (existsSync(join(dir, 'smart_scan'))) writeFileSync(join(dir, 'smart_scan'), '0');
  writeFileSync(join(dir, 'sleep_millisecs'), String(o.sleepMs ?? 10));
  writeFileSync(join(dir, 'run'), '1');
  return () => {
    // `run` first: a host that had KSM off stops scanning at once.
    for (const [k, v] of saved) writeFileSync(join(dir, k), v);
  };
}

/** A process's pages that map a KSM-merged page (0 when the kernel does not say). */
export function ksmMergingPages(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/ksm_merging_pages`, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Wait until KSM has settled: `value()` (e.g. the guests' merged pages) changed by less than
 * `tolerance` (relative) over `stableScans` full scans since the last change, after at least
 * `minScans` full scans. Resolves with the last value and the scans taken; rejects after `timeoutMs`.
 */
export async function waitKsmStable(
  value: () => number,
  o: { minScans?: number; stableScans?: number; tolerance?: number; timeoutMs?: number; dir?: string } = {},
): Promise<{ value: number; scans: number }> {
  const dir = o.dir ?? KSM_DIR;
  const start = ksmValue('full_scans', dir);
  const deadline = Date.now() + (o.timeoutMs ?? 300_000);
  let last = value();
  let lastScan = start;
  let stableSince = start;
  while (Date.now() < deadline) {
    await sleep(500);
    const scans = ksmValue('full_scans', dir);
    if (scans === lastScan) continue;
    lastScan = scans;
    const v = value();
    if (Math.abs(v - last) > (o.tolerance ?? 0.005) * Math.max(1, last)) stableSince = scans;
    last = v;
    if (scans - start >= (o.minScans ?? 3) && scans - stableSince >= (o.stableScans ?? 2))
      return { value: v, scans: scans - start };
  }
  throw new Error(`KSM did not settle within ${o.timeoutMs ?? 300_000} ms (last ${last})`);
}

/**
 * Pages of these guests that KSM would map to merged pages (what Σ ksm_merging_pages counts when the
 * guests share only among themselves): every page whose content occurs at least twice among them,
 * estimated from their fingerprints (zero pages and pages of one byte value exactly; when `zeroPagesApart`, as with KSM's
 * `use_zero_pages`, zero pages are not counted).
 */
export function estimateMergingPages(fps: readonly PageFingerprint[], zeroPagesApart = false): number {
  if (fps.length === 0) return 0;
  const bits = Math.max(...fps.map((f) => f.sampleBits));
  const counts = new Map<number, number>();
  let zeros = 0;
  const uniform = new Map<number, number>();
  for (const fp of fps) {
    const f = downsample(fp, bits);
    zeros += f.zeroPages;
    for (const [b, k] of f.uniformPages ?? []) uniform.set(b, (uniform.get(b) ?? 0) + k);
    for (let i = 0; i < f.hashes.length; i++)
      counts.set(f.hashes[i]!, (counts.get(f.hashes[i]!) ?? 0) + f.counts[i]!);
  }
  let merged = 0;
  for (const n of counts.values()) if (n >= 2) merged += n;
  let exact = zeroPagesApart || zeros < 2 ? 0 : zeros;
  for (const n of uniform.values()) if (n >= 2) exact += n;
  return merged * 2 ** bits + exact;
}
