/**
 * GET /v1/volumes?vm=ID: the volumes attached to one VM, for its tenant (another tenant's VM gives
 * none, as the ports filter does; admins see any), with the id validated.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NubisClient } from '../src/client/index.ts';
import { controlPlane } from './helpers/control.ts';

test('volumes by VM: only those attached to it; another tenant sees none; a malformed id is 400', async () => {
  const t = await controlPlane(':memory:', 2);
  try {
    const a = t.adminToken;
    const tok: Record<string, string> = {};
    for (const [tenant, user] of [
      ['acme', 'ann'],
      ['globex', 'bob'],
    ] as const) {
      await t.call(a, 'POST', '/v1/tenants', { name: tenant });
      await t.call(a, 'PATCH', `/v1/tenants/${tenant}`, { quotas: { volumes: 10, volumeGiB: 100 } });
      const u = await t.call(a, 'POST', '/v1/users', { tenant, name: user, role: 'member' });
      tok[user] = (await t.call(a, 'POST', '/v1/tokens', { name: 'tk', userId: u.body.id })).body.token;
    }
    const ok = async (who: string, method: string, url: string, body?: unknown) => {
      const r = await t.call(tok[who], method, url, body);
      assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    };
    // A shared pool: any volume attaches to any VM.
    assert.equal((await t.call(a, 'POST', '/v1/storage-pools', { name: 'nas', kind: 'shared' })).status, 201);
    for (const n of ['d1', 'd2', 'd3'])
      await ok('ann', 'POST', '/v1/volumes', { name: n, sizeGiB: 1, pool: 'nas' });
    const db = (
      await ok('ann', 'POST', '/v1/vms', { name: 'db', flavor: 'm1.small', image: 'tiny', volumes: ['d1'] })
    ).vmId as string;
    const web = (await ok('ann', 'POST', '/v1/vms', { name: 'web', flavor: 'm1.small', image: 'tiny' }))
      .vmId as string;
    await ok('ann', 'POST', '/v1/volumes/d2/attach', { vm: db });
    const names = (list: { name: string }[]) => list.map((v) => v.name);

    assert.deepEqual(names(await ok('ann', 'GET', `/v1/volumes?vm=${db}`)), ['d1', 'd2']);
    assert.deepEqual(names(await ok('ann', 'GET', `/v1/volumes?vm=${web}`)), []);
    assert.deepEqual(names(await ok('ann', 'GET', '/v1/volumes')), ['d1', 'd2', 'd3']);
    // Another tenant's VM: nothing, as for a VM that does not exist; an admin sees them.
    assert.deepEqual(await ok('bob', 'GET', `/v1/volumes?vm=${db}`), []);
    assert.deepEqual(names((await t.call(a, 'GET', `/v1/volumes?vm=${db}`)).body), ['d1', 'd2']);
    // The id is validated; unknown parameters are refused.
    for (const q of ['vm=', "vm=x'%20or%201=1", `vm=${'a'.repeat(65)}`, 'vmId=x']) {
      const r = await t.call(tok.ann, 'GET', `/v1/volumes?${q}`);
      assert.equal(r.status, 400, `${q}: ${JSON.stringify(r.body)}`);
    }

    // The typed client sends the filter.
    const client = new NubisClient({
      baseUrl: 'http://nubis.test',
      token: tok.ann,
      fetch: async (input, init) => {
        const u = new URL(String(input));
        const r = await t.app.inject({
          method: (init?.method ?? 'GET') as 'GET',
          url: u.pathname + u.search,
          headers: { authorization: new Headers(init?.headers).get('authorization') ?? '' },
        });
        return new Response(r.body, {
          status: r.statusCode,
          headers: { 'content-type': 'application/json' },
        });
      },
    });
    assert.deepEqual(names(await client.volumes.list({ vm: db })), ['d1', 'd2']);
  } finally {
    await t.close();
  }
});
