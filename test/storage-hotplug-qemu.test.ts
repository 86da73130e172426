/**
 * Volumes in real QEMU guests (TCG) through the agent: a volume hot-plugged into a running guest
 * appears as /dev/vdb (the tiny guest prints `nubis-disk-add`), the guest writes a pattern to it, it
 * is unplugged (the guest lets go: `nubis-disk-del`), attached to a stopped second guest (qemuArgs at
 * its start) and the pattern is there. Needs a guest built with virtio_blk (scripts/build-guest.sh;
 * NUBIS_GUEST_DIR names such a build).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildAgentServer } from '../src/agent/agent-server.ts';
import { diskSerial } from '../src/core/storage/host-storage.ts';
import { QemuDriver } from '../src/drivers/qemu/qemu-driver.ts';
import { openSerialConsole } from '../src/drivers/qemu/serial-console.ts';
import { HostPools } from '../src/drivers/qemu/storage-pools.ts';
import { ImageCache } from '../src/drivers/qemu/image-cache.ts';
import { GUEST_DIR, tinyGuest, waitForSerial } from './helpers/guest.ts';

const g = tinyGuest();
const skip =
  typeof g === 'string'
    ? g
    : existsSync(join(GUEST_DIR, 'modules', 'virtio_blk.ko'))
      ? false
      : `the tiny guest in ${GUEST_DIR} has no virtio_blk (rebuild it: bash scripts/build-guest.sh)`;

describe('volumes hot-plugged into real QEMU guests', { skip }, () => {
  let dir = '';
  let qemu: QemuDriver;
  let app: FastifyInstance;
  const H = { authorization: 'Bearer k' };
  const pool = { name: 'fast', kind: 'local' as const };
  const disk = { volumeId: 'data-1', pool, sizeGiB: 1, serial: diskSerial('data-1') };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nubis-hotplug-'));
    qemu = await QemuDriver.open({
      stateDir: join(dir, 'state'),
      accel: 'tcg',
      imageDirs: [GUEST_DIR],
      pools: new HostPools([{ ...pool, dir: join(dir, 'pool') }]),
      imageCache: new ImageCache({ dir: join(dir, 'cache') }),
    });
    app = buildAgentServer({ driver: qemu, token: 'k', images: { tinyGuestDir: GUEST_DIR } });
    await app.ready();
  });
  after(async () => {
    for (const id of ['hp-1', 'hp-2']) await qemu?.delete(id).catch(() => undefined);
    await app?.close();
    await qemu?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const req = (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) =>
    app.inject({ method, url, headers: H, ...(payload !== undefined ? { payload: payload as object } : {}) });
  const log = (id: string) => qemu.serialLog(id);
  /** Type a command into the guest's console shell; resolves when `marker` shows in its log. */
  const shell = async (id: string, cmd: string, marker: RegExp, timeoutMs = 120_000) => {
    const con = await openSerialConsole(id, qemu.dir(id));
    try {
      con.write('\n');
      await new Promise((r) => setTimeout(r, 500));
      con.write(`${cmd}\n`);
      return await waitForSerial(log(id), (l) => marker.test(l), timeoutMs);
    } finally {
      con.close();
    }
  };
  const guest = (id: string) => ({
    id,
    memoryMiB: 192,
    vcpus: 1,
    image: { kernel: 'image://tiny' },
    workload: { mib: 4, rateMiBps: 0 },
  });

  test('attach to a running guest, write, detach, attach to another guest: the data is there', async () => {
    assert.equal((await req('POST', '/v1/volumes', { id: 'data-1', pool, sizeGiB: 1 })).statusCode, 201);
    assert.equal((await req('POST', '/v1/guests', guest('hp-1'))).statusCode, 201);
    assert.equal((await req('POST', '/v1/guests/hp-1/start')).statusCode, 200);
    await waitForSerial(log('hp-1'), (l) => l.includes('nubis-ready'), 180_000);

    let r = await req('POST', '/v1/guests/hp-1/disks', disk);
    assert.equal(r.statusCode, 200, r.body);
    await waitForSerial(log('hp-1'), (l) => /nubis-disk-add vdb data-1 2097152/.test(l), 120_000);
    // A running guest's volume is snapshotted through its QEMU, and not deleted under it.
    r = await req('POST', '/v1/volumes/fast/data-1/snapshots', { name: 'empty' });
    assert.equal(r.statusCode, 201, r.body);
    assert.deepEqual(r.json().snapshots, ['empty']);
    assert.equal((await req('POST', '/v1/volumes/fast/data-1/snapshots', { name: 'empty' })).statusCode, 409);
    assert.equal((await req('DELETE', '/v1/volumes/fast/data-1')).statusCode, 409);
    assert.equal(
      (await req('POST', '/v1/volumes', { id: 'c', pool, sizeGiB: 1, from: { volumeId: 'data-1' } }))
        .statusCode,
      409,
    );

    await shell(
      'hp-1',
      'echo nubis-pattern-7f3a | dd of=/dev/vdb bs=512 conv=sync,fsync 2>/dev/null && echo pattern-written',
      /^pattern-written/m,
    );
    r = await req('DELETE', '/v1/guests/hp-1/disks/data-1');
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual(r.json().spec.disks, []);
    await waitForSerial(log('hp-1'), (l) => /nubis-disk-del vdb/.test(l), 120_000);
    // Detached, the snapshot is deleted offline.
    assert.equal((await req('DELETE', '/v1/volumes/fast/data-1/snapshots/empty')).statusCode, 204);

    // The second guest gets it while stopped: attached at its start by qemuArgs.
    assert.equal((await req('POST', '/v1/guests', guest('hp-2'))).statusCode, 201);
    r = await req('POST', '/v1/guests/hp-2/disks', disk);
    assert.equal(r.statusCode, 200, r.body);
    // One writer per volume.
    assert.equal((await req('POST', '/v1/guests/hp-1/disks', disk)).statusCode, 409);
    assert.equal((await req('POST', '/v1/guests/hp-2/start')).statusCode, 200);
    await waitForSerial(log('hp-2'), (l) => /nubis-disk-add vdb data-1/.test(l), 180_000);
    const out = await shell('hp-2', 'echo read-$(head -c 18 /dev/vdb)-done', /read-[^\n]*-done/);
    assert.match(out, /read-nubis-pattern-7f3a-done/);
  });

  test('a guest whose root disk is an overlay on a cached registry image starts', async () => {
    const img = join(dir, 'img.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', img, '16M']);
    const bytes = readFileSync(img);
    const server = createServer((_req, res) => res.end(bytes));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const cached = {
        id: 'empty',
        sha256: createHash('sha256').update(bytes).digest('hex'),
        sizeBytes: bytes.length,
        format: 'qcow2' as const,
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/img`,
      };
      let r = await req('POST', '/v1/guests', { id: 'hp-img', memoryMiB: 128, vcpus: 1, image: { cached } });
      assert.equal(r.statusCode, 201, r.body);
      r = await req('POST', '/v1/guests/hp-img/start');
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.json().state, 'running');
      const cmd = readFileSync(`/proc/${qemu.pid('hp-img')}/cmdline`, 'utf8');
      assert.match(cmd, /hp-img\/disk\.qcow2/);
      assert.match(cmd, /-boot\0c/);
    } finally {
      server.close();
      await qemu.delete('hp-img').catch(() => undefined);
    }
  });
});
