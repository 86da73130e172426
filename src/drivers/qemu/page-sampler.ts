/**
 * Page sampler: a running guest's RAM read from its QEMU process (as root) into a page fingerprint
 * (core/memory/fingerprint.ts). The guest RAM block is found in /proc/PID/maps (the anonymous
 * read-write mapping of exactly the guest's memory size; QEMU marks its RAM blocks `dc`, MADV_DONTFORK,
 * in /proc/PID/smaps), /proc/PID/pagemap tells which pages are present (bit 63; bit 62: swapped out,
 * which KSM cannot merge either), and only present pages are read from /proc/PID/mem (reading an absent
 * page would fault it in), one chunk at a time under a rate limit, yielding between chunks.
 * Zero pages are recognised (those mapping the kernel's shared zero page, /proc/kpageflags, hold no
 * host memory and are left out), other pages hashed (SHA-1, first 48 bits). Page bytes never leave this
 * module: only hashes and counts do.
 * Linux: Documentation/admin-guide/mm/pagemap.rst; content hashing of pages for sharing estimates:
 * Memory Buddies (Wood et al., VEE 2009).
 */
import * as crypto from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { FingerprintBuilder, type PageFingerprint } from '../../core/memory/fingerprint.ts';

/** Host page size the sampler works in (x86-64). */
export const PAGE_BYTES = 4096;
/** Present bit of a pagemap entry (bit 63). */
const PM_PRESENT = 1n << 63n;
/** Swapped bit of a pagemap entry (bit 62). */
const PM_SWAPPED = 1n << 62n;
/** Page frame number bits of a present entry (0-54; zero unless root). */
const PM_PFN = (1n << 55n) - 1n;
/** /proc/kpageflags: the frame is the kernel's shared zero page (or the huge zero page). */
const KPF_ZERO_PAGE = 1n << 24n;

/** One line of /proc/PID/maps. Addresses are numbers (user addresses fit in 2^47). */
export interface MapsEntry {
  start: number;
  end: number;
  perms: string;
  /** Backing file, `[heap]`-style name, or '' for an anonymous mapping. */
  path: string;
  inode: number;
  /** VmFlags from /proc/PID/smaps when read from there (e.g. `dc`, `mg`, `hg`). */
  flags?: string[];
}

/** Parse /proc/PID/maps (or smaps: its VmFlags lines are attached to the mapping above them). */
export function parseMaps(text: string): MapsEntry[] {
  const out: MapsEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+)\s+(\S{4})\s+[0-9a-f]+\s+\S+\s+(\d+)\s*(.*)$/.exec(line);
    if (m) {
      out.push({
        start: parseInt(m[1]!, 16),
        end: parseInt(m[2]!, 16),
        perms: m[3]!,
        inode: Number(m[4]),
        path: m[5]!.trim(),
      });
      continue;
    }
    const f = /^VmFlags:\s*(.*)$/.exec(line);
    if (f && out.length) out[out.length - 1]!.flags = f[1]!.trim().split(/\s+/).filter(Boolean);
  }
  return out;
}

/**
 * The guest RAM mapping(s) among a QEMU process's mappings: anonymous, readable and writable, private,
 * exactly `memoryBytes` long. When several match, those QEMU marked as RAM blocks (`dc` in smaps) win.
 * @returns the mappings (one for a q35 guest: its RAM below and above 4 GiB are aliases of one block)
 * @throws Error when no mapping matches
 */
export function guestRamMappings(entries: readonly MapsEntry[], memoryBytes: number): MapsEntry[] {
  const cand = entries.filter(
    (e) => e.end - e.start === memoryBytes && e.path === '' && e.inode === 0 && e.perms.startsWith('rw'),
  );
  if (cand.length === 0)
    throw new Error(`no anonymous read-write mapping of ${memoryBytes / 2 ** 20} MiB (the guest's RAM)`);
  const ram = cand.filter((e) => e.flags?.includes('dc'));
  return (ram.length ? ram : cand).slice(0, 1);
}

