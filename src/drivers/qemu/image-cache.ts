/**
 * A host's cache of registry images, by checksum: an image is downloaded once from the control plane
 * into DIR/SHA256.FORMAT (streamed to a temporary file, hashed and counted on the way), kept only if
 * its SHA-256 and size are the ones the ImageRef names, and shared by every guest and volume that
 * uses it (qcow2 overlays). Concurrent requests for one image wait for the same download.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
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
    if (existsSync(path)) return Promise.resolve({ path, format: r.format });
    let p = this.inflight.get(path);
    if (!p) {
      p = this.download(r, path, vmId).finally(() => this.inflight.delete(path));
      this.inflight.set(path, p);
    }
    return p;
  }

  private async download(r: ImageRef, path: string, vmId?: string): Promise<CachedImage> {
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
