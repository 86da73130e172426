import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { controlPlane, storeBackends } from './helpers/control.ts';

/**
 * One operation at a time per VM (the store's partial unique index, migration 0950): while an action
 * on a VM runs, a second one (delete, migrate, another action, a volume attach) is refused with 409
 * and changes nothing; once the first ends, the second runs. Before, a delete racing a stop could
 * leave a VM recorded deleted and running.
 */
for (const backend of storeBackends())
  describe(`one running operation per VM on ${backend.name}`, () => {
    if (backend.skip) return void test(`every test on ${backend.name}`, { skip: backend.skip });
    let t: Awaited<ReturnType<typeof controlPlane>>;
    let drop: () => Promise<void>;
    before(async () => {
      const s = await backend.url();
      drop = s.drop;
      t = await controlPlane(s.url, 2);
    });
    after(async () => {
      await t.close();
      await drop();
    });

    /** Make the simulated hypervisor's `method` wait until `release` is called. */
    const hold = (method: 'stop' | 'start') => {
      const orig = t.sim[method].bind(t.sim);
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let entered!: () => void;
      const inside = new Promise<void>((r) => (entered = r));
      t.sim[method] = async (id: string) => {
        entered();
        await gate;
        return orig(id);
      };
      return {
        inside,
        release: () => {
          t.sim[method] = orig;
          release();
        },
      };
    };

    const running = async (name: string) => {
      const r = await t.call(t.adminToken, 'POST', '/v1/vms', { name, flavor: 'm1.tiny', image: 'tiny' });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      const id = r.body.vmId as string;
      for (let i = 0; i < 200; i++) {
        const vm = await t.db
          .selectFrom('vms')
          .select('state')
          .where('id', '=', id)
          .executeTakeFirstOrThrow();
        if (vm.state === 'running') return id;
        await new Promise((res) => setTimeout(res, 10));
      }
      assert.fail(`VM ${name} did not reach running`);
    };

    test('a second request on a VM with an operation running is 409 and changes nothing; a delete waits for it, then runs', async () => {
      const id = await running('busy-1');
      const stops = hold('stop');
      const stopping = t.call(t.adminToken, 'POST', `/v1/vms/${id}/actions`, { action: 'stop' });
      await stops.inside;
      const before = await t.db.selectFrom('vms').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      for (const [url, body] of [
        [`/v1/vms/${id}/actions`, { action: 'snapshot', snapshotName: 's1' }],
        [`/v1/vms/${id}/actions`, { action: 'reboot' }],
        [`/v1/vms/${id}/migrate`, {}],
      ] as const) {
        const r = await t.call(t.adminToken, 'POST', url, body);
        assert.equal(r.status, 409, `POST ${url}: ${JSON.stringify(r.body)}`);
        assert.match(r.body.message ?? JSON.stringify(r.body), /busy/);
      }
      let deleted = false;
      const deleting = t.call(t.adminToken, 'DELETE', `/v1/vms/${id}`).then((r) => ((deleted = true), r));
      const during = await t.db.selectFrom('vms').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      assert.deepEqual(
        { state: during.state, host: during.host_id, deleted: during.deleted_at },
        { state: before.state, host: before.host_id, deleted: null },
      );
      const ops = await t.db
        .selectFrom('operations')
        .select(['kind', 'status'])
        .where('vm_id', '=', id)
        .where('status', '=', 'running')
        .execute();
      assert.deepEqual(ops, [{ kind: 'stop', status: 'running' }]);
      assert.equal(deleted, false, 'the delete waits for the stop');
      stops.release();
      assert.ok((await stopping).status < 300);
      const del = await deleting;
      assert.ok(del.status < 300, JSON.stringify(del.body));
      const gone = await t.db.selectFrom('vms').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      assert.equal(gone.state, 'deleted');
      assert.notEqual(gone.deleted_at, null);
    });

    test('deleting a VM still being built waits for the build, then deletes it (counters back to where they were)', async () => {
      const host = async () =>
        (await t.db.selectFrom('hosts').select(['id', 'vm_count', 'used_vcpus']).orderBy('id').execute()).map(
          (h) => [h.id, Number(h.vm_count), Number(h.used_vcpus)],
        );
      const countersBefore = await host();
      const starts = hold('start');
      const creating = t.call(t.adminToken, 'POST', '/v1/vms', {
        name: 'b1',
        flavor: 'm1.tiny',
        image: 'tiny',
      });
      await starts.inside;
      const vm = await t.db.selectFrom('vms').selectAll().where('name', '=', 'b1').executeTakeFirstOrThrow();
      assert.equal(vm.state, 'building');
      const deleting = t.call(t.adminToken, 'DELETE', `/v1/vms/${vm.id}`);
      starts.release();
      assert.equal((await creating).status, 202);
      const del = await deleting;
      assert.ok(del.status < 300, JSON.stringify(del.body));
      const gone = await t.db.selectFrom('vms').selectAll().where('id', '=', vm.id).executeTakeFirstOrThrow();
      assert.deepEqual([gone.state, gone.deleted_at !== null], ['deleted', true]);
      assert.deepEqual(await host(), countersBefore);
    });

    test('many concurrent actions on one VM: never a deleted VM in another state, never two operations at once', async () => {
      for (let round = 0; round < 4; round++) {
        const id = await running(`race-${round}`);
        const reqs = [
          t.call(t.adminToken, 'DELETE', `/v1/vms/${id}`),
          t.call(t.adminToken, 'POST', `/v1/vms/${id}/actions`, { action: 'snapshot', snapshotName: 's' }),
          t.call(t.adminToken, 'POST', `/v1/vms/${id}/actions`, { action: 'stop' }),
          t.call(t.adminToken, 'POST', `/v1/vms/${id}/migrate`, {}),
          t.call(t.adminToken, 'POST', `/v1/vms/${id}/actions`, { action: 'reboot' }),
        ];
        if (round % 2) reqs.reverse();
        const answers = await Promise.all(reqs);
        for (const a of answers)
          assert.ok(a.status < 300 || [404, 409].includes(a.status), JSON.stringify(a.body));
        const vm = await t.db.selectFrom('vms').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
        if (vm.deleted_at !== null) assert.equal(vm.state, 'deleted');
        else assert.notEqual(vm.state, 'deleted');
        const left = await t.db
          .selectFrom('operations')
          .select('id')
          .where('vm_id', '=', id)
          .where('status', '=', 'running')
          .execute();
        assert.deepEqual(left, []);
      }
    });
  });
