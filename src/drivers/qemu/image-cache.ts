/**
 * A host's cache of registry images, by checksum: an image is downloaded once from the control plane
 * into DIR/SHA256.FORMAT (streamed to a temporary file, hashed and counted on the way), kept only if
 * its SHA-256 and size are the ones the ImageRef names, and shared by every guest and volume that
 * uses it (qcow2 overlays). Concurrent requests for one image wait for the same download. With a
 * size limit, the least recently used images that no disk is backed by make room for a new one.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  createWriteStream,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DriverError } from '../../core/hypervisor.ts';
import { STORAGE_ID_PATTERN, type ImageRef } from '../../core/storage/host-storage.ts';

/** A cached image file, ready to back overlays. */
export interface CachedImage {
  path: string;
  format: 'qcow2' | 'raw';
}

export interface ImageCacheOptions {
  /** The cache folder (created, mode 0700). */
  dir: string;
  /** The fetch to download with (the agent's pinned-CA fetch for an https:// control plane). */
  fetch?: typeof fetch;
  /**
   * The agent's control-plane credential, sent only to URLs of that origin (an image URL elsewhere
   * gets no credential).
   */
  credential?: { origin: string; token: string };
  /**
   * At most this many bytes of cached images (default: no limit). Caching a new image that would
   * exceed it first removes the least recently used images no disk is backed by; images in use are
   * never removed (so the cache may stay above the limit while they are).
   */
  maxBytes?: number;
  /**
   * Folders of disks that may be backed by cached images (the guests' folder, the pools' folders):
   * every qcow2 file in them or one level below is read for its backing file before an eviction.
   */
  overlayDirs?: () => readonly string[];
}

/** A cached image file as the eviction sees it. */
interface CacheEntry {
  path: string;
  bytes: number;
  /** Last use (epoch ms): the file's mtime, touched on every use. */
  usedMs: number;
}

/** A cache file's name: SHA256.FORMAT. */
const CACHE_FILE_RE = /^[0-9a-f]{64}\.(qcow2|raw)$/;

/**
 * The backing file a qcow2 file names (resolved against its folder), or undefined (not qcow2, none).
 * Reads the header: magic `QFI\xfb`, backing_file_offset (u64 at 8), backing_file_size (u32 at 16)
 * (QEMU's docs/interop/qcow2.txt).
 */
export function qcow2BackingFile(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const h = Buffer.alloc(20);
    if (readSync(fd, h, 0, 20, 0) < 20 || h.readUInt32BE(0) !== 0x514649fb) return undefined;
    const offset = Number(h.readBigUInt64BE(8));
    const size = h.readUInt32BE(16);
    if (!offset || !size || size > 4096) return undefined;
    const name = Buffer.alloc(size);
    if (readSync(fd, name, 0, size, offset) < size) return undefined;
    return resolve(dirname(path), name.toString('utf8'));
  } finally {
    closeSync(fd);
  }
}

/** The qcow2 files in `dir` and in its sub-folders (one level: guests/ID/disk.qcow2), symlinks skipped. */
function qcow2Files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      const st = lstatSync(p, { throwIfNoEntry: false });
      if (st?.isDirectory() && depth > 0) walk(p, depth - 1);
      else if (st?.isFile() && n.endsWith('.qcow2')) out.push(p);
    }
  };
  walk(dir, 1);
  return out;
}

/**
 * Check an ImageRef from outside before any of it becomes a path or a request.
 * @throws DriverError BAD_SPEC naming the field
 */
export function checkImageRef(r: ImageRef, vmId?: string): ImageRef {
  const bad = (what: string) => {
    throw new DriverError('BAD_SPEC', `Bad image reference: ${what}`, vmId);
  };
  if (typeof r?.id !== 'string' || !STORAGE_ID_PATTERN.test(r.id))
    bad("id must be 1-63 letters, digits, '.', '_' or '-'");
  if (typeof r.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(r.sha256))
    bad('sha256 must be 64 lower-case hex digits');
  if (!Number.isSafeInteger(r.sizeBytes) || r.sizeBytes <= 0) bad('sizeBytes must be a positive integer');
  if (r.format !== 'qcow2' && r.format !== 'raw') bad('format must be qcow2 or raw');
  if (typeof r.url !== 'string' || !IMAGE_URL_RE.test(r.url))
    bad('url must be an http:// or https:// URL, or a /v1/ path of the control plane');
  return r;
}

/** An image URL: absolute http(s), or a path on the control plane (`/v1/…`, never `//host`). */
export const IMAGE_URL_RE = /^(https?:\/\/|\/v1\/[^/])/;

/** The images cached on one host. */
export class ImageCache {
  private readonly inflight = new Map<string, Promise<CachedImage>>();
  /** Downloads completed (for tests and the agent's facts). */
  downloads = 0;
  /** Images removed to stay under `maxBytes`. */
  evicted = 0;

  constructor(private readonly o: ImageCacheOptions) {
    mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  }

  /** Set the control-plane credential (known once the agent has enrolled). */
  setCredential(c: { origin: string; token: string } | undefined): void {
    this.o.credential = c;
  }

