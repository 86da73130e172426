import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { tapName, type HostNetworkState } from '../../core/network/host-network.ts';
import { dnsmasqConf, metadataAnswers, metadataFile } from './dhcp-metadata.ts';
import {
  checkHostNetworkState,
  hostNetworkStateSchema,
  inCidr,
  intToIp,
  ipToInt,
  netNames,
} from './net-state.ts';
import { hostRuleset } from './nft-rules.ts';

const state = (): HostNetworkState => ({
  revision: 1,
  networks: [
    {
      id: 'n1',
      vni: 100,
      kind: 'tenant',
      cidr: '10.0.0.0/24',
      gatewayIp: '10.0.0.1',
      dhcp: true,
      dnsServers: [],
      mtu: 1450,
      peers: ['192.0.2.2'],
    },
  ],
  ports: [
    {
      id: 'p1',
      guestId: 'vm1',
      networkId: 'n1',
      tap: tapName('p1'),
      mac: '02:00:00:00:00:01',
      ips: ['10.0.0.5'],
      rules: [
        { direction: 'ingress', protocol: 'tcp', portMin: 22, portMax: 22, remoteCidrs: ['0.0.0.0/0'] },
      ],
      floatingIp: null,
      metadata: {
        instanceId: 'vm1',
        hostname: 'vm1',
        publicKeys: { k: 'ssh-ed25519 AAA' },
        userData: null,
        availabilityZone: null,
      },
    },
  ],
});

test('a valid state passes; names and addresses that could reach an argv or a rule are refused', () => {
  assert.ok(hostNetworkStateSchema.safeParse(state()).success);
  assert.deepEqual(checkHostNetworkState(state()), []);
  for (const bad of [
    (s: HostNetworkState) => (s.ports[0]!.tap = 'eth0; reboot'),
    (s: HostNetworkState) => (s.ports[0]!.mac = '02:00:00:00:00:0G'),
    (s: HostNetworkState) => (s.ports[0]!.id = '../x'),
    (s: HostNetworkState) => (s.networks[0]!.cidr = '10.0.0.1/24'),
    (s: HostNetworkState) => (s.networks[0]!.peers = ['10.0.0.1 dev lo']),
    (s: HostNetworkState) => (s.ports[0]!.rules[0]!.remoteCidrs = ['0.0.0.0/0 } accept; {']),
  ]) {
    const s = state();
    bad(s);
    assert.equal(hostNetworkStateSchema.safeParse(s).success, false, JSON.stringify(s.ports[0]));
  }
  const s = state();
  s.ports[0]!.ips = ['10.9.0.5'];
  assert.match(checkHostNetworkState(s).join(), /outside/);
  const t = state();
  t.ports[0]!.tap = 'nt00000000';
  assert.match(checkHostNetworkState(t).join(), /tap must be/);
});

test('address helpers agree with each other', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 32 }), (n, p) => {
      assert.equal(ipToInt(intToIp(n)), n);
      const mask = p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0;
      assert.ok(inCidr(intToIp(n), `${intToIp((n & mask) >>> 0)}/${p}`));
    }),
  );
});

test('each network gets its own names; the gateway MAC is the same on every host', () => {
  const a = netNames(100, '10.77.0.1');
  const b = netNames(100, '10.77.0.2');
  assert.equal(a.gwMac, b.gwMac);
  assert.equal(a.gwMac, '02:6e:62:00:00:64');
  assert.notEqual(a.ns, b.ns);
  assert.notEqual(netNames(101, '10.77.0.1').bridge, a.bridge);
});

test('the rules: port security, a chain per port, the router kept off the VXLAN', () => {
  const s = state();
  const r = hostRuleset(s.networks, s.ports, '10.77.0.1');
  assert.match(r, /ether saddr != 02:00:00:00:00:01 drop/);
  assert.match(r, /ip saddr \{ 10\.0\.0\.5 \} return/);
  assert.match(r, /ip saddr \{ 0\.0\.0\.0\/0 \} meta l4proto tcp tcp dport 22-22 accept/);
  assert.match(r, /oifname "nx64" ether saddr 02:6e:62:00:00:64 drop/);
  assert.match(r, /oifname "nx64" arp daddr ip 10\.0\.0\.1 drop/);
});

test('metadata answers only the port it was made for', () => {
  const p = state().ports[0]!;
  const a = metadataAnswers(p);
  assert.equal(a['/latest/meta-data/instance-id'], 'vm1');
  assert.equal(a['/latest/meta-data/public-keys/0/openssh-key'], 'ssh-ed25519 AAA');
  assert.equal(JSON.parse(a['/openstack/latest/meta_data.json']!).uuid, 'vm1');
  assert.equal(a['/latest/user-data'], undefined);
  assert.deepEqual(Object.keys(metadataFile([p])), ['10.0.0.5']);
});

test('dnsmasq: static leases only; without a gateway, a route to the metadata service instead of a router', () => {
  const n = state().networks[0]!;
  const c = dnsmasqConf(n, '/x');
  assert.match(c, /^dhcp-range=10\.0\.0\.0,static,255\.255\.255\.0,12h$/m);
  assert.match(c, /^dhcp-option=option:router,10\.0\.0\.1$/m);
  assert.match(c, /^dhcp-option=option:mtu,1450$/m);
  const iso = dnsmasqConf({ ...n, gatewayIp: null }, '/x');
  assert.match(iso, /^dhcp-option=option:router$/m);
  assert.match(iso, /classless-static-route,169\.254\.169\.254\/32,10\.0\.0\.254$/m);
});
