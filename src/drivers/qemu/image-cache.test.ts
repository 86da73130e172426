/**
 * The image cache's size limit with real qemu-img files in a temp folder (no guest): the least
 * recently used images go first, never one a disk is backed by.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ImageRef } from '../../core/storage/host-storage.ts';
import { ImageCache, qcow2BackingFile } from './image-cache.ts';

/** Four small qcow2 images (distinct virtual sizes: distinct checksums) served by a fake fetch. */
function world() {
  const root = mkdtempSync(join(tmpdir(), 'nubis-image-cache-'));
  const src = join(root, 'src');
  mkdirSync(src);
  const refs: Record<string, ImageRef> = {};
  const data = new Map<string, Buffer>();
  for (const [i, name] of ['a', 'b', 'c', 'd'].entries()) {
    const f = join(src, `${name}.qcow2`);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', f, `${i + 1}M`]);
    const bytes = readFileSync(f);
    const url = `http://images.test/${name}`;
    data.set(url, bytes);
    refs[name] = {
      id: name,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      sizeBytes: bytes.length,
      format: 'qcow2',
      url,
    };
  }
  const fetch = (async (u: string) =>
    new Response(new Uint8Array(data.get(u)!))) as unknown as typeof globalThis.fetch;
  const guests = join(root, 'guests');
  mkdirSync(guests);
  const size = refs.a!.sizeBytes;
  return { root, refs, fetch, guests, size };
}

/** A guest's root disk: a qcow2 overlay on `base`, as the QEMU driver makes it. */
function overlay(guests: string, id: string, base: string): string {
  mkdirSync(join(guests, id));
  const f = join(guests, id, 'disk.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base, f]);
  return f;
}

/** Set a cached file's last use (epoch s). */
const usedAt = (path: string, s: number) => utimesSync(path, s, s);

test('qcow2BackingFile() reads the backing file from the header; none for a base image or a non-qcow2 file', async () => {
  const w = world();
  const cache = new ImageCache({ dir: join(w.root, 'cache'), fetch: w.fetch });
  const a = await cache.get(w.refs.a!);
  const o = overlay(w.guests, 'g1', a.path);
  assert.equal(qcow2BackingFile(o), a.path);
  assert.equal(qcow2BackingFile(a.path), undefined);
  assert.equal(qcow2BackingFile(join(w.root, 'missing')), undefined);
});

test('with --image-cache-max-gib, a new image evicts the least recently used ones, never one a guest disk is backed by', async () => {
  const w = world();
  // Room for two images (each about the same size; a small margin for their different headers).
  const cache = new ImageCache({
    dir: join(w.root, 'cache'),
    fetch: w.fetch,
    maxBytes: 2 * w.size + 1024,
    overlayDirs: () => [w.guests],
  });
  const a = await cache.get(w.refs.a!);
  const b = await cache.get(w.refs.b!);
  overlay(w.guests, 'g1', a.path); // a guest runs on a: it stays
  usedAt(a.path, 1000); // a is the oldest, then b
  usedAt(b.path, 2000);
  const c = await cache.get(w.refs.c!);
  assert.ok(existsSync(a.path), 'in use: kept although least recently used');
  assert.ok(!existsSync(b.path), 'the least recently used unused image went');
  assert.ok(existsSync(c.path));
  assert.equal(cache.evicted, 1);
  assert.equal(cache.bytes(), w.refs.a!.sizeBytes + w.refs.c!.sizeBytes);

  // b again: downloaded again, c (unused) makes room, a stays.
  await cache.get(w.refs.b!);
  assert.equal(cache.downloads, 4);
  assert.ok(existsSync(a.path) && !existsSync(c.path));
});

test('a cache hit counts as a use: the image used last stays, the one used longest ago goes', async () => {
  const w = world();
  const cache = new ImageCache({
    dir: join(w.root, 'cache'),
    fetch: w.fetch,
    maxBytes: 3 * w.size + 1024,
    overlayDirs: () => [w.guests],
  });
  const got = [];
  for (const n of ['a', 'b', 'c']) got.push(await cache.get(w.refs[n]!));
  got.forEach((g, i) => usedAt(g.path, 1000 * (i + 1))); // a oldest, then b, then c
  await cache.get(w.refs.a!); // a hit: a is now the newest
  await cache.get(w.refs.d!);
  assert.deepEqual(
    got.map((g) => existsSync(g.path)),
    [true, false, true],
    'b, used longest ago, made room',
  );
});

test('without a limit nothing is evicted; with every image in use the cache grows past the limit', async () => {
  const w = world();
  const free = new ImageCache({ dir: join(w.root, 'free'), fetch: w.fetch });
  for (const n of ['a', 'b', 'c', 'd']) await free.get(w.refs[n]!);
  assert.equal(free.evicted, 0);
  const full = new ImageCache({
    dir: join(w.root, 'full'),
    fetch: w.fetch,
    maxBytes: w.size + 1024,
    overlayDirs: () => [w.guests],
  });
  const a = await full.get(w.refs.a!);
  overlay(w.guests, 'g2', a.path);
  const b = await full.get(w.refs.b!);
  assert.ok(existsSync(a.path) && existsSync(b.path), 'a guest needs b: it is cached; a is in use');
  assert.equal(full.evicted, 0);
});
