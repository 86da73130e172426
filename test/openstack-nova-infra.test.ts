/** Nova's hypervisors, compute services and availability zones (src/api/openstack/compute/), checked with Tempest's schemas. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { novaPlane } from './helpers/nova.ts';
import { TEMPEST_SKIP, tempestCheck } from './helpers/tempest-schema.ts';

let t: Awaited<ReturnType<typeof novaPlane>>;
before(async () => {
  t = await novaPlane(3);
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
  'hypervisors: one per host, list, detail, show, statistics, uptime, search and servers; admin only',
  { skip: TEMPEST_SKIP },
  async () => {
    const list = await t.nova(t.adminToken, 'GET', '/v2.1/os-hypervisors');
    const detail = await t.nova(t.adminToken, 'GET', '/v2.1/os-hypervisors/detail');
    const detail28 = await t.nova(t.adminToken, 'GET', '/v2.1/os-hypervisors/detail', undefined, 28);
    const first = list.body.hypervisors[0];
    const show = await t.nova(t.adminToken, 'GET', `/v2.1/os-hypervisors/${first.id}`);
    const show28 = await t.nova(t.adminToken, 'GET', `/v2.1/os-hypervisors/${first.id}`, undefined, 28);
    const stats = await t.nova(t.adminToken, 'GET', '/v2.1/os-hypervisors/statistics');
    const uptime = await t.nova(t.adminToken, 'GET', `/v2.1/os-hypervisors/${first.id}/uptime`);
    const search = await t.nova(
      t.adminToken,
      'GET',
      `/v2.1/os-hypervisors/${first.hypervisor_hostname}/search`,
    );
    const servers = await t.nova(
      t.adminToken,
      'GET',
      `/v2.1/os-hypervisors/${first.hypervisor_hostname}/servers`,
    );
    check([
      ['compute.v2_1.hypervisors.list_search_hypervisors', list],
      ['compute.v2_1.hypervisors.list_hypervisors_detail', detail],
      ['compute.v2_28.hypervisors.list_hypervisors_detail', detail28],
      ['compute.v2_1.hypervisors.get_hypervisor', show],
      ['compute.v2_28.hypervisors.get_hypervisor', show28],
      ['compute.v2_1.hypervisors.get_hypervisor_statistics', stats],
      ['compute.v2_1.hypervisors.get_hypervisor_uptime', uptime],
      ['compute.v2_1.hypervisors.list_search_hypervisors', search],
      ['compute.v2_1.hypervisors.get_hypervisors_servers', servers],
    ]);
    const hosts = await t.cp.listHosts(t.admin);
    assert.deepEqual(
      list.body.hypervisors.map((h: { hypervisor_hostname: string }) => h.hypervisor_hostname).sort(),
      hosts.map((h) => h.name).sort(),
    );
    assert.equal(typeof detail.body.hypervisors[0].cpu_info, 'string');
    assert.equal(typeof detail28.body.hypervisors[0].cpu_info, 'object');
    assert.equal(stats.body.hypervisor_statistics.count, hosts.length);
    assert.equal(
      stats.body.hypervisor_statistics.vcpus,
      hosts.reduce((a, h) => a + h.capacity.vcpus, 0),
    );
    assert.equal((await t.nova(t.adminToken, 'GET', '/v2.1/os-hypervisors/nope')).status, 404);
    assert.equal((await t.nova(t.member, 'GET', '/v2.1/os-hypervisors')).status, 403);
    assert.equal((await t.nova(t.member, 'GET', '/v2.1/os-hypervisors/detail')).status, 403);
  },
);

test(
  'services: one nova-compute per host, filtered by binary and host; disable puts the host in maintenance',
  { skip: TEMPEST_SKIP },
  async () => {
    const all = await t.nova(t.adminToken, 'GET', '/v2.1/os-services');
    const v211 = await t.nova(t.adminToken, 'GET', '/v2.1/os-services?binary=nova-compute', undefined, 11);
    const host = all.body.services[0].host as string;
    const one = await t.nova(t.adminToken, 'GET', `/v2.1/os-services?host=${host}`);
    const off = await t.nova(t.adminToken, 'PUT', '/v2.1/os-services/disable', {
      host,
      binary: 'nova-compute',
    });
    const after1 = await t.nova(t.adminToken, 'GET', `/v2.1/os-services?host=${host}`);
    const on = await t.nova(t.adminToken, 'PUT', '/v2.1/os-services/enable', {
      host,
      binary: 'nova-compute',
    });
    check([
      ['compute.v2_1.services.list_services', all],
      ['compute.v2_11.services.list_services', v211],
      ['compute.v2_1.services.list_services', one],
      ['compute.v2_1.services.enable_disable_service', off],
      ['compute.v2_1.services.enable_disable_service', on],
    ]);
    assert.equal(all.body.services.length, (await t.cp.listHosts(t.admin)).length);
    assert.ok(
      all.body.services.every(
        (s: { binary: string; state: string }) => s.binary === 'nova-compute' && s.state === 'up',
      ),
    );
    assert.equal(one.body.services.length, 1);
    assert.equal(after1.body.services[0].status, 'disabled');
    assert.equal((await t.cp.hosts.getHost(t.admin, host)).state, 'up');
    assert.deepEqual(
      (await t.nova(t.adminToken, 'GET', '/v2.1/os-services?binary=nova-scheduler')).body.services,
      [],
    );
    assert.equal((await t.nova(t.member, 'GET', '/v2.1/os-services')).status, 403);
  },
);

test(
  'availability zones: every caller lists them, the detail with hosts is for admins',
  { skip: TEMPEST_SKIP },
  async () => {
    const list = await t.nova(t.member, 'GET', '/v2.1/os-availability-zone');
    const detail = await t.nova(t.adminToken, 'GET', '/v2.1/os-availability-zone/detail');
    check([
      ['compute.v2_1.availability_zone.list_availability_zone_list', list],
      ['compute.v2_1.availability_zone.list_availability_zone_list_detail', detail],
    ]);
    const zones = new Set((await t.cp.listHosts(t.admin)).map((h) => h.zone));
    assert.deepEqual(
      list.body.availabilityZoneInfo.map((z: { zoneName: string }) => z.zoneName).sort(),
      [...zones].sort(),
    );
    assert.ok(
      list.body.availabilityZoneInfo.every(
        (z: { zoneState: { available: boolean } }) => z.zoneState.available,
      ),
    );
    assert.equal((await t.nova(t.member, 'GET', '/v2.1/os-availability-zone/detail')).status, 403);
  },
);
