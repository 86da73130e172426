import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { controlPlane, storeBackends } from './helpers/control.ts';

/**
 * A create skips reads whose answer it already knows (a VM being created has no stored constraint,
 * port or volume naming it): the answers are those of the full reads.
 */
for (const backend of storeBackends())
  describe(`a create's reads on ${backend.name}`, () => {
    if (backend.skip) return void test(`every test on ${backend.name}`, { skip: backend.skip });
    let t: Awaited<ReturnType<typeof controlPlane>>;
    let drop: () => Promise<void>;
    before(async () => {
      const s = await backend.url();
      drop = s.drop;
      t = await controlPlane(s.url, 3);
    });
    after(async () => {
      await t.close();
      await drop();
    });

    const vm = async (name: string, body: Record<string, unknown> = {}) => {
      const r = await t.call(t.adminToken, 'POST', '/v1/vms', {
        name,
        flavor: 'm1.small',
        image: 'tiny',
        ...body,
      });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      return r.body.vmId as string;
    };

    test('the constraints of a VM being created are the same without the reads of its own rows', async () => {
      assert.equal(
        (await t.call(t.adminToken, 'POST', '/v1/server-groups', { name: 'web', policy: 'anti-affinity' }))
          .status,
        201,
      );
      await vm('w1', { serverGroup: 'web' });
      await vm('a1');
      await vm('a2');
      const c = await t.call(t.adminToken, 'POST', '/v1/constraints', {
        name: 'apart',
        type: 'anti-affinity',
        vms: ['a1', 'a2'],
      });
      assert.equal(c.status, 201, JSON.stringify(c.body));
      const group = await t.db.selectFrom('server_groups').select('id').executeTakeFirstOrThrow();
      const extra = [
        { id: 'x', name: 'x', type: 'anti-affinity' as const, hard: true, vms: ['new-vm', c.body.vms[0].id] },
      ];
      for (const ref of [
        { id: 'new-vm', name: 'n' },
        { id: 'new-vm', name: 'n', serverGroupId: group.id, zone: 'z1' },
      ])
        assert.deepEqual(
          await t.cp.constraintReader.forVm(t.db, { ...ref, fresh: true }, extra),
          await t.cp.constraintReader.forVm(t.db, ref, extra),
        );
    });
  });
