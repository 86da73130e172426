/**
 * An uploaded image's visibility changes after the upload (PATCH /v1/images/:id {visibility}):
 * admins make it public or private; its tenant's members make it private; another tenant's private
 * image is 404, one it sees but does not own is 403; a catalog image cannot become private.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controlPlane } from './helpers/control.ts';

/** A tiny raw disk (a boot sector signature: qemu-img reads it as raw). */
const disk = () => {
  const d = Buffer.alloc(1024);
  d[510] = 0x55;
  d[511] = 0xaa;
  return d;
};

test('image visibility after upload: admins publish, owners make private, other tenants cannot see or change it', async () => {
  const t = await controlPlane(':memory:', 1);
  try {
    const a = t.adminToken;
    const tok: Record<string, string> = { admin: a };
    for (const [tenant, user, role] of [
      ['acme', 'ann', 'member'],
      ['acme', 'rita', 'reader'],
      ['globex', 'bob', 'member'],
    ] as const) {
      await t.call(a, 'POST', '/v1/tenants', { name: tenant });
      const u = await t.call(a, 'POST', '/v1/users', { tenant, name: user, role });
      tok[user] = (await t.call(a, 'POST', '/v1/tokens', { name: 'tk', userId: u.body.id })).body.token;
    }
    const up = await t.app.inject({
      method: 'POST',
      url: '/v1/images/acme-img/data',
      headers: { authorization: `Bearer ${tok.ann}`, 'content-type': 'application/octet-stream' },
      payload: disk(),
    });
    assert.equal(up.statusCode, 201, up.body);
    const id = JSON.parse(up.body).id as string;
    const patch = (who: string, visibility: string, ref = id) =>
      t.call(tok[who], 'PATCH', `/v1/images/${ref}`, { visibility });
    const seen = async (who: string) => (await t.call(tok[who], 'GET', `/v1/images/${id}`)).status;

    assert.equal(await seen('bob'), 404);
    // Members may not publish; another tenant's private image is not there; readers do not write.
    const pub = await patch('ann', 'public');
    assert.equal(pub.status, 403, JSON.stringify(pub.body));
    assert.match(pub.body.message, /Only admins make images public/);
    assert.equal((await patch('bob', 'private')).status, 404);
    assert.equal((await patch('bob', 'public')).status, 404);
    assert.equal((await patch('rita', 'private')).status, 403);
    assert.equal((await patch('ann', 'hidden')).status, 400);
    // Deleting it is no different: by id or by name, another tenant's private image is not there.
    assert.equal((await t.call(tok.bob, 'DELETE', `/v1/images/${id}`)).status, 404);
    assert.equal((await t.call(tok.bob, 'DELETE', '/v1/images/acme-img')).status, 404);
    assert.equal(await seen('ann'), 200);

    const made = await patch('admin', 'public');
    assert.equal(made.status, 200, JSON.stringify(made.body));
    assert.equal(made.body.visibility, 'public');
    assert.equal(await seen('bob'), 200);
    // bob sees it now but does not own it.
    const notHis = await patch('bob', 'private');
    assert.equal(notHis.status, 403, JSON.stringify(notHis.body));
    assert.match(notHis.body.message, /not your tenant's/);

    const priv = await patch('ann', 'private');
    assert.equal(priv.status, 200, JSON.stringify(priv.body));
    assert.equal(priv.body.visibility, 'private');
    assert.equal(await seen('bob'), 404);
    assert.equal(await seen('ann'), 200);
    const events = (await t.call(a, 'GET', '/v1/events?limit=1000')).body as { kind: string; detail: any }[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.deepEqual(
      events.filter((e) => e.kind === 'image.updated' && e.detail.id === id).map((e) => e.detail.visibility),
      ['private', 'public'],
      'newest first',
    );

    // A catalog image has no owner: it cannot become private.
    const cat = await patch('admin', 'private', 'tiny');
    assert.equal(cat.status, 400, JSON.stringify(cat.body));
    assert.match(cat.body.message, /catalog image/);
  } finally {
    await t.close();
  }
});