/** Runs of consecutive present pages in a pagemap slice, and how many pages were swapped out. */
export function presentRuns(pagemap: Buffer, firstPage = 0): { runs: [number, number][]; swapped: number } {
  const runs: [number, number][] = [];
  let swapped = 0;
  let runStart = -1;
  const n = Math.floor(pagemap.length / 8);
  for (let i = 0; i <= n; i++) {
    const e = i < n ? pagemap.readBigUInt64LE(i * 8) : 0n;
    const present = (e & PM_PRESENT) !== 0n;
    if (i < n && !present && (e & PM_SWAPPED) !== 0n) swapped++;
    if (present && runStart < 0) runStart = i;
    if (!present && runStart >= 0) {
      runs.push([firstPage + runStart, i - runStart]);
      runStart = -1;
    }
  }
  return { runs, swapped };
}

/** The page frame number of a pagemap entry (0 when the kernel hides it: not root). */
export function pfnOf(pagemap: Buffer, i: number): number {
  return Number(pagemap.readBigUInt64LE(i * 8) & PM_PFN);
}

/** One-shot hashing (Node ≥ 20.12; about 15 % cheaper per page than a Hash object), else a Hash object. */
const sha1: (b: Buffer) => Buffer =
  typeof crypto.hash === 'function'
    ? (b) => crypto.hash('sha1', b, 'buffer')
    : (b) => crypto.createHash('sha1').update(b).digest();

/**
 * 48-bit content hash of a page (SHA-1, its first 6 bytes). With `key` (the cloud's fingerprint key,
 * which the control plane hands its agents), SHA-1 of key ‖ page: who reads stored fingerprints
 * without the key cannot test whether a guest holds a page they know.
 */
export function pageHash(page: Buffer, key?: Buffer): number {
  if (key) return crypto.createHash('sha1').update(key).update(page).digest().readUIntBE(0, 6);
  return sha1(page).readUIntBE(0, 6);
}

const ZERO = Buffer.alloc(PAGE_BYTES);
const UNIFORM: Buffer[] = [];
/** A page of one byte value (counted exactly in fingerprints, as zero pages are). */
const uniformPage = (byte: number) => (UNIFORM[byte] ??= Buffer.alloc(PAGE_BYTES, byte));

/**
 * Feed a buffer of whole pages into a builder (zero pages and pages of one byte value apart). A zero page for which
 * `sharedZero(p)` holds maps the kernel's shared zero page (the guest only read it): it holds no
 * host memory and KSM never sees it, so it is left out. Returns how many were left out.
 */
export function addPages(
  b: FingerprintBuilder,
  buf: Buffer,
  pages: number,
  sharedZero: (p: number) => boolean = () => false,
  key?: Buffer,
): number {
  let skipped = 0;
  for (let p = 0; p < pages; p++) {
    const page = buf.subarray(p * PAGE_BYTES, (p + 1) * PAGE_BYTES);
    const first = page[0]!;
    if (first === 0 && page.equals(ZERO)) {
      if (sharedZero(p)) skipped++;
      else b.addZeroPage();
    } else if (first === page[PAGE_BYTES - 1] && page.equals(uniformPage(first))) b.addUniformPage(first);
    else b.addPage(pageHash(page, key));
  }
  return skipped;
}

export interface PageSamplerOptions {
  /** Sampling exponent: 1 page content in 2^sampleBits kept (0 = every page). Default 6. */
  sampleBits?: number;
  /** Scan speed limit, MiB of guest RAM per second (pages read or skipped as absent). Default 256. */
  rateMiBps?: number;
  /** Secret mixed into every page hash (the cloud's fingerprint key); absent: plain SHA-1. */
  hashKey?: Buffer;
  /** Pages per chunk (read, hashed, then a yield). Default 256 (1 MiB). */
  chunkPages?: number;
  /** Root of the proc file system (tests). Default /proc. */
  procRoot?: string;
}

/** What a scan found. */
export interface PageScan {
  fingerprint: PageFingerprint;
  /** Guest RAM, pages (the mapping's size). */
  totalPages: number;
  /** Present pages that hold host memory (what the fingerprint covers). */
  residentPages: number;
  /** Present pages mapping the kernel's shared zero page (read, never written: no host memory). */
  sharedZeroPages: number;
  /** Pages swapped out by the host. */
  swappedPages: number;
  /** CPU time of the scan (this process's user + system time during the synchronous chunks), ms. */
  scanCpuMs: number;
  /** Wall-clock time of the scan, ms. */
  wallMs: number;
}

