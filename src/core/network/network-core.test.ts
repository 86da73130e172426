import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { computeHostNetworkState, type NetworkRecords, type PortRecord } from './host-state.ts';
import { tapName } from './host-network.ts';
import { allocateIp } from './ipam.ts';
import { checkSubnet, formatIpv4, parseCidr, parseIpv4, parseRange } from './ipv4.ts';
import { macFromUuid } from './mac.ts';
import { compilePortRules, groupMembers, type SecurityRuleRow } from './security-rules.ts';

test('checkSubnet() accepts /8../29 subnets with a gateway inside and explains what it refuses', () => {
  assert.deepEqual(checkSubnet('10.20.0.0/24', '10.20.0.1'), []);
  assert.deepEqual(checkSubnet('10.0.0.0/8', null), []);
  assert.match(checkSubnet('10.20.0.1/24', null)[0]!, /network address/);
  assert.match(checkSubnet('10.20.0.0/30', null)[0]!, /accepted: \/8 to \/29/);
  assert.match(checkSubnet('10.0.0.0/7', null)[0]!, /prefix \/7/);
  assert.match(checkSubnet('10.20.0.0/24', '10.20.1.1')[0]!, /not a host address/);
  assert.match(checkSubnet('10.20.0.0/24', '10.20.0.255')[0]!, /not a host address/);
  assert.match(checkSubnet('fd00::/64', null)[0]!, /IPv4/);
  assert.equal(parseIpv4('010.1.1.1'), null);
});

test('parseRange() reads a pool FIRST-LAST of host addresses of the subnet', () => {
  const r = parseRange('203.0.113.10-203.0.113.12', '203.0.113.0/24');
  assert.deepEqual(r, { first: parseIpv4('203.0.113.10'), last: parseIpv4('203.0.113.12') });
  assert.equal(typeof parseRange('203.0.113.12-203.0.113.10', '203.0.113.0/24'), 'string');
  assert.equal(typeof parseRange('203.0.113.0-203.0.113.10', '203.0.113.0/24'), 'string');
});

test('allocateIp() never hands out the network, broadcast, gateway or a used address, and says when it is exhausted', () => {
  fc.assert(
    fc.property(fc.integer({ min: 24, max: 29 }), fc.integer({ min: 0, max: 300 }), (prefix, n) => {
      const cidr = `10.1.0.0/${prefix}`;
      const s = parseCidr(cidr)!;
      const used: string[] = [];
      for (let i = 0; i < n; i++) {
        const a = allocateIp({ cidr, gatewayIp: '10.1.0.1', used });
        const hosts = s.broadcast - s.network - 2; // minus the gateway
        if (used.length >= hosts) {
          assert.equal(a.ok, false);
          assert.equal(!a.ok && a.reason, 'exhausted');
          return;
        }
        assert.ok(a.ok);
        const ip = parseIpv4(a.ip)!;
        assert.ok(ip > s.network + 1 && ip < s.broadcast, a.ip);
        assert.ok(!used.includes(a.ip));
        used.push(a.ip);
      }
    }),
  );
});

test('allocateIp() gives a requested address only when it is a free host address', () => {
  const base = { cidr: '10.1.0.0/24', gatewayIp: '10.1.0.1', used: ['10.1.0.5'] };
  assert.deepEqual(allocateIp({ ...base, requested: '10.1.0.9' }), { ok: true, ip: '10.1.0.9' });
  assert.equal((allocateIp({ ...base, requested: '10.1.0.5' }) as { reason: string }).reason, 'in-use');
  assert.equal((allocateIp({ ...base, requested: '10.1.0.1' }) as { reason: string }).reason, 'in-use');
  assert.equal((allocateIp({ ...base, requested: '10.1.0.255' }) as { reason: string }).reason, 'invalid');
  assert.equal((allocateIp({ ...base, requested: '10.2.0.3' }) as { reason: string }).reason, 'invalid');
  assert.deepEqual(
    allocateIp({ ...base, range: { first: parseIpv4('10.1.0.5')!, last: parseIpv4('10.1.0.6')! } }),
    {
      ok: true,
      ip: '10.1.0.6',
    },
  );
});

test('macFromUuid() gives locally administered fa:16:3e MACs', () => {
  fc.assert(
    fc.property(fc.uuid(), (u) => {
      assert.match(macFromUuid(u), /^fa:16:3e(:[0-9a-f]{2}){3}$/);
    }),
  );
  assert.equal(formatIpv4(parseIpv4('1.2.3.4')!), '1.2.3.4');
});

