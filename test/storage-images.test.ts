/**
 * The image registry through the API on simulated hosts (issue 13): an upload is streamed, checksummed
 * and judged by `qemu-img info` (a real qcow2 made by `qemu-img create`), a text file, a qcow2 with a
 * backing file, a truncated qcow2 (`qemu-img check`) and an upload over the cap are refused and leave nothing behind; private images are
 * their tenant's, public ones need an admin; hosts download with their credential; a VM boots from
 * an uploaded image with `image.cached`; an image in use is not deleted.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { hashToken } from '../src/control/control-plane.ts';
import { controlPlane, storeBackends } from './helpers/control.ts';

type Api = Awaited<ReturnType<typeof controlPlane>>;
const work = mkdtempSync(join(tmpdir(), 'nubis-img-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A qcow2 file made by qemu-img (`backing`: an overlay on another file). */
function qcow2(name: string, size = '64M', backing?: string): Buffer {
  const f = join(work, name);
  execFileSync('qemu-img', [
    'create',
    '-q',
    '-f',
    'qcow2',
    ...(backing ? ['-b', backing, '-F', 'qcow2'] : []),
    f,
    ...(backing ? [] : [size]),
  ]);
  return readFileSync(f);
}

for (const backend of storeBackends()) {
  describe(`the image registry through the API on ${backend.name}`, () => {
    if (backend.skip) return void test(`every test on ${backend.name}`, { skip: backend.skip });
    const open: { close: () => Promise<void> }[] = [];
    after(async () => {
      for (const x of open) await x.close();
    });

    const world = async (imageMaxBytes?: number) => {
      const s = await backend.url();
      const t: Api = await controlPlane(s.url, 2, { imageMaxBytes });
      open.push({ close: async () => (await t.close(), await s.drop()) });
      const a = t.adminToken;
      const tok: Record<string, string> = { admin: a };
      for (const [tenant, user] of [
        ['acme', 'ann'],
        ['globex', 'bob'],
      ] as const) {
        await t.call(a, 'POST', '/v1/tenants', { name: tenant });
        const u = await t.call(a, 'POST', '/v1/users', { tenant, name: user, role: 'member' });
        tok[user] = (await t.call(a, 'POST', '/v1/tokens', { name: 'tk', userId: u.body.id })).body.token;
      }
      const upload = async (who: string, name: string, data: Buffer, query = '') => {
        const r = await t.app.inject({
          method: 'POST',
          url: `/v1/images/${name}/data${query}`,
          headers: { authorization: `Bearer ${tok[who]}`, 'content-type': 'application/octet-stream' },
          payload: data,
        });
        return { status: r.statusCode, body: JSON.parse(r.body) };
      };
      const images = async () =>
        ((await t.call(a, 'GET', '/v1/images')).body as { name: string }[]).map((i) => i.name);
      return { t, a, tok, upload, images };
    };

    test('a qcow2 upload is stored with its checksum, format and virtual size, and downloads identical', async () => {
      const w = await world();
      const data = qcow2('ok.qcow2', '64M');
      const r = await w.upload('ann', 'deb', data);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.status, 'active');
      assert.equal(r.body.format, 'qcow2');
      assert.equal(r.body.visibility, 'private');
      assert.equal(r.body.sizeBytes, data.length);
      assert.equal(r.body.virtualSizeBytes, 64 * 2 ** 20);
      assert.equal(r.body.sha256, createHash('sha256').update(data).digest('hex'));
      const d = await w.t.app.inject({
        method: 'GET',
        url: '/v1/images/deb/data',
        headers: { authorization: `Bearer ${w.tok.ann}` },
      });
      assert.equal(d.statusCode, 200);
      assert.ok(d.rawPayload.equals(data));
      assert.equal(d.headers['x-image-sha256'], r.body.sha256);
      // Another tenant does not see a private image: 404 for its data, absent from its list.
      const other = await w.t.call(w.tok.bob, 'GET', `/v1/images/${r.body.id}/data`);
      assert.equal(other.status, 404);
      const list = (await w.t.call(w.tok.bob, 'GET', '/v1/images')).body as { name: string }[];
      assert.ok(!list.some((i) => i.name === 'deb'));
      assert.ok(
        list.some((i) => i.name === 'tiny'),
        'catalog images stay visible',
      );
    });

    test('a raw disk is accepted; a text file and a qcow2 with a backing file are refused and leave nothing', async () => {
      const w = await world();
      const raw = Buffer.alloc(1024 * 1024);
      raw[510] = 0x55;
      raw[511] = 0xaa;
      const r = await w.upload('ann', 'rawdisk', raw);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      assert.equal(r.body.format, 'raw');
      const text = await w.upload('ann', 'notes', Buffer.from('hello, this is not a disk\n'.repeat(100)));
      assert.equal(text.status, 400);
      assert.match(text.body.message, /not a disk image|text/);
      qcow2('base.qcow2');
      const overlay = qcow2('overlay.qcow2', '', join(work, 'base.qcow2'));
      const back = await w.upload('ann', 'overlay', overlay);
      assert.equal(back.status, 400);
      assert.match(back.body.message, /backing file/);
      assert.deepEqual(
        (await w.images()).filter((n) => n === 'notes' || n === 'overlay'),
        [],
      );
      assert.deepEqual(readdirSync(w.t.imageDir), [r.body.id], 'only the accepted file is kept');
    });

    test('a truncated qcow2 (its header intact) is refused as corrupt and leaves nothing', async () => {
      const w = await world();
      const f = join(work, 'cut.qcow2');
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', f, '64M']);
      execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x5a 0 1M', f]);
      const whole = readFileSync(f);
      const r = await w.upload('ann', 'cut', whole.subarray(0, Math.floor(whole.length / 2)));
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.match(r.body.message, /The qcow2 image is corrupt \(qemu-img check found \d+ corruptions\)/);
      assert.ok(!(await w.images()).includes('cut'));
      assert.deepEqual(readdirSync(w.t.imageDir), []);
      assert.equal((await w.upload('ann', 'whole', whole)).status, 201, 'the whole file is accepted');
    });

    test('an upload over the cap is refused and leaves no record and no file', async () => {
      const w = await world(256 * 1024);
      const r = await w.upload('ann', 'big', Buffer.alloc(512 * 1024));
      assert.equal(r.status, 400);
      assert.match(r.body.message, /larger than the limit of 262144 bytes/);
      assert.ok(!(await w.images()).includes('big'));
      assert.deepEqual(readdirSync(w.t.imageDir), []);
    });

    test('public images need an admin; a name is taken once; hosts download with their credential only', async () => {
      const w = await world();
      const data = qcow2('pub.qcow2', '16M');
      assert.equal((await w.upload('ann', 'pub', data, '?public=true')).status, 403);
      const pub = await w.upload('admin', 'pub', data, '?public=true');
      assert.equal(pub.status, 201, JSON.stringify(pub.body));
      assert.equal((await w.upload('ann', 'pub', data)).status, 409);
      // A public image is seen and downloaded by every tenant.
      const d = await w.t.app.inject({
        method: 'GET',
        url: '/v1/images/pub/data',
        headers: { authorization: `Bearer ${w.tok.bob}` },
      });
      assert.equal(d.statusCode, 200);
      // The hosts' route refuses user tokens.
      const u = await w.t.app.inject({
        method: 'GET',
        url: `/v1/agents/images/${pub.body.id}/data`,
        headers: { authorization: `Bearer ${w.tok.ann}` },
      });
      assert.equal(u.statusCode, 401);
      // A host presents the credential it was given at enrollment (set here as enrollment stores it).
      const cred = 'nubis_host_' + 'x'.repeat(40);
      const host = await w.t.db.selectFrom('hosts').select('id').limit(1).executeTakeFirstOrThrow();
      await w.t.db
        .updateTable('hosts')
        .set({ credential_hash: hashToken(cred) })
        .where('id', '=', host.id)
        .execute();
      const h = await w.t.app.inject({
        method: 'GET',
        url: `/v1/agents/images/${pub.body.id}/data`,
        headers: { authorization: `Bearer ${cred}` },
      });
      assert.equal(h.statusCode, 200);
      assert.ok(h.rawPayload.equals(data));
      assert.equal(h.headers['x-image-sha256'], pub.body.sha256);
      // Hosts reach private images too (they run every tenant's VMs), by id only.
      const priv = await w.upload('bob', 'bobs', data);
      const hp = await w.t.app.inject({
        method: 'GET',
        url: `/v1/agents/images/${priv.body.id}/data`,
        headers: { authorization: `Bearer ${cred}` },
      });
      assert.equal(hp.statusCode, 200);
    });

    test('a VM boots from an uploaded image (its host is given image.cached) and the image is not deleted while used', async () => {
      const w = await world();
      const img = await w.upload('ann', 'mine', qcow2('mine.qcow2', '32M'));
      const op = await w.t.call(w.tok.ann, 'POST', '/v1/vms', {
        name: 'v1',
        flavor: 'm1.small',
        image: 'mine',
      });
      assert.equal(op.status, 202, JSON.stringify(op.body));
      const g = await w.t.sim.get(op.body.vmId);
      assert.equal(g?.spec.image.cached?.sha256, img.body.sha256);
      assert.equal(g?.spec.image.cached?.url, `/v1/agents/images/${img.body.id}/data`);
      // Another tenant cannot boot it.
      const bob = await w.t.call(w.tok.bob, 'POST', '/v1/vms', {
        name: 'v2',
        flavor: 'm1.small',
        image: 'mine',
      });
      assert.equal(bob.status, 404);
      const del = await w.t.call(w.tok.ann, 'DELETE', '/v1/images/mine');
      assert.equal(del.status, 409);
      assert.match(del.body.message, /v1/);
      await w.t.call(w.tok.ann, 'DELETE', `/v1/vms/${op.body.vmId}`);
      assert.equal((await w.t.call(w.tok.ann, 'DELETE', '/v1/images/mine')).status, 204);
      assert.deepEqual(readdirSync(w.t.imageDir), []);
    });

    test('an upload a crash interrupted (queued, its partial file) is removed by the reconciler', async () => {
      const w = await world();
      const at = new Date(w.t.clock.now() * 1000).toISOString();
      await w.t.db
        .insertInto('images')
        .values({
          id: 'half',
          name: 'half',
          format: 'raw',
          size_mib: 0,
          created_at: at,
          status: 'queued',
          file: 'half',
        })
        .execute();
      writeFileSync(join(w.t.imageDir, 'half'), 'partial');
      const r = await w.t.cp.reconcile();
      assert.deepEqual(r.imagesRemoved, ['half']);
      assert.ok(!(await w.images()).includes('half'));
      assert.deepEqual(readdirSync(w.t.imageDir), []);
    });
  });
}
