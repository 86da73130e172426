import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { controlPlane, storeBackends } from './helpers/control.ts';

for (const backend of storeBackends())
  describe(`Idempotency-Key through the API on ${backend.name}`, () => {
    if (backend.skip) return void test(`every test on ${backend.name}`, { skip: backend.skip });
    let t: Awaited<ReturnType<typeof controlPlane>>;
    let drop: () => Promise<void>;
    const tok: Record<string, string> = {};
    before(async () => {
      const s = await backend.url();
      drop = s.drop;
      t = await controlPlane(s.url, 4);
      tok.admin = t.adminToken;
      await t.call(tok.admin, 'POST', '/v1/tenants', { name: 'acme' });
      const u = await t.call(tok.admin, 'POST', '/v1/users', { tenant: 'acme', name: 'ann', role: 'member' });
      tok.ann = (
        await t.call(tok.admin, 'POST', '/v1/tokens', { name: 'ann', userId: u.body.id })
      ).body.token;
    });
    after(async () => {
      await t.close();
      await drop();
    });
    const key = (k: string) => ({ 'idempotency-key': k });

    test('the same key with a different body is 422 naming the conflict, not the old operation', async () => {
      const a = await t.call(
        tok.ann,
        'POST',
        '/v1/vms',
        { name: 'a1', flavor: 'm1.tiny', image: 'tiny' },
        key('k-1'),
      );
      assert.equal(a.status, 202);
      const again = await t.call(
        tok.ann,
        'POST',
        '/v1/vms',
        { name: 'a1', flavor: 'm1.tiny', image: 'tiny' },
        key('k-1'),
      );
      assert.equal(again.status, 202);
      assert.deepEqual(again.body, a.body, 'a retry gets the same answer');
      const other = await t.call(
        tok.ann,
        'POST',
        '/v1/vms',
        { name: 'a2', flavor: 'm1.tiny', image: 'tiny' },
        key('k-1'),
      );
      assert.equal(other.status, 422);
      assert.equal(other.body.code, 'IDEMPOTENCY_CONFLICT');
      assert.match(
        other.body.message,
        /Idempotency-Key "k-1" was used for a different POST \/v1\/vms request/,
      );
      const names = (await t.call(tok.ann, 'GET', '/v1/vms')).body.map((v: { name: string }) => v.name);
      assert.deepEqual(names, ['a1'], 'one VM, made once');
    });

    test("one tenant's key never returns another tenant's operation", async () => {
      const vm = (await t.call(tok.ann, 'POST', '/v1/vms', { name: 'b1', flavor: 'm1.tiny', image: 'tiny' }))
        .body.vmId;
      // An admin migrates acme's VM with key K: the operation belongs to acme (the VM's tenant).
      const mig = await t.call(tok.admin, 'POST', `/v1/vms/${vm}/migrate`, {}, key('shared'));
      assert.equal(mig.status, 202);
      // acme then uses the same key for its own create: a new VM, not the admin's migration.
      const mine = await t.call(
        tok.ann,
        'POST',
        '/v1/vms',
        { name: 'b2', flavor: 'm1.tiny', image: 'tiny' },
        key('shared'),
      );
      assert.equal(mine.status, 202, JSON.stringify(mine.body));
      assert.notEqual(mine.body.id, mig.body.id);
      assert.equal(mine.body.kind, 'create');
      // The same key on another route of the same tenant is another key too.
      const act = await t.call(tok.ann, 'POST', `/v1/vms/${vm}/actions`, { action: 'reboot' }, key('shared'));
      assert.equal(act.status, 202, JSON.stringify(act.body));
      assert.notEqual(act.body.id, mine.body.id);
    });
  });