const rule = (r: Partial<SecurityRuleRow> & Pick<SecurityRuleRow, 'groupId'>): SecurityRuleRow => ({
  direction: 'ingress',
  protocol: 'any',
  portMin: null,
  portMax: null,
  remoteCidr: null,
  remoteGroupId: null,
  ...r,
});

test('compilePortRules() expands a remote group to the /32 of every member port, whatever the ports', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          ip: fc.integer({ min: 2, max: 250 }).map((i) => `10.0.0.${i}`),
          groups: fc.subarray(['g1', 'g2', 'g3']),
        }),
        { maxLength: 12 },
      ),
      (raw) => {
        const ports = raw.map((r, i) => ({ id: `p${i}`, ips: [r.ip], securityGroupIds: r.groups }));
        const rules = [
          rule({ groupId: 'g1', remoteGroupId: 'g2' }),
          rule({ groupId: 'g1', direction: 'egress', remoteCidr: '0.0.0.0/0' }),
        ];
        const members = groupMembers(ports);
        for (const p of ports) {
          const c = compilePortRules(p, rules, members);
          if (!p.securityGroupIds.includes('g1')) {
            assert.deepEqual(c, []);
            continue;
          }
          const ingress = c.find((r) => r.direction === 'ingress')!;
          const want = [
            ...new Set(ports.filter((q) => q.securityGroupIds.includes('g2')).map((q) => `${q.ips[0]}/32`)),
          ].sort();
          assert.deepEqual(ingress.remoteCidrs, want);
          assert.deepEqual(c.find((r) => r.direction === 'egress')!.remoteCidrs, ['0.0.0.0/0']);
        }
      },
    ),
  );
});

test('compilePortRules() keeps port ranges for tcp/udp only', () => {
  const c = compilePortRules(
    { securityGroupIds: ['g'] },
    [
      rule({ groupId: 'g', protocol: 'tcp', portMin: 22, portMax: null, remoteCidr: '0.0.0.0/0' }),
      rule({ groupId: 'g', protocol: 'icmp', portMin: 8, portMax: 8, remoteCidr: '10.0.0.0/8' }),
    ],
    new Map(),
  );
  assert.deepEqual(c, [
    { direction: 'ingress', protocol: 'tcp', portMin: 22, portMax: 22, remoteCidrs: ['0.0.0.0/0'] },
    { direction: 'ingress', protocol: 'icmp', portMin: null, portMax: null, remoteCidrs: ['10.0.0.0/8'] },
  ]);
});

const meta = (id: string) => ({
  instanceId: id,
  hostname: id,
  publicKeys: {},
  userData: null,
  availabilityZone: null,
});
const port = (id: string, net: string, hosts: string[], ip: string): PortRecord => ({
  id,
  networkId: net,
  vmId: `vm-${id}`,
  hostIds: hosts,
  mac: 'fa:16:3e:00:00:01',
  ips: [ip],
  securityGroupIds: ['sg'],
  floatingIp: null,
  metadata: meta(`vm-${id}`),
});

test('computeHostNetworkState() sends a host its ports, their networks, and the OTHER hosts as peers', () => {
  const net = (id: string, vni: number) => ({
    id,
    vni,
    kind: 'tenant' as const,
    cidr: '10.0.0.0/24',
    gatewayIp: '10.0.0.1',
    dhcp: true,
    dnsServers: [],
    mtu: 1450,
  });
  const records: NetworkRecords = {
    networks: [net('a', 1), net('b', 2)],
    ports: [
      port('p1', 'a', ['h1'], '10.0.0.2'),
      port('p2', 'a', ['h2'], '10.0.0.3'),
      port('p3', 'b', ['h2', 'h3'], '10.0.0.2'),
    ],
    rules: [rule({ groupId: 'sg', remoteGroupId: 'sg' })],
    underlay: { h1: '192.0.2.1', h2: '192.0.2.2', h3: '192.0.2.3' },
  };
  const h1 = computeHostNetworkState('h1', records, 7);
  assert.equal(h1.revision, 7);
  assert.deepEqual(
    h1.networks.map((n) => [n.id, n.peers]),
    [['a', ['192.0.2.2']]],
  );
  assert.deepEqual(
    h1.ports.map((p) => [p.id, p.tap]),
    [['p1', tapName('p1')]],
  );
  assert.deepEqual(h1.ports[0]!.rules[0]!.remoteCidrs, ['10.0.0.2/32', '10.0.0.3/32']);
  const h2 = computeHostNetworkState('h2', records, 7);
  assert.deepEqual(
    h2.networks.map((n) => [n.id, n.peers]),
    [
      ['a', ['192.0.2.1']],
      ['b', ['192.0.2.3']],
    ],
  );
  assert.deepEqual(computeHostNetworkState('h9', records, 7), { revision: 7, networks: [], ports: [] });
});
