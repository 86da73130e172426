/**
 * The agent's storage routes with real qemu-img (no guest boots): volumes in pools (create, clone,
 * snapshot, list, delete), ids and pool names that try to leave the pool folder, and registry images
 * downloaded once from a small HTTP server, verified, and refused when corrupt.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildAgentServer } from '../src/agent/agent-server.ts';
import type { ImageRef } from '../src/core/storage/host-storage.ts';
import { ImageCache } from '../src/drivers/qemu/image-cache.ts';
import { QemuDriver } from '../src/drivers/qemu/qemu-driver.ts';
import { HostPools, parsePoolFlag } from '../src/drivers/qemu/storage-pools.ts';

const noQemuImg = spawnSync('qemu-img', ['--version']).status !== 0 ? 'qemu-img is not installed' : false;

describe('agent storage: pools, volumes and the image cache', { skip: noQemuImg }, () => {
  let root = '';
  let app: FastifyInstance;
  let driver: QemuDriver;
  let server: Server;
  let base = '';
  let image: Buffer;
  let other: Buffer;
  const hits: { url: string; auth?: string }[] = [];
  const H = { authorization: 'Bearer k' };

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'nubis-storage-'));
    mkdirSync(join(root, 'canary'));
    writeFileSync(join(root, 'canary', 'keep.qcow2'), 'canary');
    const src = join(root, 'src.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', src, '32M']);
    image = readFileSync(src);
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', join(root, 'other.qcow2'), '16M']);
    other = readFileSync(join(root, 'other.qcow2'));
    server = createServer((req, res) => {
      hits.push({ url: req.url!, auth: req.headers.authorization });
      if (req.url === '/img' || req.url === '/v1/img') return res.end(image);
      if (req.url === '/other') return res.end(other);
      if (req.url === '/corrupt') return res.end(Buffer.concat([image.subarray(0, -1), Buffer.from([7])]));
      res.statusCode = 404;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const cache = new ImageCache({
      dir: join(root, 'cache'),
      credential: { origin: base, token: 'host-cred' },
    });
    driver = await QemuDriver.open({
      stateDir: join(root, 'state'),
      accel: 'tcg',
      imageDirs: [],
      qemuBinary: 'true',
      pools: new HostPools([
        parsePoolFlag(`fast=${root}/pools/fast`),
        parsePoolFlag(`nas=${root}/nas:shared`),
      ]),
      imageCache: cache,
    });
    app = buildAgentServer({ driver, token: 'k' });
    await app.ready();
  });
  after(async () => {
    await app?.close();
    await driver?.close();
    server?.close();
    rmSync(root, { recursive: true, force: true });
  });

  const req = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) =>
    app.inject({ method, url, headers: H, ...(payload !== undefined ? { payload: payload as object } : {}) });
  const fast = { name: 'fast', kind: 'local' as const };
  const ref = (over: Partial<ImageRef> = {}): ImageRef => ({
    id: 'tiny-disk',
    sha256: createHash('sha256').update(image).digest('hex'),
    sizeBytes: image.length,
    format: 'qcow2',
    url: `${base}/img`,
    ...over,
  });

  test('the host reports its pools', async () => {
    const r = await req('GET', '/v1/host');
    assert.deepEqual(r.json().pools, [
      { name: 'fast', kind: 'local' },
      { name: 'nas', kind: 'shared' },
    ]);
  });

  test('volumes are created, cloned, snapshotted, listed and deleted', async () => {
    let r = await req('POST', '/v1/volumes', { id: 'data-1', pool: fast, sizeGiB: 1 });
    assert.equal(r.statusCode, 201, r.body);
    assert.equal(r.json().virtualSizeBytes, 2 ** 30);
    assert.equal(
      (await req('POST', '/v1/volumes', { id: 'data-1', pool: fast, sizeGiB: 1 })).statusCode,
      409,
    );
    r = await req('POST', '/v1/volumes/fast/data-1/snapshots', { name: 'before' });
    assert.equal(r.statusCode, 201, r.body);
    assert.deepEqual(r.json().snapshots, ['before']);
    r = await req('POST', '/v1/volumes', {
      id: 'clone-1',
      pool: fast,
      sizeGiB: 1,
      from: { volumeId: 'data-1' },
    });
    assert.equal(r.statusCode, 201, r.body);
    assert.match(r.json().backingFile, /data-1\.qcow2$/);
    r = await req('POST', '/v1/volumes', {
      id: 'snapcopy',
      pool: fast,
      sizeGiB: 1,
      from: { snapshot: { volumeId: 'data-1', name: 'before' } },
    });
    assert.equal(r.statusCode, 201, r.body);
    const missingSnap = await req('POST', '/v1/volumes', {
      id: 'x',
      pool: fast,
      sizeGiB: 1,
      from: { snapshot: { volumeId: 'data-1', name: 'nope' } },
    });
    assert.equal(missingSnap.statusCode, 404);
    r = await req('GET', '/v1/volumes/fast');
    assert.deepEqual(
      r.json().map((v: { id: string }) => v.id),
      ['clone-1', 'data-1', 'snapcopy'],
    );
    // The base of a clone stays until the clone goes.
    assert.equal((await req('DELETE', '/v1/volumes/fast/data-1')).statusCode, 409);
    assert.equal((await req('DELETE', '/v1/volumes/fast/clone-1')).statusCode, 204);
    assert.equal((await req('DELETE', '/v1/volumes/fast/data-1/snapshots/before')).statusCode, 204);
    assert.equal((await req('DELETE', '/v1/volumes/fast/data-1')).statusCode, 204);
    assert.equal((await req('DELETE', '/v1/volumes/fast/data-1')).statusCode, 404);
  });

  test('a volume attached to a guest cannot be deleted; detached it can', async () => {
    await req('POST', '/v1/volumes', { id: 'att-1', pool: fast, sizeGiB: 1 });
    const disk = { volumeId: 'att-1', pool: fast, sizeGiB: 1, serial: 'att-1' };
    const otherRef = ref({
      id: 'other',
      url: `${base}/other`,
      sha256: createHash('sha256').update(other).digest('hex'),
      sizeBytes: other.length,
    });
    await driver.create({ id: 'vm-a', memoryMiB: 128, vcpus: 1, image: { cached: otherRef } });
    let r = await req('POST', '/v1/guests/vm-a/disks', disk);
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual(r.json().spec.disks, [disk]);
    assert.equal((await req('POST', '/v1/guests/vm-a/disks', disk)).statusCode, 409);
    // One writer per volume: a second guest cannot be created with it either.
    const r2 = await req('POST', '/v1/guests', {
      id: 'vm-b',
      memoryMiB: 128,
      vcpus: 1,
      image: { cached: ref() },
      disks: [disk],
    });
    assert.equal(r2.statusCode, 409, r2.body);
    r = await req('DELETE', '/v1/volumes/fast/att-1');
    assert.equal(r.statusCode, 409);
    assert.match(r.json().message, /attached to guest "vm-a"/);
    assert.equal((await req('DELETE', '/v1/guests/vm-a/disks/att-1')).statusCode, 200);
    assert.equal((await req('DELETE', '/v1/volumes/fast/att-1')).statusCode, 204);
  });

  test('ids and pools that leave the pool folder are refused, and nothing outside is touched', async () => {
    for (const url of [
      '/v1/volumes/..%2Fcanary',
      '/v1/volumes/fast/..%2F..%2Fcanary%2Fkeep',
      '/v1/volumes/%2E%2E/keep',
    ]) {
      const r = await req('DELETE', url.split('/').length > 4 ? url : `${url}/keep`);
      assert.ok([400, 404].includes(r.statusCode), `${url}: ${r.statusCode}`);
    }
    for (const body of [
      { id: '../../canary/keep', pool: fast, sizeGiB: 1 },
      { id: 'ok', pool: { name: '../canary', kind: 'local' }, sizeGiB: 1 },
      { id: 'ok', pool: { name: 'fast', kind: 'shared' }, sizeGiB: 1 },
      { id: 'ok', pool: fast, sizeGiB: 1, from: { volumeId: '../../canary/keep' } },
    ]) {
      const r = await req('POST', '/v1/volumes', body);
      assert.equal(r.statusCode, 400, `${JSON.stringify(body)}: ${r.body}`);
    }
    assert.equal((await req('GET', '/v1/volumes/nope')).statusCode, 404);
    assert.equal(readFileSync(join(root, 'canary', 'keep.qcow2'), 'utf8'), 'canary');
  });

  test('an image is downloaded once for concurrent guests, verified, and backs their root disks', async () => {
    hits.length = 0;
    const created = await Promise.all(
      ['img-1', 'img-2'].map((id) =>
        req('POST', '/v1/guests', { id, memoryMiB: 128, vcpus: 1, image: { cached: ref() } }),
      ),
    );
    for (const r of created) assert.equal(r.statusCode, 201, r.body);
    assert.equal(hits.filter((h) => h.url === '/img').length, 1);
    // The credential goes to the control plane's own origin only.
    assert.equal(hits[0]!.auth, 'Bearer host-cred');
    const sha = ref().sha256;
    assert.ok(existsSync(join(root, 'cache', `${sha}.qcow2`)));
    const info = JSON.parse(
      execFileSync('qemu-img', ['info', '-U', '--output=json', join(root, 'state/guests/img-2/disk.qcow2')], {
        encoding: 'utf8',
      }),
    );
    assert.equal(info['backing-filename'], join(root, 'cache', `${sha}.qcow2`));
    // A volume can be a clone of the cached image too.
    const v = await req('POST', '/v1/volumes', {
      id: 'from-img',
      pool: fast,
      sizeGiB: 1,
      from: { image: ref() },
    });
    assert.equal(v.statusCode, 201, v.body);
    assert.equal(hits.filter((h) => h.url === '/img').length, 1);
  });

  test('a corrupt or oversized download is refused and leaves nothing in the cache', async () => {
    const bad = ref({
      id: 'bad',
      url: `${base}/corrupt`,
      sha256: createHash('sha256').update('x').digest('hex'),
    });
    let r = await req('POST', '/v1/guests', {
      id: 'img-bad',
      memoryMiB: 128,
      vcpus: 1,
      image: { cached: bad },
    });
    assert.equal(r.statusCode, 502, r.body);
    assert.match(r.json().message, /SHA-256 [0-9a-f]{64}, expected/);
    const small = ref({ id: 'short', sha256: 'a'.repeat(64), sizeBytes: 100 });
    r = await req('POST', '/v1/guests', {
      id: 'img-bad',
      memoryMiB: 128,
      vcpus: 1,
      image: { cached: small },
    });
    assert.equal(r.statusCode, 502, r.body);
    assert.match(r.json().message, /more than the expected 100 bytes/);
    assert.equal((await req('GET', '/v1/guests/img-bad')).statusCode, 404);
    assert.deepEqual(
      readdirSync(join(root, 'cache')).filter((f) => f.startsWith('.') || f.includes('part')),
      [],
    );
  });

  test('an image URL on another origin gets no credential', async () => {
    hits.length = 0;
    const cache = new ImageCache({
      dir: join(root, 'cache2'),
      credential: { origin: 'https://cp.example', token: 'host-cred' },
    });
    await cache.get(ref());
    assert.equal(hits.length, 1);
    assert.equal(hits[0]!.auth, undefined);
  });

  test('an image named by a control-plane path is fetched from the enrolled origin, with the credential', async () => {
    hits.length = 0;
    const cache = new ImageCache({
      dir: join(root, 'cache3'),
      credential: { origin: base, token: 'host-cred' },
    });
    await cache.get(ref({ url: '/v1/img' }));
    assert.deepEqual(hits, [{ url: '/v1/img', auth: 'Bearer host-cred' }]);
    // No control plane to resolve it against, or a path that names another host: refused.
    const lone = new ImageCache({ dir: join(root, 'cache4') });
    await assert.rejects(lone.get(ref({ url: '/v1/img' })), /no control plane/);
    await assert.rejects(async () => cache.get(ref({ url: '//evil.example/v1/img' })), /url must be/);
  });
});
