import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { controlPlane, storeBackends } from './helpers/control.ts';

for (const backend of storeBackends())
  describe(`events are filed under the owning tenant on ${backend.name}`, () => {
    if (backend.skip) return void test(`every test on ${backend.name}`, { skip: backend.skip });
    let t: Awaited<ReturnType<typeof controlPlane>>;
    let drop: () => Promise<void>;
    let ann = '';
    before(async () => {
      const s = await backend.url();
      drop = s.drop;
      t = await controlPlane(s.url, 4);
      await t.call(t.adminToken, 'POST', '/v1/tenants', { name: 'acme' });
      const u = await t.call(t.adminToken, 'POST', '/v1/users', {
        tenant: 'acme',
        name: 'ann',
        role: 'member',
      });
      ann = (await t.call(t.adminToken, 'POST', '/v1/tokens', { name: 'ann', userId: u.body.id })).body.token;
    });
    after(async () => {
      await t.close();
      await drop();
    });

    test("an admin's action on a tenant's VM is in that tenant's audit trail, not the admin's", async () => {
      const vm = (await t.call(ann, 'POST', '/v1/vms', { name: 'w1', flavor: 'm1.tiny', image: 'tiny' })).body
        .vmId;
      assert.equal(
        (await t.call(t.adminToken, 'POST', `/v1/vms/${vm}/actions`, { action: 'stop' })).status,
        202,
      );
      const mine = (await t.call(ann, 'GET', `/v1/events?vm=${vm}`)).body as {
        kind: string;
        actor: string;
      }[];
      assert.ok(
        mine.some((e) => e.kind === 'vm.stopped' && e.actor === 'admin'),
        `acme sees the admin's stop: ${JSON.stringify(mine.map((e) => e.kind))}`,
      );
      const all = (await t.call(t.adminToken, 'GET', `/v1/events?vm=${vm}`)).body as {
        kind: string;
        tenantId?: string;
        tenant_id?: string;
      }[];
      const acme = (await t.call(t.adminToken, 'GET', '/v1/tenants')).body.find(
        (x: { name: string }) => x.name === 'acme',
      ).id;
      for (const e of all) assert.equal(e.tenantId ?? e.tenant_id, acme, `${e.kind} is filed under acme`);
    });
  });