const tick = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Scan the guest RAM of QEMU process `pid` (root only) into a fingerprint.
 * @throws Error when the process or its RAM mapping cannot be read
 */
export async function scanGuestMemory(
  pid: number,
  memoryBytes: number,
  o: PageSamplerOptions = {},
): Promise<PageScan> {
  if (!(Number.isInteger(pid) && pid > 0)) throw new Error(`bad process id ${pid}`);
  const proc = `${o.procRoot ?? '/proc'}/${pid}`;
  const builder = new FingerprintBuilder(o.sampleBits ?? 6);
  const rate = o.rateMiBps ?? 256;
  const chunk = Math.max(1, Math.min(4096, o.chunkPages ?? 256));
  const maps = guestRamMappings(parseMaps(readFileSync(`${proc}/smaps`, 'utf8')), memoryBytes);
  const pm = openSync(`${proc}/pagemap`, 'r');
  let mem: number | undefined;
  let kpf: number | undefined;
  try {
    kpf = openSync(`${o.procRoot ?? '/proc'}/kpageflags`, 'r');
  } catch {
    kpf = undefined; // not root, or no such file: zero pages all count
  }
  const flag = Buffer.alloc(8);
  const isSharedZero = (pfn: number) => {
    if (kpf === undefined || pfn === 0) return false;
    try {
      return readSync(kpf, flag, 0, 8, pfn * 8) === 8 && (flag.readBigUInt64LE(0) & KPF_ZERO_PAGE) !== 0n;
    } catch {
      return false;
    }
  };
  const buf = Buffer.alloc(chunk * PAGE_BYTES);
  const pmBuf = Buffer.alloc(chunk * 8);
  let totalPages = 0,
    resident = 0,
    sharedZero = 0,
    swapped = 0,
    cpuUs = 0,
    covered = 0;
  const t0 = performance.now();
  try {
    mem = openSync(`${proc}/mem`, 'r');
    for (const m of maps) {
      const first = m.start / PAGE_BYTES;
      const pages = (m.end - m.start) / PAGE_BYTES;
      totalPages += pages;
      for (let off = 0; off < pages; off += chunk) {
        const n = Math.min(chunk, pages - off);
        const c0 = process.cpuUsage();
        const got = readSync(pm, pmBuf, 0, n * 8, (first + off) * 8);
        const r = presentRuns(pmBuf.subarray(0, got), 0);
        swapped += r.swapped;
        for (const [start, count] of r.runs) {
          let read: number;
          try {
            read = readSync(mem, buf, 0, count * PAGE_BYTES, m.start + (off + start) * PAGE_BYTES);
          } catch {
            continue; // the mapping changed under us: these pages are skipped
          }
          const whole = Math.floor(read / PAGE_BYTES);
          const skipped = addPages(
            builder,
            buf,
            whole,
            (p) => isSharedZero(pfnOf(pmBuf, start + p)),
            o.hashKey,
          );
          sharedZero += skipped;
          resident += whole - skipped;
        }
        const c = process.cpuUsage(c0);
        cpuUs += c.user + c.system;
        covered += n;
        // Rate limit: never ahead of `rate` MiB/s of guest RAM covered; always let others run.
        const aheadMs = ((covered * PAGE_BYTES) / 2 ** 20 / rate) * 1000 - (performance.now() - t0);
        if (aheadMs > 1) await sleep(aheadMs);
        else await tick();
      }
    }
  } finally {
    closeSync(pm);
    if (mem !== undefined) closeSync(mem);
    if (kpf !== undefined) closeSync(kpf);
    buf.fill(0); // no guest bytes left behind in a reused buffer
  }
  return {
    fingerprint: builder.build(),
    totalPages,
    residentPages: resident,
    sharedZeroPages: sharedZero,
    swappedPages: swapped,
    scanCpuMs: cpuUs / 1000,
    wallMs: performance.now() - t0,
  };
}
