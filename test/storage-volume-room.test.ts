/**
 * A local volume goes to a host with room on its disk, and when none has room the answer says so in
 * volume words (the pool and the size), never the VM wording of placement, for members and operators.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controlPlane } from './helpers/control.ts';

test('a local volume needs a host with room: the next one goes elsewhere, then "no host in pool local has room for a 400 GiB volume"', async () => {
  const t = await controlPlane(':memory:', 0);
  try {
    const a = t.adminToken;
    const hosts: Record<string, string> = {};
    for (const name of ['h1', 'h2']) {
      const r = await t.call(a, 'POST', '/v1/hosts', { name, vcpus: 8, memoryMiB: 16384, diskGiB: 500 });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      hosts[name] = r.body.id;
    }
    await t.call(a, 'POST', '/v1/tenants', { name: 'acme' });
    await t.call(a, 'PATCH', '/v1/tenants/acme', { quotas: { volumes: 10, volumeGiB: 5000 } });
    const u = await t.call(a, 'POST', '/v1/users', { tenant: 'acme', name: 'ann', role: 'member' });
    const ann = (await t.call(a, 'POST', '/v1/tokens', { name: 'tk', userId: u.body.id })).body.token;

    const ids: Record<string, string> = {};
    const hostOf = async (name: string) => (await t.call(a, 'GET', `/v1/volumes/${ids[name]}`)).body.hostId;
    // 500 GiB per host: the first 400 GiB volume takes h1, the second no longer fits there (100 GiB left).
    for (const name of ['v1', 'v2']) {
      const r = await t.call(ann, 'POST', '/v1/volumes', { name, sizeGiB: 400 });
      assert.ok(r.status < 300, JSON.stringify(r.body));
      ids[name] = r.body.id;
    }
    assert.equal(await hostOf('v1'), hosts.h1);
    assert.equal(await hostOf('v2'), hosts.h2);
    // A small one still fits beside them.
    assert.ok((await t.call(ann, 'POST', '/v1/volumes', { name: 'v3', sizeGiB: 50 })).status < 300);

    for (const who of [ann, a]) {
      const r = await t.call(who, 'POST', '/v1/volumes', { name: 'big', sizeGiB: 400 });
      assert.equal(r.body.code, 'NO_HOST_FITS', JSON.stringify(r.body));
      assert.match(
        r.body.message,
        /^No host in pool "local" has room for a 400 GiB volume now \(the 2 host\(s\) up that see it have at most 100 GiB free\)/,
      );
      assert.doesNotMatch(r.body.message, /VM|flavor/);
      assert.doesNotMatch(JSON.stringify(r.body), /h1|h2/, 'no host is named');
    }
    // No host up: the same words, and why.
    for (const id of Object.values(hosts))
      assert.equal((await t.call(a, 'PATCH', `/v1/hosts/${id}`, { state: 'maintenance' })).status, 200);
    const none = await t.call(ann, 'POST', '/v1/volumes', { name: 'tiny', sizeGiB: 1 });
    assert.equal(none.body.code, 'NO_HOST_FITS', JSON.stringify(none.body));
    assert.match(
      none.body.message,
      /^No host in pool "local" has room for a 1 GiB volume now \(no host that is up sees it\)/,
    );
  } finally {
    await t.close();
  }
});
