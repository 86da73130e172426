/**
 * Glance v2 on nubis (/openstack/image): versions, register -> upload -> active with checksums,
 * download, patch, tags, deactivate, protected, delete, schemas; images are nubis's image records.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { controlPlane } from './helpers/control.ts';
import { glanceCaller, imageBytes } from './helpers/openstack-image.ts';

const JSON_CT = { 'content-type': 'application/json' };
const PATCH_CT = { 'content-type': 'application/openstack-images-v2.1-json-patch' };
const DATA_CT = { 'content-type': 'application/octet-stream' };

test('Glance v2: versions without a token, register -> upload -> active with md5 and sha512, download equals upload', async () => {
  const t = await controlPlane(':memory:', 1);
  try {
    const os = glanceCaller(t);
    for (const path of ['', '/']) {
      const v = await os(undefined, 'GET', path);
      assert.equal(v.status, 300);
      assert.ok(v.headers['x-openstack-request-id']);
      assert.equal(v.body.versions[0].status, 'CURRENT');
      assert.match(v.body.versions[0].links[0].href, /\/openstack\/image\/v2\/$/);
    }
    assert.equal((await os(undefined, 'GET', '/v2/images')).status, 401);

    const a = t.adminToken;
    const c = await os(
      a,
      'POST',
      '/v2/images',
      {
        name: 'cirros',
        container_format: 'bare',
        disk_format: 'raw',
        visibility: 'private',
        ramdisk_id: 'r-1',
        kernel_id: null,
      },
      JSON_CT,
    );
    assert.equal(c.status, 201, JSON.stringify(c.body));
    const id = c.body.id as string;
    assert.deepEqual(
      { ...c.body, id: undefined, created_at: undefined, updated_at: undefined },
      {
        id: undefined,
        name: 'cirros',
        status: 'queued',
        visibility: 'private',
        protected: false,
        os_hidden: false,
        owner: t.admin.tenantId,
        container_format: 'bare',
        disk_format: 'raw',
        min_disk: 0,
        min_ram: 0,
        size: null,
        virtual_size: null,
        checksum: null,
        os_hash_algo: null,
        os_hash_value: null,
        tags: [],
        ramdisk_id: 'r-1',
        created_at: undefined,
        updated_at: undefined,
        self: `/v2/images/${id}`,
        file: `/v2/images/${id}/file`,
        schema: '/v2/schemas/image',
      },
    );
    assert.match(c.body.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // No data yet: 204.
    const none = await os(a, 'GET', `/v2/images/${id}/file`);
    assert.equal(none.status, 204);
    assert.equal(none.raw.length, 0);

    // 1500 bytes: not whole sectors (Tempest uploads 1024..4096 random bytes), Glance stores them.
    const data = imageBytes(1500);
    const up = await os(a, 'PUT', `/v2/images/${id}/file`, data, DATA_CT);
    assert.equal(up.status, 204, up.raw.toString());
    const got = await os(a, 'GET', `/v2/images/${id}`);
    assert.equal(got.body.status, 'active');
    assert.equal(got.body.size, 1500);
    assert.equal(got.body.checksum, createHash('md5').update(data).digest('hex'));
    assert.equal(got.body.os_hash_algo, 'sha512');
    assert.equal(got.body.os_hash_value, createHash('sha512').update(data).digest('hex'));
    // Its data again: 409 (Glance: already active).
    assert.equal((await os(a, 'PUT', `/v2/images/${id}/file`, data, DATA_CT)).status, 409);

    const down = await os(a, 'GET', `/v2/images/${id}/file`);
    assert.equal(down.status, 200);
    assert.deepEqual(down.raw, data);
    assert.equal(down.headers['content-md5'], got.body.checksum);

    // nubis's own API sees the same image, with its SHA-256.
    const mine = await t.call(a, 'GET', `/v1/images/${id}`);
    assert.equal(mine.body.status, 'active');
    assert.equal(mine.body.sha256, createHash('sha256').update(data).digest('hex'));

    // Not an image (text): 400, and the record is queued again.
    const second = await os(
      a,
      'POST',
      '/v2/images',
      { name: 'text', disk_format: 'raw', container_format: 'bare' },
      JSON_CT,
    );
    const bad = await os(
      a,
      'PUT',
      `/v2/images/${second.body.id}/file`,
      Buffer.from('hello world\n'.repeat(50)),
      DATA_CT,
    );
    assert.equal(bad.status, 400);
    assert.equal((await os(a, 'GET', `/v2/images/${second.body.id}`)).body.status, 'queued');
  } finally {
    await t.close();
  }
});

test('Glance v2: formats, reserved and read-only attributes on create are 400 and 403', async () => {
  const t = await controlPlane(':memory:', 1);
  try {
    const os = glanceCaller(t);
    const a = t.adminToken;
    const create = (b: object) => os(a, 'POST', '/v2/images', b, JSON_CT);
    assert.equal((await create({ name: 'x', disk_format: 'vmdk' })).status, 400);
    assert.equal((await create({ name: 'x', container_format: 'docker' })).status, 400);
    assert.equal((await create({ name: 'x', visibility: 'everyone' })).status, 400);
    assert.equal((await create({ name: 'x', min_ram: -1 })).status, 400);
    assert.equal((await create({ name: 'x', os_glance_foo: 'bar' })).status, 403);
    assert.equal((await create({ name: 'x', status: 'active' })).status, 403);
    assert.equal((await create({ name: 'x', checksum: 'abc' })).status, 403);
    assert.equal((await create({ name: 'x', custom: 3 })).status, 400);
    const ok = await create({ name: 'x', disk_format: 'qcow2', container_format: 'ovf', custom: 'v' });
    assert.equal(ok.status, 201);
    assert.equal(ok.body.custom, 'v');
    assert.equal(ok.body.visibility, 'shared', "Glance's default visibility");
  } finally {
    await t.close();
  }
});

test('Glance v2: patch (add/replace/remove), tags, protected, deactivate/reactivate, delete, schemas', async () => {
  const t = await controlPlane(':memory:', 1);
  try {
    const os = glanceCaller(t);
    const a = t.adminToken;
    const c = await os(
      a,
      'POST',
      '/v2/images',
      { name: 'p1', disk_format: 'raw', container_format: 'bare', tags: ['a'] },
      JSON_CT,
    );
    const id = c.body.id as string;
    const patch = (ops: unknown) => os(a, 'PATCH', `/v2/images/${id}`, ops, PATCH_CT);
    const p = await patch([
      { op: 'replace', path: '/name', value: 'p2' },
      { op: 'add', path: '/color', value: 'blue' },
      { op: 'add', path: '/min_ram', value: 512 },
      { op: 'replace', path: '/protected', value: true },
    ]);
    assert.equal(p.status, 200, JSON.stringify(p.body));
    assert.equal(p.body.name, 'p2');
    assert.equal(p.body.color, 'blue');
    assert.equal(p.body.min_ram, 512);
    assert.equal(p.body.protected, true);
    // Tempest's older media type and form (JSON-patch draft 10).
    const old = await os(a, 'PATCH', `/v2/images/${id}`, [{ replace: '/color', value: 'red' }], {
      'content-type': 'application/openstack-images-v2.0-json-patch',
    });
    assert.equal(old.body.color, 'red');
    assert.equal((await patch([{ op: 'remove', path: '/color' }])).body.color, undefined);
    assert.equal((await patch([{ op: 'remove', path: '/color' }])).status, 409);
    assert.equal((await patch([{ op: 'replace', path: '/status', value: 'active' }])).status, 403);
    assert.equal((await patch([{ op: 'add', path: '/os_glance_x', value: '1' }])).status, 403);
    // Tempest's test_update_image_reserved_property sends the draft form.
    assert.equal((await patch([{ add: '/os_glance_foo', value: 'bar' }])).status, 403);
    assert.equal((await patch([{ op: 'move', path: '/name', from: '/x' }])).status, 400);
    assert.equal((await patch([{ op: 'replace', path: '/disk_format', value: 'iso' }])).status, 400);

    assert.equal((await os(a, 'PUT', `/v2/images/${id}/tags/b`)).status, 204);
    assert.equal((await os(a, 'PUT', `/v2/images/${id}/tags/b`)).status, 204);
    assert.deepEqual((await os(a, 'GET', `/v2/images/${id}`)).body.tags, ['a', 'b']);
    assert.equal((await os(a, 'DELETE', `/v2/images/${id}/tags/a`)).status, 204);
    assert.equal((await os(a, 'DELETE', `/v2/images/${id}/tags/a`)).status, 404);

    // Deactivating needs data (queued: 409); an active one is deactivated, then reactivated.
    assert.equal((await os(a, 'POST', `/v2/images/${id}/actions/deactivate`)).status, 409);
    assert.equal((await os(a, 'PUT', `/v2/images/${id}/file`, imageBytes(), DATA_CT)).status, 204);
    assert.equal((await os(a, 'POST', `/v2/images/${id}/actions/deactivate`)).status, 204);
    assert.equal((await os(a, 'GET', `/v2/images/${id}`)).body.status, 'deactivated');
    assert.equal((await os(a, 'POST', `/v2/images/${id}/actions/reactivate`)).status, 204);
    assert.equal((await os(a, 'GET', `/v2/images/${id}`)).body.status, 'active');

    // Protected: 403 (through nubis's own API too, which shows it); unprotected: 204, then 404.
    assert.equal((await os(a, 'DELETE', `/v2/images/${id}`)).status, 403);
    assert.equal((await t.call(a, 'DELETE', `/v1/images/${id}`)).status, 403);
    const own = await t.call(a, 'GET', `/v1/images/${id}`);
    assert.equal(own.body.protected, true);
    assert.deepEqual(own.body.tags, ['b']);
    await patch([{ op: 'replace', path: '/protected', value: false }]);
    assert.equal((await os(a, 'DELETE', `/v2/images/${id}`)).status, 204);
    assert.equal((await os(a, 'GET', `/v2/images/${id}`)).status, 404);
    assert.equal((await os(a, 'DELETE', `/v2/images/${id}`)).status, 404);

    const s = await os(a, 'GET', '/v2/schemas/image');
    assert.equal(s.body.name, 'image');
    assert.ok(s.body.properties.os_hash_value);
    assert.equal((await os(a, 'GET', '/v2/schemas/images')).body.name, 'images');
  } finally {
    await t.close();
  }
});
