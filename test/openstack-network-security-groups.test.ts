/**
 * Neutron security groups on nubis (issue 16): every project's `default` group made on first use,
 * `default` reserved, rule validation with Neutron's messages, duplicates 409, cascades, isolation,
 * and what hosts are given (IPv4 rules; Neutron's rule without a remote matches every address).
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { controlPlane, storeBackends } from './helpers/control.ts';

type Api = Awaited<ReturnType<typeof controlPlane>>;
const N = '/openstack/network';

for (const backend of storeBackends()) {
  describe(`Neutron security groups on ${backend.name}`, () => {
    if (backend.skip) return void test(`every test on ${backend.name}`, { skip: backend.skip });
    const open: { close: () => Promise<void> }[] = [];
    after(async () => {
      for (const x of open) await x.close();
    });

    const world = async () => {
      const s = await backend.url();
      const t: Api = await controlPlane(s.url, 1);
      open.push({ close: async () => (await t.close(), await s.drop()) });
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
        return r.body.NeutronError.message as string;
      };
      const group = async (who: string, name: string) =>
        (await ok(who, 'POST', '/v2.0/security-groups', { security_group: { name, description: name } }, 201))
          .security_group;
      const rule = (who: string, body: Record<string, unknown>) =>
        call(who, 'POST', '/v2.0/security-group-rules', {
          security_group_rule: { direction: 'ingress', ...body },
        });
      return { t, tok, tenants, call, ok, fails, group, rule };
    };

    test('a project’s default group exists on first use; `default` is reserved; update and delete', async () => {
      const w = await world();
      const list = (await w.ok('bob', 'GET', '/v2.0/security-groups')).security_groups;
      assert.deepEqual(
        list.map((g: { name: string }) => g.name),
        ['default'],
      );
      assert.equal(list[0].tenant_id, w.tenants.bob);
      assert.ok(list[0].security_group_rules.some((r: { direction: string }) => r.direction === 'egress'));
      await w.fails('bob', 'POST', '/v2.0/security-groups', { security_group: { name: 'default' } }, 409);
      const g = await w.group('bob', 'web');
      assert.deepEqual(Object.keys(g).sort(), [
        'created_at',
        'description',
        'id',
        'name',
        'project_id',
        'revision_number',
        'security_group_rules',
        'tags',
        'tenant_id',
        'updated_at',
      ]);
      assert.deepEqual(
        g.security_group_rules.map((r: { direction: string; ethertype: string; protocol: null }) => [
          r.direction,
          r.ethertype,
          r.protocol,
        ]),
        [['egress', 'IPv4', null]],
      );
      await w.fails(
        'bob',
        'PUT',
        `/v2.0/security-groups/${g.id}`,
        { security_group: { name: 'default' } },
        409,
      );
      const up = (
        await w.ok('bob', 'PUT', `/v2.0/security-groups/${g.id}`, {
          security_group: { name: 'web2', description: 'x' },
        })
      ).security_group;
      assert.equal(up.name, 'web2');
      assert.equal(up.description, 'x');
      // Another project's group: 404.
      await w.fails('ann', 'GET', `/v2.0/security-groups/${g.id}`, undefined, 404);
      await w.fails('ann', 'DELETE', `/v2.0/security-groups/${g.id}`, undefined, 404);
      // Deleting a group deletes its rules.
      const r = (await w.rule('bob', { security_group_id: g.id, protocol: 'tcp', ethertype: 'IPv4' })).body
        .security_group_rule;
      await w.ok('bob', 'DELETE', `/v2.0/security-groups/${g.id}`, undefined, 204);
      await w.fails('bob', 'GET', `/v2.0/security-group-rules/${r.id}`, undefined, 404);
      // The default group: its project may not delete it; an admin may.
      await w.fails('bob', 'DELETE', `/v2.0/security-groups/${list[0].id}`, undefined, 409);
      await w.ok('admin', 'DELETE', `/v2.0/security-groups/${list[0].id}`, undefined, 204);
    });

    test('rules: Neutron’s values, its validation messages, duplicates 409, remote groups', async () => {
      const w = await world();
      const g = await w.group('ann', 'g');
      const g2 = await w.group('ann', 'g2');
      const made = await w.rule('ann', { security_group_id: g.id, protocol: 17, ethertype: 'IPv4' });
      assert.equal(made.status, 201);
      assert.equal(made.body.security_group_rule.protocol, '17');
      const shown = (
        await w.ok('ann', 'GET', `/v2.0/security-group-rules/${made.body.security_group_rule.id}`)
      ).security_group_rule;
      assert.deepEqual(shown, made.body.security_group_rule);
      assert.equal(shown.remote_ip_prefix, null);
      assert.equal(shown.remote_group_id, null);
      // Tempest sends the remotes it does not use as null: null is absent.
      const nulls = await w.rule('ann', {
        security_group_id: g.id,
        protocol: 'tcp',
        port_range_min: 80,
        port_range_max: 80,
        remote_group_id: null,
        remote_ip_prefix: null,
      });
      assert.equal(nulls.status, 201, JSON.stringify(nulls.body));
      assert.equal(nulls.body.security_group_rule.remote_group_id, null);
      assert.equal(nulls.body.security_group_rule.remote_ip_prefix, null);
      await w.ok('ann', 'DELETE', `/v2.0/security-group-rules/${nulls.body.security_group_rule.id}`);
      for (const [t, c] of [
        [3, 2],
        [8, 0],
        [11, null],
      ]) {
        const r = await w.rule('ann', {
          security_group_id: g.id,
          protocol: 'icmp',
          port_range_min: t,
          port_range_max: c,
        });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        assert.equal(r.body.security_group_rule.port_range_min, t);
        assert.equal(r.body.security_group_rule.port_range_max, c);
      }
      const withRemote = await w.rule('ann', {
        security_group_id: g.id,
        protocol: 'udp',
        port_range_min: 50,
        port_range_max: 55,
        remote_group_id: g2.id,
      });
      assert.equal(withRemote.body.security_group_rule.remote_group_id, g2.id);
      const tcp = {
        security_group_id: g.id,
        protocol: 'tcp',
        port_range_min: 66,
        port_range_max: 67,
        ethertype: 'IPv4',
      };
      assert.equal((await w.rule('ann', tcp)).status, 201);
      assert.equal((await w.rule('ann', tcp)).status, 409);
      const bad = async (body: Record<string, unknown>, status: number, msg?: string) => {
        const r = await w.rule('ann', { security_group_id: g.id, ...body });
        assert.equal(r.status, status, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
        if (msg) assert.ok(r.body.NeutronError.message.includes(msg), r.body.NeutronError.message);
      };
      await bad({ protocol: 'bad_protocol_name' }, 400);
      await bad({ protocol: 'udp', ethertype: 'bad_ethertype' }, 400);
      for (const p of ['192.168.1./24', '192.168.1.1/33', 'bad_prefix', '256'])
        await bad({ protocol: 'tcp', remote_ip_prefix: p }, 400);
      await bad({ protocol: 'tcp', remote_ip_prefix: '10.0.0.0/24', remote_group_id: g2.id }, 400);
      await bad({ protocol: 'tcp', remote_group_id: 'bad_group_id' }, 404);
      await bad({ protocol: 'tcp', ethertype: 'IPv6', remote_ip_prefix: '10.0.0.0/24' }, 400);
      await bad(
        { protocol: 'tcp', port_range_min: -16, port_range_max: 80 },
        400,
        'Invalid value for port -16',
      );
      await bad(
        { protocol: 'tcp', port_range_min: 80, port_range_max: 79 },
        400,
        'port_range_min must be <= port_range_max',
      );
      await bad(
        { protocol: 'tcp', port_range_min: 80, port_range_max: 65536 },
        400,
        'Invalid value for port 65536',
      );
      await bad(
        { protocol: 'tcp', port_range_min: null, port_range_max: 6 },
        400,
        'port_range_min must be <= port_range_max',
      );
      await bad(
        { protocol: 'icmp', port_range_min: 1, port_range_max: 256 },
        400,
        'Invalid value for ICMP code',
      );
      await bad({ protocol: 'icmp', port_range_min: -1, port_range_max: 25 }, 400, 'Invalid value');
      await bad(
        { protocol: 'icmp', port_range_min: null, port_range_max: 6 },
        400,
        'ICMP type (port-range-min) is missing',
      );
      await bad(
        { protocol: 'icmp', port_range_min: 300, port_range_max: 1 },
        400,
        'Invalid value for ICMP type',
      );
      const missing = await w.rule('ann', { security_group_id: 'f0000000-0000-4000-8000-000000000000' });
      assert.equal(missing.status, 404);
      // IPv6 rules are kept.
      const v6 = await w.rule('ann', {
        security_group_id: g.id,
        protocol: 'ipv6-icmp',
        ethertype: 'IPv6',
        remote_ip_prefix: '2001:db8::/64',
      });
      assert.equal(v6.status, 201, JSON.stringify(v6.body));
      // Lists, filters, another project's rule 404, delete.
      const mine = (
        await w.ok('ann', 'GET', `/v2.0/security-group-rules?security_group_id=${g.id}&protocol=tcp`)
      ).security_group_rules;
      assert.equal(mine.length, 1);
      await w.fails('bob', 'GET', `/v2.0/security-group-rules/${mine[0].id}`, undefined, 404);
      await w.fails('bob', 'DELETE', `/v2.0/security-group-rules/${mine[0].id}`, undefined, 404);
      await w.ok('ann', 'DELETE', `/v2.0/security-group-rules/${mine[0].id}`, undefined, 204);
      assert.equal(
        (await w.ok('ann', 'GET', `/v2.0/security-group-rules?id=${mine[0].id}`)).security_group_rules.length,
        0,
      );
    });

    test('hosts get the IPv4 rules; a rule without a remote allows every address', async () => {
      const w = await world();
      const net = (await w.ok('ann', 'POST', '/v2.0/networks', { network: { name: 'n' } })).network;
      await w.ok('ann', 'POST', '/v2.0/subnets', {
        subnet: { network_id: net.id, cidr: '10.40.0.0/24', ip_version: 4 },
      });
      const g = await w.group('ann', 'web');
      await w.rule('ann', {
        security_group_id: g.id,
        protocol: 'tcp',
        port_range_min: 22,
        port_range_max: 22,
      });
      await w.rule('ann', {
        security_group_id: g.id,
        protocol: 'tcp',
        ethertype: 'IPv6',
        port_range_min: 80,
        port_range_max: 80,
      });
      const op = await w.t.call(w.tok.ann, 'POST', '/v1/vms', {
        name: 'v',
        flavor: 'm1.tiny',
        image: 'tiny',
        networks: [net.id],
        securityGroups: [g.id],
      });
      assert.ok(op.status < 300, JSON.stringify(op.body));
      const vm = (await w.t.call(w.t.adminToken, 'GET', `/v1/vms/${op.body.vmId}`)).body;
      const rules = w.t.sim.networkOf(vm.hostId).ports[0]!.rules;
      assert.deepEqual(
        rules.filter((r) => r.direction === 'ingress'),
        [{ direction: 'ingress', protocol: 'tcp', portMin: 22, portMax: 22, remoteCidrs: ['0.0.0.0/0'] }],
      );
    });
  });
}
