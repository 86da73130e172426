/**
 * Glance v2 on nubis: who sees and changes what (public for all, a tenant's private images 404 to
 * others, only admins publish), listing (filters, sorting, paging with `next`), a VM booting an
 * image uploaded through Glance, and an interrupted Glance upload queued again. On SQLite and
 * PostgreSQL.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { controlPlane, storeBackends } from './helpers/control.ts';
import { glanceCaller, imageBytes } from './helpers/openstack-image.ts';

const JSON_CT = { 'content-type': 'application/json' };
const DATA_CT = { 'content-type': 'application/octet-stream' };

for (const backend of storeBackends()) {
  describe(`Glance v2 access and listing (${backend.name})`, () => {
    if (backend.skip) return void test('skipped', { skip: backend.skip });

    const world = async () => {
      const db = await backend.url();
      const t = await controlPlane(db.url, 1);
      const a = t.adminToken;
      const tok: Record<string, string> = { admin: a };
      for (const [tenant, user, role] of [
        ['acme', 'ann', 'member'],
        ['acme', 'rita', 'reader'],
        ['globex', 'bob', 'member'],
      ] as const) {
        if ((await t.call(a, 'GET', `/v1/tenants/${tenant}`)).status === 404)
          await t.call(a, 'POST', '/v1/tenants', { name: tenant });
        const u = await t.call(a, 'POST', '/v1/users', { tenant, name: user, role });
        tok[user] = (await t.call(a, 'POST', '/v1/tokens', { name: 'tk', userId: u.body.id })).body.token;
      }
      const os = glanceCaller(t);
      const create = async (who: string, body: object) => {
        const r = await os(tok[who], 'POST', '/v2/images', body, JSON_CT);
        assert.equal(r.status, 201, JSON.stringify(r.body));
        return r.body as { id: string; owner: string };
      };
      return { t, tok, os, create, close: async () => (await t.close(), await db.drop()) };
    };

    test('a private image is its tenant’s: 404 to another tenant, readers do not write, only admins publish', async () => {
      const w = await world();
      try {
        const { os, tok } = w;
        const img = await w.create('ann', { name: 'ann-img', visibility: 'private', disk_format: 'raw' });
        assert.equal((await os(tok.rita, 'GET', `/v2/images/${img.id}`)).status, 200);
        assert.equal((await os(tok.bob, 'GET', `/v2/images/${img.id}`)).status, 404);
        assert.equal((await os(tok.bob, 'DELETE', `/v2/images/${img.id}`)).status, 404);
        assert.equal(
          (await os(tok.bob, 'PUT', `/v2/images/${img.id}/file`, imageBytes(), DATA_CT)).status,
          404,
        );
        const patch = (who: string, ops: unknown) =>
          os(tok[who], 'PATCH', `/v2/images/${img.id}`, ops, {
            'content-type': 'application/openstack-images-v2.1-json-patch',
          });
        assert.equal((await patch('bob', [{ op: 'replace', path: '/name', value: 'x' }])).status, 404);
        assert.equal((await patch('rita', [{ op: 'replace', path: '/name', value: 'x' }])).status, 403);
        assert.equal(
          (await patch('ann', [{ op: 'replace', path: '/visibility', value: 'public' }])).status,
          403,
        );
        assert.equal(
          (await os(tok.ann, 'POST', '/v2/images', { name: 'p', visibility: 'public' }, JSON_CT)).status,
          403,
        );
        assert.equal((await os(tok.rita, 'POST', '/v2/images', { name: 'r' }, JSON_CT)).status, 403);
        const pub = await patch('admin', [{ op: 'replace', path: '/visibility', value: 'public' }]);
        assert.equal(pub.status, 200);
        assert.equal((await os(tok.bob, 'GET', `/v2/images/${img.id}`)).status, 200);
        // bob sees it but it is not his tenant's.
        assert.equal((await patch('bob', [{ op: 'replace', path: '/name', value: 'x' }])).status, 403);
        assert.equal((await os(tok.bob, 'DELETE', `/v2/images/${img.id}`)).status, 403);
        // An admin registers an image for a tenant (Glance's owner); members cannot.
        const acme = (await os(tok.ann, 'GET', `/v2/images/${img.id}`)).body.owner as string;
        const given = await w.create('admin', { name: 'for-acme', owner: acme, visibility: 'private' });
        assert.equal((await os(tok.ann, 'GET', `/v2/images/${given.id}`)).body.owner, acme);
        assert.equal((await os(tok.bob, 'GET', `/v2/images/${given.id}`)).status, 404);
        // Glance takes any owner from an admin (Tempest gives random ids): only admins see that image.
        const stray = await w.create('admin', { name: 'o', owner: 'f00d' });
        assert.equal(stray.owner, 'f00d');
        assert.equal((await os(tok.ann, 'GET', `/v2/images/${stray.id}`)).status, 404);
        assert.equal(
          (await os(tok.bob, 'POST', '/v2/images', { name: 'o', owner: acme }, JSON_CT)).status,
          403,
        );
        // The seeded catalog images are public, owned by nobody, bare raw or qcow2.
        const debian = (await os(tok.bob, 'GET', '/v2/images?name=debian-12')).body.images[0];
        assert.equal(debian.disk_format, 'qcow2');
        assert.equal(debian.container_format, 'bare');
        const list = (await os(tok.bob, 'GET', '/v2/images')).body.images as {
          name: string;
          visibility: string;
          owner: unknown;
        }[];
        const tiny = list.find((i) => i.name === 'tiny');
        assert.equal(tiny?.visibility, 'public');
        assert.equal(tiny?.owner, null);
      } finally {
        await w.close();
      }
    });

    test('sharing: the owner adds a tenant (pending), the member accepts or rejects, sees and boots the image', async () => {
      const w = await world();
      try {
        const { os, tok, t } = w;
        const img = await w.create('ann', { name: 'to-share', disk_format: 'raw', container_format: 'bare' });
        assert.equal(
          (await os(tok.ann, 'PUT', `/v2/images/${img.id}/file`, imageBytes(), DATA_CT)).status,
          204,
        );
        const globex = (await os(tok.bob, 'POST', '/v2/images', { name: 'g' }, JSON_CT)).body.owner as string;
        const ids = async (who: string, q = '') =>
          ((await os(tok[who], 'GET', `/v2/images${q}`)).body.images as { id: string }[]).map((i) => i.id);
        assert.equal((await os(tok.bob, 'GET', `/v2/images/${img.id}`)).status, 404);
        // Only the owner shares; a member's answer is the member's.
        assert.equal(
          (await os(tok.bob, 'POST', `/v2/images/${img.id}/members`, { member: globex }, JSON_CT)).status,
          404,
        );
        const m = await os(tok.ann, 'POST', `/v2/images/${img.id}/members`, { member: globex }, JSON_CT);
        assert.equal(m.status, 200, JSON.stringify(m.body));
        assert.deepEqual([m.body.member_id, m.body.image_id, m.body.status], [globex, img.id, 'pending']);
        assert.equal(
          (await os(tok.ann, 'POST', `/v2/images/${img.id}/members`, { member: globex }, JSON_CT)).status,
          409,
        );
        assert.equal((await os(tok.bob, 'GET', `/v2/images/${img.id}`)).status, 200);
        assert.ok(!(await ids('bob')).includes(img.id), 'pending: not listed');
        assert.ok((await ids('bob', '?member_status=pending')).includes(img.id));
        const answer = (who: string, status: string) =>
          os(tok[who], 'PUT', `/v2/images/${img.id}/members/${globex}`, { status }, JSON_CT);
        assert.equal((await answer('ann', 'accepted')).status, 403);
        assert.equal((await answer('bob', 'maybe')).status, 400);
        assert.equal((await answer('bob', 'accepted')).body.status, 'accepted');
        assert.ok((await ids('bob')).includes(img.id));
        const members = await os(tok.ann, 'GET', `/v2/images/${img.id}/members`);
        assert.deepEqual(
          members.body.members.map((x: { status: string }) => x.status),
          ['accepted'],
        );
        const vm = await t.call(tok.bob, 'POST', '/v1/vms', {
          name: 'shared-vm',
          flavor: 'm1.small',
          image: img.id,
        });
        assert.equal(vm.status, 202, JSON.stringify(vm.body));
        assert.equal((await answer('bob', 'rejected')).body.status, 'rejected');
        assert.ok(!(await ids('bob')).includes(img.id));
        assert.equal((await os(tok.ann, 'DELETE', `/v2/images/${img.id}/members/${globex}`)).status, 204);
        assert.equal((await os(tok.bob, 'GET', `/v2/images/${img.id}`)).status, 404);
        assert.equal((await os(tok.admin, 'GET', '/v2/schemas/member')).body.name, 'member');
        assert.equal((await os(tok.admin, 'GET', '/v2/schemas/members')).body.name, 'members');
      } finally {
        await w.close();
      }
    });

    test('listing: filters, sort keys and directions, limit/marker with next', async () => {
      const w = await world();
      try {
        const { os, tok } = w;
        const ids: string[] = [];
        for (const [n, size] of [
          [1, 1024],
          [2, 3000],
          [3, 2048],
        ] as const) {
          const img = await w.create('ann', {
            name: `l${n}`,
            visibility: 'private',
            disk_format: n === 2 ? 'qcow2' : 'raw',
            container_format: 'bare',
            tags: [`t${n}`, 'all'],
          });
          // qcow2 declared, raw data: Glance does not look inside (nubis boots by what qemu-img found).
          assert.equal(
            (await os(tok.ann, 'PUT', `/v2/images/${img.id}/file`, imageBytes(size, n), DATA_CT)).status,
            204,
          );
          ids.push(img.id);
          w.t.clock.advanceBy(1);
        }
        await w.create('bob', { name: 'b1', visibility: 'private' });
        const list = async (q: string) => {
          const r = await os(tok.ann, 'GET', `/v2/images${q}`);
          assert.equal(r.status, 200, JSON.stringify(r.body));
          return r.body as { images: { id: string; name: string; size: number }[]; next?: string };
        };
        const names = async (q: string) => (await list(q)).images.map((i) => i.name);
        assert.deepEqual(await names('?visibility=private'), ['l3', 'l2', 'l1'], 'newest first; not bob’s');
        assert.deepEqual(await names('?disk_format=qcow2'), ['l2', 'debian-12']);
        assert.deepEqual(await names('?tag=t1&tag=all'), ['l1']);
        assert.deepEqual(await names('?size_min=2000&size_max=2500'), ['l3']);
        assert.deepEqual(await names('?size=3000'), ['l2']);
        assert.deepEqual(await names('?name=l1'), ['l1']);
        assert.deepEqual(await names('?status=active&visibility=private&sort=size:asc'), ['l1', 'l3', 'l2']);
        assert.deepEqual(await names('?visibility=private&sort_key=size&sort_dir=desc'), ['l2', 'l3', 'l1']);
        assert.deepEqual(await names('?visibility=private&sort_key=name&sort_dir=asc'), ['l1', 'l2', 'l3']);
        assert.equal((await os(tok.ann, 'GET', '/v2/images?sort_key=color')).status, 400);
        assert.equal((await os(tok.ann, 'GET', '/v2/images?sort_dir=up')).status, 400);
        assert.equal((await os(tok.ann, 'GET', '/v2/images?marker=nope')).status, 400);
        assert.equal((await os(tok.ann, 'GET', '/v2/images?limit=x')).status, 400);

        // Paging: follow `next` until it is gone.
        const seen: string[] = [];
        let url: string | undefined = '/v2/images?visibility=private&limit=2';
        for (let pages = 0; url; pages++) {
          assert.ok(pages < 5);
          const page = await list(url.slice('/v2/images'.length));
          assert.ok(page.images.length <= 2);
          seen.push(...page.images.map((i) => i.name));
          url = page.next;
        }
        assert.deepEqual(seen, ['l3', 'l2', 'l1']);
        const all = await list('');
        assert.equal((all as unknown as { first: string }).first, '/v2/images');
        assert.ok(all.images.some((i) => i.name === 'tiny'));
      } finally {
        await w.close();
      }
    });

    test('a VM boots an image uploaded through Glance; an interrupted Glance upload is queued again', async () => {
      const w = await world();
      try {
        const { os, tok, t } = w;
        const img = await w.create('ann', {
          name: 'bootme',
          visibility: 'private',
          disk_format: 'raw',
          container_format: 'bare',
        });
        assert.equal(
          (await os(tok.ann, 'PUT', `/v2/images/${img.id}/file`, imageBytes(4096), DATA_CT)).status,
          204,
        );
        const op = await t.call(tok.ann, 'POST', '/v1/vms', {
          name: 'v1',
          flavor: 'm1.small',
          image: img.id,
        });
        assert.equal(op.status, 202, JSON.stringify(op.body));
        const g = await t.sim.get(op.body.vmId);
        assert.equal(g?.spec.image.cached?.url, `/v1/agents/images/${img.id}/data`);
        // Through Nova too: a server from the Glance image (imageRef) boots it.
        const net = await t.call(tok.ann, 'POST', '/v1/networks', { name: 'n1', cidr: '10.30.0.0/24' });
        assert.equal(net.status, 201, JSON.stringify(net.body));
        const flavor = (await t.call(tok.ann, 'GET', '/v1/flavors')).body.find(
          (f: { name: string }) => f.name === 'm1.small',
        ).id;
        const server = await t.app.inject({
          method: 'POST',
          url: '/openstack/compute/v2.1/servers',
          headers: { 'x-auth-token': tok.ann, 'content-type': 'application/json' },
          payload: { server: { name: 'nova-vm', imageRef: img.id, flavorRef: flavor } },
        });
        assert.equal(server.statusCode, 202, server.body);
        const sid = JSON.parse(server.body).server.id as string;
        // Nova builds in the background: wait (bounded) for the guest.
        let guest = await t.sim.get(sid);
        for (let n = 0; !guest && n < 400; n++) {
          await new Promise((r) => setTimeout(r, 10));
          guest = await t.sim.get(sid);
        }
        const sha = (await t.call(tok.ann, 'GET', `/v1/images/${img.id}`)).body.sha256;
        assert.equal(guest?.spec.image.cached?.sha256, sha);
        // In use: not deleted (409); deactivated: no new VM boots it.
        assert.equal((await os(tok.ann, 'DELETE', `/v2/images/${img.id}`)).status, 409);
        assert.equal((await os(tok.ann, 'POST', `/v2/images/${img.id}/actions/deactivate`)).status, 204);
        const refused = await t.call(tok.ann, 'POST', '/v1/vms', {
          name: 'v2',
          flavor: 'm1.small',
          image: img.id,
        });
        assert.equal(refused.status, 409);
        assert.equal((await os(tok.ann, 'GET', `/v2/images/${img.id}/file`)).status, 403);
        assert.equal((await os(tok.admin, 'GET', `/v2/images/${img.id}/file`)).status, 200);

        // A crash during a Glance upload: `saving` with a partial file -> queued, no file.
        const half = await w.create('ann', { name: 'half' });
        await t.db
          .updateTable('images')
          .set({ status: 'saving', file: half.id })
          .where('id', '=', half.id)
          .execute();
        writeFileSync(join(t.imageDir, half.id), 'partial');
        const r = await t.cp.reconcile();
        assert.deepEqual(r.imagesRemoved, ['half']);
        const after = await os(tok.ann, 'GET', `/v2/images/${half.id}`);
        assert.equal(after.body.status, 'queued');
        assert.equal(
          (await os(tok.ann, 'PUT', `/v2/images/${half.id}/file`, imageBytes(), DATA_CT)).status,
          204,
        );
      } finally {
        await w.close();
      }
    });
  });
}
