/**
 * Neutron v2.0 on nubis (issue 16): versions and extensions, networks and subnets (pools, CIDR
 * overlap, cascades), ports (fixed IPs and MACs chosen, allocation pools, server ports), filters and
 * `fields=`, isolation between projects and the shared network every project sees.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { controlPlane, storeBackends } from './helpers/control.ts';
import { seedSharedNetwork } from '../src/control/control-plane.ts';

type Api = Awaited<ReturnType<typeof controlPlane>>;
const N = '/openstack/network';

for (const backend of storeBackends()) {
  describe(`Neutron networks, subnets and ports on ${backend.name}`, () => {
    if (backend.skip) return void test(`every test on ${backend.name}`, { skip: backend.skip });
    const open: { close: () => Promise<void> }[] = [];
    after(async () => {
      for (const x of open) await x.close();
    });

    /** A control plane with the shared network and two projects (acme: ann, globex: bob, members). */
    const world = async () => {
      const s = await backend.url();
      const t: Api = await controlPlane(s.url, 1);
      open.push({ close: async () => (await t.close(), await s.drop()) });
      await seedSharedNetwork(t.cp, t.admin);
      const tok: Record<string, string> = { admin: t.adminToken };
      const tenants: Record<string, string> = {};
      for (const [tenant, user] of [
        ['acme', 'ann'],
        ['globex', 'bob'],
      ] as const) {
        tenants[user] = (await t.call(t.adminToken, 'POST', '/v1/tenants', { name: tenant })).body.id;
        const u = await t.call(t.adminToken, 'POST', '/v1/users', { tenant, name: user, role: 'member' });
        tok[user] = (
          await t.call(t.adminToken, 'POST', '/v1/tokens', { name: 'tk', userId: u.body.id })
        ).body.token;
      }
      const call = (who: string, method: string, url: string, body?: unknown) =>
        t.call(undefined, method, `${N}${url}`, body, { 'x-auth-token': tok[who]! });
      const ok = async (who: string, method: string, url: string, body?: unknown, status?: number) => {
        const r = await call(who, method, url, body);
        if (status) assert.equal(r.status, status, `${method} ${url}: ${JSON.stringify(r.body)}`);
        else assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${JSON.stringify(r.body)}`);
        return r.body;
      };
      const fails = async (who: string, method: string, url: string, body: unknown, status: number) => {
        const r = await call(who, method, url, body);
        assert.equal(r.status, status, `${method} ${url}: ${r.status} ${JSON.stringify(r.body)}`);
        assert.ok(r.body.NeutronError.message, 'a Neutron error body');
        return r.body.NeutronError.message as string;
      };
      return { t, tok, tenants, call, ok, fails };
    };

    test('versions, resources and exactly the contract’s extensions', async () => {
      const w = await world();
      const v = await w.t.call(undefined, 'GET', `${N}/`);
      assert.equal(v.body.versions[0].id, 'v2.0');
      assert.equal(v.body.versions[0].status, 'CURRENT');
      const res = await w.t.call(undefined, 'GET', `${N}/v2.0/`);
      assert.deepEqual(res.body.resources.map((r: { collection: string }) => r.collection).sort(), [
        'networks',
        'ports',
        'security_group_rules',
        'security_groups',
        'subnets',
      ]);
      const ext = await w.ok('ann', 'GET', '/v2.0/extensions');
      assert.deepEqual(ext.extensions.map((e: { alias: string }) => e.alias).sort(), [
        'net-mtu',
        'project-id',
        'security-group',
        'standard-attr-description',
        'standard-attr-revisions',
        'standard-attr-timestamp',
      ]);
      assert.equal((await w.ok('ann', 'GET', '/v2.0/extensions/net-mtu')).extension.alias, 'net-mtu');
      await w.fails('ann', 'GET', '/v2.0/extensions/router', undefined, 404);
      assert.equal((await w.t.call(undefined, 'GET', `${N}/v2.0/networks`)).status, 401);
    });

    test('network and subnet CRUD: pools, gateway, DNS, routes, overlap 400, cascade on delete', async () => {
      const w = await world();
      const net = (
        await w.ok('ann', 'POST', '/v2.0/networks', { network: { name: 'app', admin_state_up: true } }, 201)
      ).network;
      assert.deepEqual(Object.keys(net).sort(), [
        'admin_state_up',
        'created_at',
        'description',
        'id',
        'mtu',
        'name',
        'port_security_enabled',
        'project_id',
        'revision_number',
        'router:external',
        'shared',
        'status',
        'subnets',
        'tags',
        'tenant_id',
        'updated_at',
      ]);
      assert.equal(net.tenant_id, w.tenants.ann);
      assert.deepEqual(net.subnets, []);
      assert.equal(net.shared, false);
      assert.match(net.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const sub = (
        await w.ok(
          'ann',
          'POST',
          '/v2.0/subnets',
          {
            subnet: {
              network_id: net.id,
              cidr: '10.100.0.0/28',
              ip_version: 4,
              name: 'app-sub',
              gateway_ip: '10.100.0.1',
              allocation_pools: [{ start: '10.100.0.5', end: '10.100.0.9' }],
              dns_nameservers: ['1.1.1.1'],
              host_routes: [{ destination: '10.200.0.0/24', nexthop: '10.100.0.2' }],
            },
          },
          201,
        )
      ).subnet;
      assert.equal(sub.network_id, net.id);
      assert.equal(sub.ip_version, 4);
      assert.deepEqual(sub.allocation_pools, [{ start: '10.100.0.5', end: '10.100.0.9' }]);
      assert.deepEqual(sub.dns_nameservers, ['1.1.1.1']);
      assert.equal(sub.enable_dhcp, true);
      assert.deepEqual((await w.ok('ann', 'GET', `/v2.0/networks/${net.id}`)).network.subnets, [sub.id]);
      // A port's address comes from the pool.
      const port = (await w.ok('ann', 'POST', '/v2.0/ports', { port: { network_id: net.id } }, 201)).port;
      assert.deepEqual(port.fixed_ips, [{ subnet_id: sub.id, ip_address: '10.100.0.5' }]);
      // Another overlapping subnet of the project: 400 with Neutron's words (Tempest retries on them).
      const other = (await w.ok('ann', 'POST', '/v2.0/networks', { network: { name: 'other' } })).network;
      const msg = await w.fails(
        'ann',
        'POST',
        '/v2.0/subnets',
        { subnet: { network_id: other.id, cidr: '10.100.0.0/24', ip_version: 4 } },
        400,
      );
      assert.match(msg, /overlaps with another subnet/);
      // Another project may use the same range.
      const bobNet = (await w.ok('bob', 'POST', '/v2.0/networks', { network: { name: 'b' } })).network;
      await w.ok(
        'bob',
        'POST',
        '/v2.0/subnets',
        { subnet: { network_id: bobNet.id, cidr: '10.100.0.0/28', ip_version: 4 } },
        201,
      );
      // Bad values: 400.
      for (const bad of [
        { cidr: '10.1.0.0/33' },
        { cidr: '10.1.0.0/24', gateway_ip: '10.2.0.1' },
        { cidr: '10.1.0.0/24', allocation_pools: [{ start: '10.1.1.1', end: '10.1.1.5' }] },
        { cidr: '10.1.0.0/24', ip_version: 6 },
      ])
        await w.fails(
          'ann',
          'POST',
          '/v2.0/subnets',
          { subnet: { network_id: other.id, ip_version: 4, ...bad } },
          400,
        );
      // Without gateway.
      const nogw = (
        await w.ok('ann', 'POST', '/v2.0/subnets', {
          subnet: { network_id: other.id, cidr: '10.101.0.0/28', gateway_ip: null },
        })
      ).subnet;
      assert.equal(nogw.gateway_ip, null);
      assert.deepEqual(nogw.allocation_pools, [{ start: '10.101.0.1', end: '10.101.0.14' }]);
      // Updates.
      const up = (
        await w.ok('ann', 'PUT', `/v2.0/subnets/${sub.id}`, {
          subnet: {
            name: 'renamed',
            dns_nameservers: ['8.8.8.8'],
            enable_dhcp: false,
            gateway_ip: '10.100.0.14',
          },
        })
      ).subnet;
      assert.equal(up.name, 'renamed');
      assert.equal(up.gateway_ip, '10.100.0.14');
      assert.equal(up.enable_dhcp, false);
      assert.equal(up.revision_number, 1);
      const n2 = (
        await w.ok('ann', 'PUT', `/v2.0/networks/${net.id}`, { network: { name: 'app2', description: 'd' } })
      ).network;
      assert.equal(n2.name, 'app2');
      assert.equal(n2.description, 'd');
      assert.equal(n2.revision_number, 1);
      // A subnet or network with an address in use: 409; after the port goes, the network deletes its subnet.
      await w.fails('ann', 'DELETE', `/v2.0/subnets/${sub.id}`, undefined, 409);
      await w.fails('ann', 'DELETE', `/v2.0/networks/${net.id}`, undefined, 409);
      await w.ok('ann', 'DELETE', `/v2.0/ports/${port.id}`, undefined, 204);
      await w.ok('ann', 'DELETE', `/v2.0/networks/${net.id}`, undefined, 204);
      await w.fails('ann', 'GET', `/v2.0/subnets/${sub.id}`, undefined, 404);
      await w.ok('ann', 'DELETE', `/v2.0/subnets/${nogw.id}`, undefined, 204);
      assert.deepEqual((await w.ok('ann', 'GET', `/v2.0/networks/${other.id}`)).network.subnets, []);
    });

    test('isolation, the shared network, filters, fields, names in the path, bulk', async () => {
      const w = await world();
      const shared = (await w.ok('ann', 'GET', '/v2.0/networks?shared=True')).networks;
      assert.equal(shared.length, 1);
      assert.equal(shared[0].name, 'shared');
      assert.equal(shared[0].subnets.length, 1);
      const sub = (await w.ok('bob', 'GET', `/v2.0/subnets/${shared[0].subnets[0]}`)).subnet;
      assert.equal(sub.cidr, '10.0.0.0/24');
      // Any project puts ports on it; the port is the project's.
      const bp = (await w.ok('bob', 'POST', '/v2.0/ports', { port: { network_id: shared[0].id } }, 201)).port;
      assert.equal(bp.tenant_id, w.tenants.bob);
      assert.equal(bp.fixed_ips[0].ip_address, '10.0.0.2');
      await w.fails('ann', 'GET', `/v2.0/ports/${bp.id}`, undefined, 404);
      // Only an admin changes or deletes it.
      await w.fails('ann', 'PUT', `/v2.0/networks/${shared[0].id}`, { network: { name: 'mine' } }, 404);
      await w.fails('ann', 'POST', '/v2.0/networks', { network: { name: 's2', shared: true } }, 403);
      // Another project's network: 404 everywhere.
      const a = (
        await w.ok('ann', 'POST', '/v2.0/networks', { networks: [{ name: 'a1' }, { name: 'a2' }] }, 201)
      ).networks;
      assert.deepEqual(
        a.map((n: { name: string }) => n.name),
        ['a1', 'a2'],
      );
      await w.fails('bob', 'GET', `/v2.0/networks/${a[0].id}`, undefined, 404);
      await w.fails('bob', 'DELETE', `/v2.0/networks/${a[0].id}`, undefined, 404);
      await w.fails('bob', 'POST', '/v2.0/ports', { port: { network_id: a[0].id } }, 404);
      assert.ok(
        !(await w.ok('bob', 'GET', '/v2.0/networks')).networks.some((n: { id: string }) => n.id === a[0].id),
      );
      // A name in the path is not an id.
      await w.fails('ann', 'GET', '/v2.0/networks/a1', undefined, 404);
      // Filters: any attribute, a repeated key ORs; fields= projects.
      const byName = (await w.ok('ann', 'GET', '/v2.0/networks?name=a1&name=a2')).networks;
      assert.equal(byName.length, 2);
      const mine = (
        await w.ok('ann', 'GET', `/v2.0/networks?tenant_id=${w.tenants.ann}&fields=id&fields=name`)
      ).networks;
      assert.deepEqual(
        mine.map((n: object) => Object.keys(n).sort()),
        [
          ['id', 'name'],
          ['id', 'name'],
        ],
      );
      assert.deepEqual((await w.ok('ann', 'GET', `/v2.0/networks/${a[0].id}?fields=mtu`)).network, {
        mtu: 1450,
      });
      // An admin sees every project's and creates for another.
      const all = (await w.ok('admin', 'GET', `/v2.0/networks?project_id=${w.tenants.ann}`)).networks;
      assert.equal(all.length, 2);
      const forBob = (
        await w.ok('admin', 'POST', '/v2.0/networks', {
          network: { name: 'given', project_id: w.tenants.bob },
        })
      ).network;
      assert.equal(forBob.project_id, w.tenants.bob);
      // An admin puts a port on another project's network: the port is that project's.
      const adminPort = (await w.ok('admin', 'POST', '/v2.0/ports', { port: { network_id: a[0].id } }, 201))
        .port;
      assert.equal(adminPort.tenant_id, w.tenants.ann);
      assert.equal((await w.ok('ann', 'GET', `/v2.0/ports/${adminPort.id}`)).port.network_id, a[0].id);
      await w.ok('admin', 'DELETE', `/v2.0/ports/${adminPort.id}`, undefined, 204);
      assert.ok(
        (await w.ok('bob', 'GET', '/v2.0/networks')).networks.some((n: { id: string }) => n.id === forBob.id),
      );
    });

    test('ports: chosen fixed IP and MAC, networks without subnet, updates, server ports', async () => {
      const w = await world();
      const net = (await w.ok('ann', 'POST', '/v2.0/networks', { network: { name: 'p' } })).network;
      const bare = (
        await w.ok('ann', 'POST', '/v2.0/ports', { port: { network_id: net.id, name: 'bare' } }, 201)
      ).port;
      assert.deepEqual(bare.fixed_ips, []);
      assert.equal(bare.admin_state_up, true);
      const sub = (
        await w.ok('ann', 'POST', '/v2.0/subnets', {
          subnet: { network_id: net.id, cidr: '10.30.0.0/24', ip_version: 4 },
        })
      ).subnet;
      const port = (
        await w.ok(
          'ann',
          'POST',
          '/v2.0/ports',
          {
            port: {
              network_id: net.id,
              mac_address: 'FA:16:3E:12:34:56',
              fixed_ips: [{ subnet_id: sub.id, ip_address: '10.30.0.77' }],
              security_groups: [],
            },
          },
          201,
        )
      ).port;
      assert.equal(port.mac_address, 'fa:16:3e:12:34:56');
      assert.deepEqual(port.fixed_ips, [{ subnet_id: sub.id, ip_address: '10.30.0.77' }]);
      assert.deepEqual(port.security_groups, []);
      await w.fails(
        'ann',
        'POST',
        '/v2.0/ports',
        { port: { network_id: net.id, fixed_ips: [{ ip_address: '10.30.0.77' }] } },
        409,
      );
      await w.fails(
        'ann',
        'POST',
        '/v2.0/ports',
        { port: { network_id: net.id, mac_address: 'fa:16:3e:12:34:56' } },
        409,
      );
      await w.fails('ann', 'POST', '/v2.0/ports', { port: { network_id: net.id, mac_address: 'nope' } }, 400);
      const filtered = (await w.ok('ann', 'GET', '/v2.0/ports?fixed_ips=ip_address%3D10.30.0.77')).ports;
      assert.deepEqual(
        filtered.map((p: { id: string }) => p.id),
        [port.id],
      );
      const up = (
        await w.ok('ann', 'PUT', `/v2.0/ports/${port.id}`, {
          port: { name: 'New_Port', admin_state_up: false },
        })
      ).port;
      assert.equal(up.name, 'New_Port');
      assert.equal(up.admin_state_up, false);
      // A server's port: device_owner compute:<zone>, device_id the server.
      const shared = (await w.ok('ann', 'GET', '/v2.0/networks?name=shared')).networks[0];
      const op = await w.t.call(w.tok.ann, 'POST', '/v1/vms', {
        name: 's1',
        flavor: 'm1.tiny',
        image: 'tiny',
        networks: [shared.id],
      });
      assert.ok(op.status < 300, JSON.stringify(op.body));
      const vmPort = (await w.ok('ann', 'GET', `/v2.0/ports?device_id=${op.body.vmId}`)).ports;
      assert.equal(vmPort.length, 1);
      assert.match(vmPort[0].device_owner, /^compute:/);
      assert.equal(vmPort[0].network_id, shared.id);
      await w.fails('ann', 'DELETE', `/v2.0/ports/${vmPort[0].id}`, undefined, 409);
    });
  });
}
