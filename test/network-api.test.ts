/**
 * Tenant networks through the API on simulated hosts (issue 12): IPAM, overlapping CIDRs in two
 * tenants, quotas, the default security group and remote-group expansion, the state each host's
 * driver is given after create, rule changes, migration and delete, and isolation between tenants.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { controlPlane, storeBackends } from './helpers/control.ts';
import { tapName } from '../src/core/network/host-network.ts';

type Api = Awaited<ReturnType<typeof controlPlane>>;
const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl user@host';

for (const backend of storeBackends()) {
  describe(`tenant networks through the API on ${backend.name}`, () => {
    if (backend.skip) return void test(`every test on ${backend.name}`, { skip: backend.skip });
    const open: { close: () => Promise<void> }[] = [];
    after(async () => {
      for (const x of open) await x.close();
    });

    /** A control plane with two simulated hosts and two tenants (acme: ann, globex: bob, members). */
    const world = async () => {
      const s = await backend.url();
      const t: Api = await controlPlane(s.url, 0);
      open.push({ close: async () => (await t.close(), await s.drop()) });
      const a = t.adminToken;
      const hosts: Record<string, string> = {};
      for (const name of ['h1', 'h2']) {
        const r = await t.call(a, 'POST', '/v1/hosts', { name, vcpus: 16, memoryMiB: 32768, diskGiB: 500 });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        hosts[name] = r.body.id;
      }
      const tok: Record<string, string> = {};
      for (const [tenant, user] of [
        ['acme', 'ann'],
        ['globex', 'bob'],
      ] as const) {
        await t.call(a, 'POST', '/v1/tenants', { name: tenant });
        const u = await t.call(a, 'POST', '/v1/users', { tenant, name: user, role: 'member' });
        tok[user] = (await t.call(a, 'POST', '/v1/tokens', { name: 'tk', userId: u.body.id })).body.token;
      }
      const ok = async (who: string, method: string, url: string, body?: unknown) => {
        const r = await t.call(tok[who] ?? who, method, url, body);
        assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${JSON.stringify(r.body)}`);
        return r.body;
      };
      const vm = async (who: string, name: string, body: Record<string, unknown> = {}) => {
        const op = await ok(who, 'POST', '/v1/vms', { name, flavor: 'm1.small', image: 'tiny', ...body });
        return op.vmId as string;
      };
      const hostOf = async (vmId: string) => (await ok(a, 'GET', `/v1/vms/${vmId}`)).hostId as string;
      const state = (hostId: string) => t.sim.networkOf(hostId);
      return { t, a, tok, hosts, ok, vm, hostOf, state };
    };

    test('a network validates its subnet, may overlap another tenant’s, not the same tenant’s', async () => {
      const w = await world();
      const bad = await w.t.call(w.tok.ann, 'POST', '/v1/networks', { name: 'x', cidr: '10.20.0.0/30' });
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /accepted: \/8 to \/29/);
      const gw = await w.t.call(w.tok.ann, 'POST', '/v1/networks', {
        name: 'x',
        cidr: '10.20.0.0/24',
        gateway: '10.30.0.1',
      });
      assert.equal(gw.status, 400);
      const a = await w.ok('ann', 'POST', '/v1/networks', { name: 'app', cidr: '10.20.0.0/24' });
      assert.equal(a.gateway, '10.20.0.1');
      const b = await w.ok('bob', 'POST', '/v1/networks', { name: 'app', cidr: '10.20.0.0/24' });
      assert.notEqual(a.vni, b.vni);
      const clash = await w.t.call(w.tok.ann, 'POST', '/v1/networks', {
        name: 'other',
        cidr: '10.20.0.128/25',
      });
      assert.equal(clash.status, 409);
      assert.match(clash.body.message, /overlaps 10\.20\.0\.0\/24/);
      // Tenants do not see each other's networks.
      assert.deepEqual(
        (await w.ok('bob', 'GET', '/v1/networks')).map((n: { id: string }) => n.id),
        [b.id],
      );
      assert.equal((await w.t.call(w.tok.bob, 'GET', `/v1/networks/${a.id}`)).status, 404);
      assert.equal((await w.t.call(w.tok.bob, 'DELETE', `/v1/networks/${a.id}`)).status, 404);
    });

    test('ports get distinct addresses under concurrent creates, and exhaustion is a clear 409', async () => {
      const w = await world();
      await w.ok(w.a, 'PATCH', `/v1/tenants/${(await w.ok('ann', 'GET', '/v1/me')).tenantId}`, {});
      const net = await w.ok('ann', 'POST', '/v1/networks', { name: 'small', cidr: '10.9.0.0/29' });
      // /29: 8 addresses minus network, broadcast and gateway = 5.
      const rs = await Promise.all(
        Array.from({ length: 7 }, () => w.t.call(w.tok.ann, 'POST', '/v1/ports', { network: 'small' })),
      );
      const made = rs.filter((r) => r.status === 201).map((r) => r.body.fixedIps[0]);
      assert.equal(made.length, 5);
      assert.equal(new Set(made).size, 5);
      assert.deepEqual([...made].sort(), ['10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.5', '10.9.0.6']);
      for (const r of rs.filter((x) => x.status !== 201)) {
        assert.equal(r.status, 409);
        assert.match(r.body.message, /No free address left in 10\.9\.0\.0\/29/);
      }
      const fixed = await w.t.call(w.tok.ann, 'POST', '/v1/ports', { network: net.id, fixedIp: '10.9.0.2' });
      assert.equal(fixed.status, 409);
      // Another tenant cannot put a port on it.
      assert.equal((await w.t.call(w.tok.bob, 'POST', '/v1/ports', { network: net.id })).status, 404);
    });

    test('network quotas are enforced', async () => {
      const w = await world();
      const acme = (await w.ok('ann', 'GET', '/v1/me')).tenantId;
      await w.t.db
        .updateTable('tenants')
        .set({ quota_networks: 1, quota_keypairs: 1 })
        .where('id', '=', acme)
        .execute();
      await w.ok('ann', 'POST', '/v1/networks', { name: 'n1', cidr: '10.1.0.0/24' });
      const r = await w.t.call(w.tok.ann, 'POST', '/v1/networks', { name: 'n2', cidr: '10.2.0.0/24' });
      assert.equal(r.status, 403);
      assert.match(r.body.message, /Quota exceeded for networks: used 1 of 1/);
      await w.ok('ann', 'POST', '/v1/keypairs', { name: 'k1', publicKey: ED25519 });
      const q = await w.ok('ann', 'GET', '/v1/quotas');
      assert.equal(q.quotas.networks, 1);
      assert.equal(q.usage.networks, 1);
      assert.equal(q.usage.keypairs, 1);
      await w.ok(w.a, 'PATCH', `/v1/tenants/${acme}`, { quotas: { networks: 2 } });
      await w.ok('ann', 'POST', '/v1/networks', { name: 'n2', cidr: '10.2.0.0/24' });
      assert.equal(
        (await w.t.call(w.tok.ann, 'POST', '/v1/keypairs', { name: 'k2', publicKey: ED25519 })).status,
        403,
      );
    });

    test('a VM on a network: its host gets the network, the port, default-group rules and metadata', async () => {
      const w = await world();
      await w.ok('ann', 'POST', '/v1/networks', { name: 'app', cidr: '10.20.0.0/24' });
      const key = await w.ok('ann', 'POST', '/v1/keypairs', { name: 'mykey', publicKey: ED25519 });
      assert.match(key.fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
      const v1 = await w.vm('ann', 'web-1', {
        networks: ['app'],
        key: 'mykey',
        userData: '#!/bin/sh\necho hi',
        preset: 'spread',
      });
      const v2 = await w.vm('ann', 'web-2', { networks: ['app'], preset: 'spread' });
      const [h1, h2] = [await w.hostOf(v1), await w.hostOf(v2)];
      assert.notEqual(h1, h2);
      const s1 = w.state(h1);
      assert.equal(s1.networks.length, 1);
      assert.equal(s1.networks[0]!.cidr, '10.20.0.0/24');
      assert.deepEqual(s1.networks[0]!.peers, [
        'h2'.replace('h2', (await w.ok(w.a, 'GET', `/v1/hosts/${h2}`)).name),
      ]);
      const p1 = s1.ports[0]!;
      assert.equal(p1.guestId, v1);
      assert.equal(p1.tap, tapName(p1.id));
      assert.match(p1.mac, /^fa:16:3e:/);
      assert.deepEqual(p1.ips, ['10.20.0.2']);
      assert.deepEqual(p1.metadata.publicKeys, { mykey: ED25519 });
      assert.equal(p1.metadata.userData, '#!/bin/sh\necho hi');
      assert.equal(p1.metadata.hostname, 'web-1');
      // Default group: ingress from the group's members (both VMs), all egress.
      assert.deepEqual(p1.rules, [
        {
          direction: 'ingress',
          protocol: 'any',
          portMin: null,
          portMax: null,
          remoteCidrs: ['10.20.0.2/32', '10.20.0.3/32'],
        },
        { direction: 'egress', protocol: 'any', portMin: null, portMax: null, remoteCidrs: ['0.0.0.0/0'] },
      ]);
      // The guest was built with its NIC.
      const g = await w.t.sim.get(v1);
      assert.deepEqual(g!.spec.nics, [{ portId: p1.id, mac: p1.mac, tap: p1.tap }]);
      // Another tenant's VM on the same CIDR gets the same address on its own network (isolated VNI).
      await w.ok('bob', 'POST', '/v1/networks', { name: 'app', cidr: '10.20.0.0/24' });
      const vb = await w.vm('bob', 'b-1', { networks: ['app'] });
      const sb = w.state(await w.hostOf(vb)).ports.find((p) => p.guestId === vb)!;
      assert.deepEqual(sb.ips, ['10.20.0.2']);
      assert.notEqual(
        w.state(await w.hostOf(vb)).networks.find((n) => n.id === sb.networkId)!.vni,
        s1.networks[0]!.vni,
      );
      // bob cannot use ann's key pair, network or port.
      assert.equal((await w.t.call(w.tok.bob, 'GET', `/v1/ports/${p1.id}`)).status, 404);
      assert.equal((await w.t.call(w.tok.bob, 'GET', `/v1/keypairs/${key.id}`)).status, 404);
      const steal = await w.t.call(w.tok.bob, 'POST', '/v1/vms', {
        name: 'x',
        flavor: 'm1.small',
        image: 'tiny',
        ports: [p1.id],
      });
      assert.equal(steal.status, 404);
    });

    test('a rule added to a group reaches the hosts at once; a group in use cannot be deleted', async () => {
      const w = await world();
      await w.ok('ann', 'POST', '/v1/networks', { name: 'app', cidr: '10.20.0.0/24' });
      const web = await w.ok('ann', 'POST', '/v1/security-groups', { name: 'web' });
      const v = await w.vm('ann', 'web-1', { networks: ['app'], securityGroups: ['web'] });
      const h = await w.hostOf(v);
      // A new group allows all egress (Neutron's rule for a new group), and no ingress yet.
      const EGRESS = {
        direction: 'egress',
        protocol: 'any',
        portMin: null,
        portMax: null,
        remoteCidrs: ['0.0.0.0/0'],
      };
      assert.deepEqual(w.state(h).ports[0]!.rules, [EGRESS]);
      const before = w.state(h).revision;
      const g = await w.ok('ann', 'POST', `/v1/security-groups/${web.id}/rules`, {
        direction: 'ingress',
        protocol: 'tcp',
        portMin: 22,
        remoteCidr: '0.0.0.0/0',
      });
      assert.ok(w.state(h).revision > before);
      // (Rules of one group come in the order the store returns them: compare as a set.)
      const byDirection = (a: { direction: string }, b: { direction: string }) =>
        a.direction.localeCompare(b.direction);
      assert.deepEqual([...w.state(h).ports[0]!.rules].sort(byDirection), [
        EGRESS,
        { direction: 'ingress', protocol: 'tcp', portMin: 22, portMax: 22, remoteCidrs: ['0.0.0.0/0'] },
      ]);
      assert.equal((await w.t.call(w.tok.ann, 'DELETE', `/v1/security-groups/${web.id}`)).status, 409);
      const ssh = g.rules.find((r: { direction: string }) => r.direction === 'ingress');
      await w.ok('ann', 'DELETE', `/v1/security-groups/${web.id}/rules/${ssh.id}`);
      assert.deepEqual(w.state(h).ports[0]!.rules, [EGRESS]);
      // Changing the port's groups: the default group's rules apply.
      const port = (await w.ok('ann', 'GET', `/v1/ports?vm=${v}`))[0];
      await w.ok('ann', 'PUT', `/v1/ports/${port.id}`, { securityGroups: ['default'] });
      assert.equal(w.state(h).ports[0]!.rules.length, 2);
      await w.ok('ann', 'DELETE', `/v1/security-groups/${web.id}`);
      // bob cannot see or change ann's groups.
      assert.equal((await w.t.call(w.tok.bob, 'GET', `/v1/security-groups/${web.id}`)).status, 404);
      assert.equal(
        (await w.t.call(w.tok.bob, 'PUT', `/v1/ports/${port.id}`, { securityGroups: ['default'] })).status,
        404,
      );
    });

    test('a migration plumbs the destination before and unplumbs the source after; delete frees the address', async () => {
      const w = await world();
      await w.ok('ann', 'POST', '/v1/networks', { name: 'app', cidr: '10.20.0.0/24' });
      const v = await w.vm('ann', 'web-1', { networks: ['app'] });
      const src = await w.hostOf(v);
      const dst = Object.values(w.hosts).find((h) => h !== src)!;
      assert.equal(w.state(dst).ports.length, 0);
      await w.ok(w.a, 'POST', `/v1/vms/${v}/migrate`, { toHost: dst });
      assert.equal(await w.hostOf(v), dst);
      assert.deepEqual(
        w.state(dst).ports.map((p) => p.guestId),
        [v],
      );
      assert.deepEqual(w.state(src), { revision: w.state(src).revision, networks: [], ports: [] });
      const ip = w.state(dst).ports[0]!.ips[0];
      await w.ok('ann', 'POST', `/v1/vms/${v}/actions`, { action: 'delete' });
      assert.equal(w.state(dst).ports.length, 0);
      assert.deepEqual(await w.ok('ann', 'GET', '/v1/ports'), []);
      const again = await w.ok('ann', 'POST', '/v1/ports', { network: 'app' });
      assert.deepEqual(again.fixedIps, [ip]);
    });

    test('a floating IP: allocated from the pool, attached to a VM (its host NATs it), metered by the hour', async () => {
      const w = await world();
      const ext = {
        name: 'public',
        external: true,
        cidr: '203.0.113.0/24',
        gateway: '203.0.113.1',
        pool: '203.0.113.10-203.0.113.11',
      };
      assert.equal((await w.t.call(w.tok.ann, 'POST', '/v1/networks', ext)).status, 403);
      await w.ok(w.a, 'POST', '/v1/networks', ext);
      // Tenants see the external network, name and CIDR only.
      const seen = (await w.ok('ann', 'GET', '/v1/networks')).find(
        (n: { name: string }) => n.name === 'public',
      );
      assert.deepEqual(Object.keys(seen).sort(), ['cidr', 'external', 'id', 'kind', 'name']);
      await w.ok('ann', 'POST', '/v1/networks', { name: 'app', cidr: '10.20.0.0/24' });
      const v = await w.vm('ann', 'web-1', { networks: ['app'] });
      await w.ok(w.a, 'POST', '/v1/tariffs', {
        name: 'fip',
        validFrom: '2020-01-01',
        vcpuHour: 0,
        memoryGiBHour: 0,
        diskGiBHour: 0,
        kWh: 0,
        floatingIpHour: 0.5,
      });
      const start = w.t.clock.now();
      const fip = await w.ok('ann', 'POST', '/v1/floating-ips', {});
      assert.equal(fip.ip, '203.0.113.10');
      await w.ok('bob', 'POST', '/v1/floating-ips', {});
      const none = await w.t.call(w.tok.bob, 'POST', '/v1/floating-ips', {});
      assert.equal(none.status, 409);
      assert.match(none.body.message, /No free address left in 203\.0\.113\.10-203\.0\.113\.11/);
      assert.equal(
        (await w.t.call(w.tok.bob, 'POST', `/v1/floating-ips/${fip.id}/attach`, { vm: v })).status,
        404,
      );
      const att = await w.ok('ann', 'POST', `/v1/floating-ips/${fip.id}/attach`, { vm: 'web-1' });
      assert.equal(att.vmId, v);
      const shown = await w.ok('ann', 'GET', `/v1/vms/${v}`);
      assert.deepEqual(
        shown.addresses.map((x: { network: string; ip: string; floatingIp: string }) => [
          x.network,
          x.ip,
          x.floatingIp,
        ]),
        [['app', '10.20.0.2', '203.0.113.10']],
      );
      const h = await w.hostOf(v);
      assert.equal(w.state(h).ports[0]!.floatingIp, '203.0.113.10');
      w.t.clock.advanceBy(2 * 3600);
      await w.ok('ann', 'POST', `/v1/floating-ips/${fip.id}/detach`);
      assert.equal(w.state(h).ports[0]!.floatingIp, null);
      await w.ok('ann', 'DELETE', `/v1/floating-ips/${fip.id}`);
      w.t.clock.advanceBy(3600);
      const from = new Date(start * 1000 - 60_000).toISOString(),
        to = new Date(w.t.clock.now() * 1000).toISOString();
      const inv = await w.ok('ann', 'GET', `/v1/invoices?from=${from}&to=${to}`);
      assert.equal(inv.floatingIpLines.length, 1);
      assert.equal(inv.floatingIpLines[0].floatingIp, '203.0.113.10');
      assert.ok(Math.abs(inv.floatingIpLines[0].hours - 2) < 1e-9);
      assert.equal(inv.floatingIpLines[0].amount, 1);
    });

    test('a network on a physnet fences its VMs to the hosts wired to it; a host’s underlay address is its peers’ VXLAN target', async () => {
      const w = await world();
      await w.ok('ann', 'POST', '/v1/networks', { name: 'prov', cidr: '10.50.0.0/24', physnet: 'edge' });
      const nowhere = await w.t.call(w.tok.ann, 'POST', '/v1/vms', {
        name: 'p0',
        flavor: 'm1.small',
        image: 'tiny',
        networks: ['prov'],
      });
      assert.equal(nowhere.status, 409, JSON.stringify(nowhere.body));
      await w.ok(w.a, 'PATCH', `/v1/hosts/${w.hosts.h2}`, { physnets: ['edge'], underlayIp: '192.0.2.2' });
      assert.deepEqual((await w.ok(w.a, 'GET', `/v1/hosts/${w.hosts.h2}`)).physnets, ['edge']);
      for (const n of ['p1', 'p2'])
        assert.equal(
          await w.hostOf(await w.vm('ann', n, { networks: ['prov'], preset: 'spread' })),
          w.hosts.h2,
        );
      const v = (await w.ok('ann', 'GET', '/v1/vms')).find((x: { name: string }) => x.name === 'p1').id;
      const moved = await w.t.call(w.a, 'POST', `/v1/vms/${v}/migrate`, { toHost: w.hosts.h1 });
      assert.equal(moved.status, 409, JSON.stringify(moved.body));
      assert.match(JSON.stringify(moved.body), /physnet edge/);
      // A VM on h1 on another network sees h2 by its underlay address once they share a network.
      await w.ok('ann', 'POST', '/v1/networks', { name: 'app', cidr: '10.60.0.0/24' });
      const a = await w.vm('ann', 'a1', { networks: ['app'], preset: 'spread' });
      const b = await w.vm('ann', 'b1', { networks: ['app'], preset: 'spread' });
      const [ha, hb] = [await w.hostOf(a), await w.hostOf(b)];
      if (ha !== hb) {
        const onH1 = ha === w.hosts.h1 ? ha : hb;
        const appNet = w.state(onH1).networks.find((n) => n.cidr === '10.60.0.0/24')!;
        assert.deepEqual(appNet.peers, ['192.0.2.2']);
      }
    });

    test('an HA restart plumbs the VM’s ports on its new host before the guest is built there', async () => {
      const w = await world();
      await w.ok('ann', 'POST', '/v1/networks', { name: 'app', cidr: '10.20.0.0/24' });
      const v = await w.vm('ann', 'db-1', { networks: ['app'], ha: true });
      const from = await w.hostOf(v);
      const port = w.state(from).ports[0]!;
      await w.ok(w.a, 'PATCH', `/v1/hosts/${from}`, { state: 'failed' });
      await w.t.cp.ha.evacuate(w.t.admin, from);
      const to = await w.hostOf(v);
      assert.notEqual(to, from);
      assert.deepEqual(
        w.state(to).ports.map((p) => [p.id, p.mac, p.ips]),
        [[port.id, port.mac, port.ips]],
      );
      assert.deepEqual((await w.t.sim.get(v))!.spec.nics, [
        { portId: port.id, mac: port.mac, tap: port.tap },
      ]);
    });
  });
}
