import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { controlPlane, storeBackends } from './helpers/control.ts';

/**
 * Concurrent creates claim the host and the tenant's usage last in their transaction and decide again
 * when a host claim loses a race: whatever the interleaving, no host is overcommitted, the counters
 * equal the VMs recorded, and the refusals are the single-request ones.
 */
for (const backend of storeBackends())
  describe(`concurrent VM creates on ${backend.name}`, () => {
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

    /** A member of a new tenant with these quotas, and its token. */
    const member = async (tenant: string, quotas: Record<string, number>) => {
      await t.call(t.adminToken, 'POST', '/v1/tenants', { name: tenant, quotas });
      const u = await t.call(t.adminToken, 'POST', '/v1/users', {
        tenant,
        name: `${tenant}-u`,
        role: 'member',
      });
      return (await t.call(t.adminToken, 'POST', '/v1/tokens', { name: tenant, userId: u.body.id })).body
        .token as string;
    };
    const createMany = (token: string, prefix: string, n: number, flavor: string) =>
      Promise.all(
        Array.from({ length: n }, (_, i) =>
          t.call(token, 'POST', '/v1/vms', { name: `${prefix}-${i}`, flavor, image: 'tiny' }),
        ),
      );

    /** Every host's counters equal the sum of the flavors of the VMs recorded on it. */
    const countersMatch = async () => {
      const hosts = await t.db.selectFrom('hosts').selectAll().execute();
      const vms = await t.db
        .selectFrom('vms')
        .innerJoin('flavors', 'flavors.id', 'vms.flavor_id')
        .select(['vms.host_id', 'flavors.vcpus', 'flavors.memory_mib'])
        .where('vms.deleted_at', 'is', null)
        .execute();
      for (const h of hosts) {
        const on = vms.filter((v) => v.host_id === h.id);
        assert.equal(Number(h.vm_count), on.length, `${h.name}: vm_count`);
        assert.equal(
          Number(h.used_vcpus),
          on.reduce((s, v) => s + v.vcpus, 0),
          `${h.name}: used_vcpus`,
        );
        assert.ok(
          Number(h.used_vcpus) <= h.vcpus * h.cpu_ratio - h.reserved_vcpus,
          `${h.name} overcommitted`,
        );
        assert.ok(
          Number(h.used_memory_mib) <= h.memory_mib * h.memory_ratio - h.reserved_memory_mib,
          `${h.name} memory overcommitted`,
        );
      }
    };

    test('a quota smaller than the room: exactly the quota is created, the rest is QUOTA_EXCEEDED', async () => {
      const token = await member('q', { vms: 5, vcpus: 1000, memoryMiB: 1e7, diskGiB: 1e6 });
      const rs = await createMany(token, 'q', 12, 'm1.tiny');
      assert.equal(rs.filter((r) => r.status === 202).length, 5);
      for (const r of rs.filter((r) => r.status !== 202)) assert.equal(r.body.code, 'QUOTA_EXCEEDED');
      const tenant = await t.db
        .selectFrom('tenants')
        .selectAll()
        .where('name', '=', 'q')
        .executeTakeFirstOrThrow();
      assert.equal(Number(tenant.used_vms), 5);
      await countersMatch();
    });

    test('more creates than room: the hosts fill up, none is overcommitted, the rest is NO_HOST_FITS', async () => {
      const token = await member('fill', { vms: 1e6, vcpus: 1e6, memoryMiB: 1e9, diskGiB: 1e9 });
      const flavors = (await t.call(t.adminToken, 'GET', '/v1/flavors?limit=1000')).body as {
        name: string;
        vcpus: number;
      }[];
      const big = [...(Array.isArray(flavors) ? flavors : (flavors as { items: typeof flavors }).items)].sort(
        (a, b) => b.vcpus - a.vcpus,
      )[0]!;
      const rs = await createMany(token, 'f', 40, big.name);
      const ok = rs.filter((r) => r.status === 202).length;
      assert.ok(ok > 0, 'some creates fit');
      assert.ok(ok < 40, 'the hosts fill up before 40 of the largest flavor');
      for (const r of rs.filter((r) => r.status !== 202)) assert.equal(r.body.code, 'NO_HOST_FITS');
      const tenant = await t.db
        .selectFrom('tenants')
        .selectAll()
        .where('name', '=', 'fill')
        .executeTakeFirstOrThrow();
      assert.equal(Number(tenant.used_vms), ok, 'the quota counter equals the VMs created');
      assert.equal(Number(tenant.used_vcpus), ok * big.vcpus);
      await countersMatch();
    });

    test('creates and deletes of one tenant at once: every one succeeds, the counters stay exact', async () => {
      const token = await member('mix', { vms: 1e6, vcpus: 1e6, memoryMiB: 1e9, diskGiB: 1e9 });
      const first = await createMany(token, 'm', 8, 'm1.tiny');
      assert.deepEqual(
        first.map((r) => r.status),
        first.map(() => 202),
      );
      const [deletes, creates] = await Promise.all([
        Promise.all(first.map((r) => t.call(token, 'DELETE', `/v1/vms/${r.body.vmId}`))),
        createMany(token, 'n', 8, 'm1.tiny'),
      ]);
      for (const r of [...deletes, ...creates]) assert.equal(r.status, 202, JSON.stringify(r.body));
      const tenant = await t.db
        .selectFrom('tenants')
        .selectAll()
        .where('name', '=', 'mix')
        .executeTakeFirstOrThrow();
      assert.equal(Number(tenant.used_vms), 8);
      await countersMatch();
    });
  });