  /** The file an image is cached as (whether or not it is there). */
  pathOf(r: ImageRef): string {
    checkImageRef(r);
    return join(this.o.dir, `${r.sha256}.${r.format}`);
  }

  /**
   * The cached file of `r`, downloading and verifying it first if needed.
   * @throws DriverError BACKEND when the download fails or does not match the checksum or size
   */
  get(r: ImageRef, vmId?: string): Promise<CachedImage> {
    checkImageRef(r, vmId);
    const path = this.pathOf(r);
    if (existsSync(path)) {
      this.touch(path);
      return Promise.resolve({ path, format: r.format });
    }
    let p = this.inflight.get(path);
    if (!p) {
      p = this.download(r, path, vmId).finally(() => this.inflight.delete(path));
      this.inflight.set(path, p);
    }
    return p;
  }

  /** The bytes of the cached images (for the agent's facts). */
  bytes(): number {
    return this.entries().reduce((n, e) => n + e.bytes, 0);
  }

  /** The cached images, least recently used first. */
  private entries(): CacheEntry[] {
    const out: CacheEntry[] = [];
    for (const n of readdirSync(this.o.dir)) {
      if (!CACHE_FILE_RE.test(n)) continue;
      const path = join(this.o.dir, n);
      const st = statSync(path, { throwIfNoEntry: false });
      if (st?.isFile()) out.push({ path, bytes: st.size, usedMs: st.mtimeMs });
    }
    return out.sort((a, b) => a.usedMs - b.usedMs || a.path.localeCompare(b.path));
  }

  /** Mark a cached image used now (its mtime orders the eviction; QEMU never reads it). */
  private touch(path: string): void {
    const now = new Date();
    try {
      utimesSync(path, now, now);
    } catch {
      // gone meanwhile: the next get downloads it again
    }
  }

  /** The cached images some disk in the overlay folders is backed by. */
  private inUse(): Set<string> {
    const used = new Set<string>();
    for (const d of this.o.overlayDirs?.() ?? [])
      for (const f of qcow2Files(d)) {
        const b = qcow2BackingFile(f);
        if (b && dirname(b) === resolve(this.o.dir)) used.add(b);
      }
    return used;
  }

  /**
   * Make room for `incoming` more bytes under `maxBytes`: remove the least recently used images that
   * no disk is backed by and no download is filling, until the new image fits or none is left.
   * Returns the paths removed.
   */
  evictFor(incoming: number): string[] {
    const max = this.o.maxBytes;
    if (max === undefined) return [];
    const all = this.entries();
    let total = all.reduce((n, e) => n + e.bytes, 0);
    if (total + incoming <= max) return [];
    const used = this.inUse();
    const removed: string[] = [];
    for (const e of all) {
      if (total + incoming <= max) break;
      if (used.has(e.path) || this.inflight.has(e.path)) continue;
      rmSync(e.path, { force: true });
      total -= e.bytes;
      removed.push(e.path);
    }
    this.evicted += removed.length;
    return removed;
  }

  private async download(r: ImageRef, path: string, vmId?: string): Promise<CachedImage> {
    this.evictFor(r.sizeBytes);
    const part = join(this.o.dir, `.${r.sha256}.${randomBytes(6).toString('hex')}.part`);
    const fail = (why: string): never => {
      rmSync(part, { force: true });
      throw new DriverError('BACKEND', `Image "${r.id}" (${r.sha256.slice(0, 12)}…): ${why}`, vmId);
    };
    const c = this.o.credential;
    // The control plane names its own images by path: they are fetched from the origin it enrolled us at.
    const url = r.url.startsWith('/')
      ? c
        ? new URL(r.url, c.origin).href
        : fail('a control-plane path, but this host has no control plane')
      : r.url;
    const headers: Record<string, string> =
      c && new URL(url).origin === new URL(c.origin).origin ? { authorization: `Bearer ${c.token}` } : {};
    let res: Response;
    try {
      res = await (this.o.fetch ?? fetch)(url, { headers, redirect: 'error' });
    } catch (e) {
      return fail(`download failed: ${(e as Error).message}`);
    }
    if (!res.ok || !res.body) return fail(`download answered HTTP ${res.status}`);
    const hash = createHash('sha256');
    let bytes = 0;
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        // Never store more than the reference says (a wrong or hostile server cannot fill the disk).
        if (bytes > r.sizeBytes) return done(new Error(`more than the expected ${r.sizeBytes} bytes`));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(
        Readable.fromWeb(res.body as import('node:stream/web').ReadableStream),
        count,
        createWriteStream(part, { mode: 0o600 }),
      );
    } catch (e) {
      return fail(`download failed: ${(e as Error).message}`);
    }
    if (bytes !== r.sizeBytes) return fail(`downloaded ${bytes} bytes, expected ${r.sizeBytes}; not cached`);
    const got = hash.digest('hex');
    if (got !== r.sha256) return fail(`downloaded file has SHA-256 ${got}, expected ${r.sha256}; not cached`);
    renameSync(part, path);
    this.downloads++;
    return { path, format: r.format };
  }
}
