import assert from 'node:assert/strict';
import fc from 'fast-check';
import { after, before, describe, test } from 'node:test';
import { ControlPlane } from '../src/control/control-plane.ts';
import { openStore } from '../src/control/store/open-store.ts';
import { createHostDrivers } from '../src/drivers/host-drivers.ts';
import { SimHypervisorDriver } from '../src/drivers/sim/sim-driver.ts';
import { SimClock } from '../src/runtime/clock.ts';
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

    test('a host claim counts the local volumes on the host in its one statement', async () => {
      const a = t.adminToken;
      const h = await t.call(a, 'POST', '/v1/hosts', {
        name: 'disk1',
        vcpus: 8,
        memoryMiB: 16384,
        diskGiB: 100,
      });
      assert.equal(h.status, 201, JSON.stringify(h.body));
      // Only this host has room for the volume: the others are taken out of service first.
      const others = await t.db.selectFrom('hosts').select('id').where('id', '!=', h.body.id).execute();
      await t.db
        .updateTable('hosts')
        .set({ state: 'maintenance' })
        .where(
          'id',
          'in',
          others.map((o) => o.id),
        )
        .execute();
      t.cp.scheduler.forgetHosts();
      const v = await t.call(a, 'POST', '/v1/volumes', { name: 'big', sizeGiB: 90 });
      assert.equal(v.status, 201, JSON.stringify(v.body));
      assert.equal((await t.call(a, 'GET', `/v1/volumes/${v.body.id}`)).body.hostId, h.body.id);
      const f = (disk: number) => ({ vcpus: 1, memory_mib: 512, disk_gib: disk });
      await t.db.transaction().execute(async (trx) => {
        assert.equal(await t.cp.claims.claimHost(trx, h.body.id, f(20)), false, '20 GiB beside 90 of 100');
        assert.equal(
          await t.cp.claims.claimHost(trx, h.body.id, f(5), 1, { volumesGiB: 6 }),
          false,
          'a volume brought along counts',
        );
        assert.equal(await t.cp.claims.claimHost(trx, h.body.id, f(10)), true, '10 GiB fits');
        assert.equal(await t.cp.claims.claimHost(trx, h.body.id, f(0)), true, 'no disk added: not refused');
        assert.equal(await t.cp.claims.claimHost(trx, h.body.id, f(1)), false, 'full');
      });
      await t.db
        .updateTable('volumes')
        .set({ deleted_at: '2027-01-01T00:00:00Z' })
        .where('id', '=', v.body.id)
        .execute();
      await t.db.transaction().execute(async (trx) => {
        assert.equal(
          await t.cp.claims.claimHost(trx, h.body.id, f(80)),
          true,
          'a deleted volume counts no more',
        );
      });
      await t.db
        .updateTable('hosts')
        .set({ state: 'up' })
        .where(
          'id',
          'in',
          others.map((o) => o.id),
        )
        .execute();
      t.cp.scheduler.forgetHosts();
    });

    test('metering in two statements records the intervals of the read-then-write way', async () => {
      const states = [
        'running',
        'stopped',
        'suspended',
        'migrating',
        'resizing',
        'error',
        'deleted',
      ] as const;
      const id = await vm('metered');
      const rows = () =>
        t.db
          .selectFrom('usage')
          .select(['tenant_id', 'host_id', 'flavor_id', 'class', 'start_at', 'end_at'])
          .where('vm_id', '=', id)
          .orderBy('id')
          .execute();
      const row = await t.db.selectFrom('vms').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      const want = await rows();
      assert.equal(want.length, 1, 'a create opens one interval');
      await fc.assert(
        fc.asyncProperty(fc.array(fc.constantFrom(...states), { maxLength: 12 }), async (seq) => {
          for (const state of seq) {
            t.clock.advanceBy(60);
            const at = new Date(t.clock.now() * 1000).toISOString();
            // The reference: read the open interval, close it unless its class is the new one, open one.
            const cls =
              state === 'stopped' ? 'stopped' : state === 'error' || state === 'deleted' ? null : 'running';
            const open = want.find((r) => r.end_at === null);
            if (!(open && open.class === cls)) {
              if (open) open.end_at = at;
              if (cls)
                want.push({
                  tenant_id: row.tenant_id,
                  host_id: row.host_id,
                  flavor_id: row.flavor_id,
                  class: cls,
                  start_at: at,
                  end_at: null,
                });
            }
            await t.db.transaction().execute((trx) => t.cp.metering.meter(trx, id, state));
          }
          assert.deepEqual(await rows(), want);
        }),
        { numRuns: 15 },
      );
    });
  });

test('a create promotes booted hosts; it reads them only when one may be booting', async () => {
  const db = await openStore(':memory:');
  const clock = new SimClock(1_800_000_000);
  const cp = new ControlPlane({
    db,
    clock,
    hostDrivers: createHostDrivers({ sim: new SimHypervisorDriver(clock) }),
    simBootS: 300,
  });
  try {
    const p = (await cp.authenticate((await cp.bootstrap())!))!;
    await cp.createFlavor(p, { name: 'big', vcpus: 4, memoryMiB: 4096, diskGiB: 10 });
    await cp.createImage(p, { name: 'tiny', format: 'kernel+initramfs', sizeMiB: 16 });
    const host = (name: string) => cp.createHost(p, { name, vcpus: 8, memoryMiB: 32768, diskGiB: 500 });
    const h1 = await host('h1');
    const h2 = await host('h2');
    await cp.powerHost(p, h2.id, 'off');
    await cp.createVm(p, { name: 'a', flavor: 'big', image: 'tiny' });
    // Switched on in this process: the first create after its boot time promotes it.
    await cp.powerHost(p, h2.id, 'on');
    assert.equal((await cp.getHost(p, 'h2')).state, 'booting');
    await cp.createVm(p, { name: 'b', flavor: 'big', image: 'tiny' });
    assert.equal((await cp.getHost(p, 'h2')).state, 'booting', 'not before its boot time');
    clock.advanceBy(300);
    await cp.createVm(p, { name: 'c', flavor: 'big', image: 'tiny' });
    assert.equal((await cp.getHost(p, 'h2')).state, 'up');
    // Switched on by another process (written directly): seen by a create a second later at most.
    const past = new Date((clock.now() - 1) * 1000).toISOString();
    await db
      .updateTable('hosts')
      .set({ state: 'booting', boot_until: past })
      .where('id', '=', h1.id)
      .execute();
    cp.scheduler.forgetHosts();
    clock.advanceBy(1);
    await cp.createVm(p, { name: 'd', flavor: 'big', image: 'tiny' });
    assert.equal((await cp.getHost(p, 'h1')).state, 'up');
    // The boot loop's check reads every time.
    await db
      .updateTable('hosts')
      .set({ state: 'booting', boot_until: past })
      .where('id', '=', h1.id)
      .execute();
    await cp.promoteBooted();
    assert.equal((await cp.getHost(p, 'h1')).state, 'up');
  } finally {
    await db.destroy();
  }
});
