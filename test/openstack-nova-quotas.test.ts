/** Nova's limits, quota sets, server groups and migrations (src/api/openstack/compute/), checked with Tempest's schemas. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { novaPlane } from './helpers/nova.ts';
import { TEMPEST_SKIP, tempestCheck } from './helpers/tempest-schema.ts';

let t: Awaited<ReturnType<typeof novaPlane>>;
let demo: string;
before(async () => {
  t = await novaPlane(3);
  demo = (await t.cp.authenticate(t.member))!.tenantId;
});
after(() => t.close());

type Answer = { status: number; body: unknown; headers: Record<string, string> };
const check = (pairs: [string, Answer][]) =>
  assert.deepEqual(
    tempestCheck(
      pairs.map(([schema, r]) => ({ schema, status: r.status, body: r.body, headers: r.headers })),
    ),
    pairs.map(() => null),
  );

test(
  'limits and quota sets show the tenant quotas and use; admins update and reset them',
  { skip: TEMPEST_SKIP },
  async () => {
    const p = (await t.cp.authenticate(t.member))!;
    await t.cp.createVm(p, { name: 'v1', flavor: 'm1.small', image: 'tiny' });
    const limits = await t.nova(t.member, 'GET', '/v2.1/limits');
    const mine = await t.nova(t.member, 'GET', `/v2.1/os-quota-sets/${demo}`);
    const detail = await t.nova(t.member, 'GET', `/v2.1/os-quota-sets/${demo}/detail`);
    const defaults = await t.nova(t.member, 'GET', `/v2.1/os-quota-sets/${demo}/defaults`);
    const put = await t.nova(t.adminToken, 'PUT', `/v2.1/os-quota-sets/${demo}`, {
      quota_set: { ram: '5120', instances: 3, cores: -1, metadata_items: 256, force: true },
    });
    check([
      ['compute.v2_1.limits.get_limit', limits],
      ['compute.v2_1.quotas.get_quota_set', mine],
      ['compute.v2_1.quotas.get_quota_set_details', detail],
      ['compute.v2_1.quotas.get_quota_set', defaults],
      ['compute.v2_1.quotas.update_quota_set', put],
    ]);
    const abs = limits.body.limits.absolute;
    const small = (await t.cp.listFlavors(p)).find((f) => f.name === 'm1.small')!;
    assert.deepEqual(
      [abs.totalInstancesUsed, abs.totalCoresUsed, abs.totalRAMUsed],
      [1, small.vcpus, small.memoryMiB],
    );
    assert.equal(detail.body.quota_set.instances.in_use, 1);
    assert.equal(mine.body.quota_set.id, demo);
    assert.deepEqual(
      [put.body.quota_set.ram, put.body.quota_set.instances, put.body.quota_set.cores],
      [5120, 3, -1],
    );
    const tenant = await t.cp.tenancyAdmin.getTenant(t.admin, demo);
    assert.deepEqual([tenant.quotas.memoryMiB, tenant.quotas.vms], [5120, 3]);
    assert.equal(
      (await t.nova(t.member, 'PUT', `/v2.1/os-quota-sets/${demo}`, { quota_set: { ram: 1 } })).status,
      403,
    );
    assert.equal(
      (await t.nova(t.adminToken, 'PUT', `/v2.1/os-quota-sets/${demo}`, { quota_set: { ram: 'x' } })).status,
      400,
    );
    assert.equal((await t.nova(t.member, 'GET', `/v2.1/os-quota-sets/${t.admin.tenantId}`)).status, 404);
    assert.equal((await t.nova(t.adminToken, 'DELETE', `/v2.1/os-quota-sets/${demo}`)).status, 202);
    const reset = await t.nova(t.member, 'GET', `/v2.1/os-quota-sets/${demo}`);
    assert.deepEqual(reset.body.quota_set, { ...defaults.body.quota_set, id: demo });
  },
);

test(
  'server groups: create (200), show, list with members, 2.13 owner fields, delete (204)',
  { skip: TEMPEST_SKIP },
  async () => {
    const made = await t.nova(t.member, 'POST', '/v2.1/os-server-groups', {
      server_group: { name: 'web', policies: ['anti-affinity'] },
    });
    const id = made.body.server_group.id as string;
    const p = (await t.cp.authenticate(t.member))!;
    const vm = await t.cp.createVm(p, {
      name: 'member-vm',
      flavor: 'm1.small',
      image: 'tiny',
      serverGroup: id,
    });
    const show = await t.nova(t.member, 'GET', `/v2.1/os-server-groups/${id}`);
    const list = await t.nova(t.member, 'GET', '/v2.1/os-server-groups');
    const made13 = await t.nova(
      t.member,
      'POST',
      '/v2.1/os-server-groups',
      { server_group: { name: 'db', policies: ['affinity'] } },
      13,
    );
    const show13 = await t.nova(
      t.member,
      'GET',
      `/v2.1/os-server-groups/${made13.body.server_group.id}`,
      undefined,
      13,
    );
    const list13 = await t.nova(t.member, 'GET', '/v2.1/os-server-groups', undefined, 13);
    check([
      ['compute.v2_1.server_groups.create_show_server_group', made],
      ['compute.v2_1.server_groups.create_show_server_group', show],
      ['compute.v2_1.server_groups.list_server_groups', list],
      ['compute.v2_13.server_groups.create_show_server_group', made13],
      ['compute.v2_13.server_groups.create_show_server_group', show13],
      ['compute.v2_13.server_groups.list_server_groups', list13],
    ]);
    assert.equal(made.status, 200);
    assert.deepEqual(show.body.server_group.members, [vm.vmId]);
    assert.deepEqual(show.body.server_group.policies, ['anti-affinity']);
    assert.equal(show13.body.server_group.project_id, demo);
    assert.equal(show13.body.server_group.user_id, t.memberId);
    // An admin sees another project's group but lists its own; bad policies are 400; a group with VMs cannot go (nubis's rule).
    assert.equal((await t.nova(t.adminToken, 'GET', `/v2.1/os-server-groups/${id}`)).status, 200);
    assert.equal((await t.nova(t.adminToken, 'GET', '/v2.1/os-server-groups')).body.server_groups.length, 0);
    for (const policies of [['spread'], [], ['affinity', 'anti-affinity'], 'affinity'])
      assert.equal(
        (await t.nova(t.member, 'POST', '/v2.1/os-server-groups', { server_group: { name: 'x', policies } }))
          .status,
        400,
      );
    assert.equal((await t.nova(t.member, 'DELETE', `/v2.1/os-server-groups/${id}`)).status, 409);
    const del = await t.nova(t.member, 'DELETE', `/v2.1/os-server-groups/${made13.body.server_group.id}`);
    assert.equal(del.status, 204);
    assert.equal(
      (await t.nova(t.member, 'GET', `/v2.1/os-server-groups/${made13.body.server_group.id}`)).status,
      404,
    );
  },
);

test(
  'migrations list the live migrations with their hosts (2.1 and 2.23); admin only',
  { skip: TEMPEST_SKIP },
  async () => {
    const vm = {
      id: (await t.cp.createVm(t.admin, { name: 'mover', flavor: 'm1.small', image: 'tiny' })).vmId,
    };
    await t.cp.migrateVm(t.admin, vm.id, {});
    const moved = await t.cp.getVm(t.admin, vm.id);
    const list = await t.nova(t.adminToken, 'GET', '/v2.1/os-migrations');
    const list23 = await t.nova(
      t.adminToken,
      'GET',
      `/v2.1/os-migrations?instance_uuid=${vm.id}`,
      undefined,
      23,
    );
    check([
      ['compute.v2_1.migrations.list_migrations', list],
      ['compute.v2_23.migrations.list_migrations', list23],
    ]);
    const m = list23.body.migrations[0];
    assert.equal(list23.body.migrations.length, 1);
    assert.equal(m.instance_uuid, vm.id);
    assert.equal(m.migration_type, 'live-migration');
    assert.notEqual(m.source_compute, m.dest_compute);
    assert.equal(m.dest_compute, moved.hostName);
    assert.equal((await t.nova(t.member, 'GET', '/v2.1/os-migrations')).status, 403);
  },
);
