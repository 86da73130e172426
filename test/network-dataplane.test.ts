/**
 * The data plane on two hosts (network namespaces), driven directly with HostNetworkState: "fake VMs"
 * (a veth whose host end carries the port's tap name, its other end in a namespace of its own) get
 * their DHCP address, reach each other across hosts over VXLAN, never see the other tenant's (same
 * CIDR), get metadata about themselves only, are opened and closed by security rules, and are reached
 * from outside through their floating IP.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type {
  HostNetworkState,
  NetworkPlumbing,
  PortPlumbing,
  PortRule,
} from '../src/core/network/host-network.ts';
import { netSkip, nsx, port, sh, startHosts, type TestHosts } from './helpers/net-hosts.ts';

const skip = netSkip();
const P = `nbd${process.pid % 10000}`;
let h: TestHosts;
const vms: string[] = [];
const procs: ChildProcess[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'nubis-dp-'));

const net = (id: string, vni: number, peer: string): NetworkPlumbing => ({
  id,
  vni,
  kind: 'tenant',
  cidr: '10.20.0.0/24',
  gatewayIp: '10.20.0.1',
  dhcp: true,
  dnsServers: ['10.20.0.1'],
  mtu: 1450,
  peers: [peer],
});
const web: PortRule = {
  direction: 'ingress',
  protocol: 'tcp',
  portMin: 80,
  portMax: 80,
  remoteCidrs: ['0.0.0.0/0'],
};
// Tenants A and B use the same subnet and the same addresses, on both hosts.
const ports = {
  a1: port('a1', 'netA', '02:00:00:0a:00:01', '10.20.0.11', { floatingIp: '10.77.0.101' }),
  a2: port('a2', 'netA', '02:00:00:0a:00:02', '10.20.0.12'),
  b1: port('b1', 'netB', '02:00:00:0b:00:01', '10.20.0.11'),
  b2: port('b2', 'netB', '02:00:00:0b:00:02', '10.20.0.12'),
};
ports.a1.rules.push(web);
ports.a2.rules.push(web);
ports.b2.rules.push(web);
let rev = 1;
const stateA = (a1: PortPlumbing = ports.a1): HostNetworkState => ({
  revision: rev,
  networks: [net('netA', 100, '10.77.0.2'), net('netB', 200, '10.77.0.2')],
  ports: [a1, ports.b1],
});
const stateB = (a2: PortPlumbing = ports.a2): HostNetworkState => ({
  revision: rev,
  networks: [net('netA', 100, '10.77.0.1'), net('netB', 200, '10.77.0.1')],
  ports: [a2, ports.b2],
});
const vmNs = (k: string) => `${P}-vm-${k}`;

/** A fake VM: a namespace with eth0 (the port's MAC), whose peer is the port's tap on the host. */
function fakeVm(k: keyof typeof ports, hostNs: string): void {
  const p = ports[k];
  const ns = vmNs(k);
  sh(['ip', 'netns', 'add', ns]);
  vms.push(ns);
  nsx(ns, ['sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  assert.equal(
    sh(['ip', '-n', hostNs, 'link', 'add', p.tap, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]).code,
    0,
  );
  sh(['ip', '-n', ns, 'link', 'set', 'eth0', 'address', p.mac, 'up']);
  sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  const www = join(tmp, k);
  mkdirSync(www, { recursive: true });
  writeFileSync(join(www, 'index.html'), `hello from ${k}\n`);
  const httpd = spawn('ip', ['netns', 'exec', ns, 'busybox', 'httpd', '-f', '-p', '80', '-h', www], {
    stdio: 'ignore',
  });
  procs.push(httpd);
}

/** The guest's DHCP client: the address, prefix, router and MTU it was given. */
function dhcp(k: string): string {
  const script = join(tmp, 'udhcpc.sh');
  writeFileSync(
    script,
    '#!/bin/sh\n[ "$1" = bound ] || exit 0\nip addr add "$ip/$mask" dev "$interface"\nip route add default via "$router"\necho "lease $ip/$mask router $router mtu $mtu"\n',
    { mode: 0o755 },
  );
  return nsx(
    vmNs(k),
    ['busybox', 'udhcpc', '-i', 'eth0', '-n', '-q', '-f', '-t', '6', '-T', '1', '-O', 'mtu', '-s', script],
    20_000,
  ).out;
}

const get = (k: string, url: string) =>
  nsx(vmNs(k), ['curl', '-s', '--noproxy', '*', '-m', '2', url], 10_000);
const ping = (ns: string, ip: string) => nsx(ns, ['busybox', 'ping', '-c', '1', '-W', '1', ip]).code === 0;

before(async () => {
  if (skip) return;
  h = await startHosts(P);
  fakeVm('a1', h.a.ns);
  fakeVm('b1', h.a.ns);
  fakeVm('a2', h.b.ns);
  fakeVm('b2', h.b.ns);
  // The floating IP is active only on the host that runs the guest.
  mkdirSync(join(h.a.state, 'guests/vm-a1'), { recursive: true });
  writeFileSync(join(h.a.state, 'guests/vm-a1/desired'), 'running');
});

after(async () => {
  for (const p of procs) p.kill('SIGKILL');
  if (h) await h.cleanup();
  for (const ns of vms) sh(['ip', 'netns', 'del', ns]);
  rmSync(tmp, { recursive: true, force: true });
});

test('agents converge, and a bad state is refused before anything is touched', { skip }, async () => {
  const bad = stateA();
  const r = await h.put('a', { ...bad, ports: [{ ...bad.ports[0]!, tap: 'x;rm -rf /' }] });
  assert.equal(r.status, 400);
  const r2 = await h.put('a', { ...bad, ports: [{ ...bad.ports[0]!, ips: ['10.99.0.5'] }] });
  assert.equal(r2.status, 400);
  assert.match(JSON.stringify(r2.body), /outside 10\.20\.0\.0\/24/);
  assert.deepEqual((await h.put('a', stateA())).body, { applied: true, revision: 1 });
  assert.deepEqual((await h.put('b', stateB())).body, { applied: true, revision: 1 });
  // Idempotent: the same state again changes nothing and fails nothing.
  assert.equal((await h.put('b', stateB())).status, 200);
  // An older revision is ignored.
  rev = 2;
  assert.equal((await h.put('b', stateB())).status, 200);
  rev = 1;
  assert.deepEqual((await h.put('b', stateB())).body, { applied: false, revision: 2 });
  rev = 3;
});

test('each VM gets its DHCP address; the same tenant reaches across hosts', { skip }, async () => {
  for (const [k, ip] of [
    ['a1', '10.20.0.11'],
    ['a2', '10.20.0.12'],
    ['b1', '10.20.0.11'],
    ['b2', '10.20.0.12'],
  ] as const)
    assert.match(
      dhcp(k),
      new RegExp(`lease ${ip.replace(/\./g, '\\.')}/24 router 10\\.20\\.0\\.1 mtu 1450`),
      k,
    );
  assert.ok(ping(vmNs('a1'), '10.20.0.12'), 'a1 pings a2 on the other host');
  assert.ok(ping(vmNs('b2'), '10.20.0.11'), 'b2 pings b1 on the other host');
  assert.equal(get('a1', 'http://10.20.0.12/').out, 'hello from a2\n');
  assert.equal(get('b1', 'http://10.20.0.12/').out, 'hello from b2\n');
  assert.ok(ping(vmNs('a1'), '10.20.0.1'), 'the gateway answers');
});

test('nothing of tenant B is reachable from tenant A (L2, ARP, L3), nor the reverse', { skip }, async () => {
  // Same addresses: each VM reaches its own tenant's peer, whose MAC its ARP table holds.
  ping(vmNs('a1'), '10.20.0.12');
  assert.match(nsx(vmNs('a1'), ['ip', 'neigh', 'show', '10.20.0.12']).out, /02:00:00:0a:00:02/);
  ping(vmNs('b1'), '10.20.0.12');
  assert.match(nsx(vmNs('b1'), ['ip', 'neigh', 'show', '10.20.0.12']).out, /02:00:00:0b:00:02/);
  // Every frame a tenant's VM receives is counted by the sender's MAC (a netdev ingress hook).
  const macs = { a: [ports.a1.mac, ports.a2.mac], b: [ports.b1.mac, ports.b2.mac] };
  for (const [k, other] of [
    ['a1', 'b'],
    ['a2', 'b'],
    ['b1', 'a'],
    ['b2', 'a'],
  ] as const)
    assert.equal(
      sh([
        'ip',
        'netns',
        'exec',
        vmNs(k),
        'nft',
        `add table netdev leak; add chain netdev leak in { type filter hook ingress device eth0 priority 0; }; add rule netdev leak in ether saddr { ${macs[other].join(', ')} } counter`,
      ]).code,
      0,
    );
  // Broadcast ARP, for the other tenant's addresses too, and frames sent straight to its MACs.
  for (const [k, other] of [
    ['a1', 'b'],
    ['a2', 'b'],
    ['b1', 'a'],
    ['b2', 'a'],
  ] as const) {
    nsx(vmNs(k), ['busybox', 'arping', '-c', '3', '-w', '1', '-I', 'eth0', '10.20.0.11']);
    nsx(vmNs(k), ['busybox', 'arping', '-c', '3', '-w', '1', '-I', 'eth0', '10.20.0.12']);
    nsx(vmNs(k), ['ip', 'neigh', 'replace', '10.20.0.77', 'lladdr', macs[other][0]!, 'dev', 'eth0']);
    nsx(vmNs(k), ['ip', 'neigh', 'replace', '10.20.0.78', 'lladdr', macs[other][1]!, 'dev', 'eth0']);
    assert.ok(!ping(vmNs(k), '10.20.0.77'));
    assert.ok(!ping(vmNs(k), '10.20.0.78'));
    nsx(vmNs(k), ['ip', 'neigh', 'del', '10.20.0.77', 'dev', 'eth0']);
    nsx(vmNs(k), ['ip', 'neigh', 'del', '10.20.0.78', 'dev', 'eth0']);
  }
  for (const k of ['a1', 'a2', 'b1', 'b2']) {
    const t = nsx(vmNs(k), ['nft', 'list', 'table', 'netdev', 'leak']).out;
    assert.match(t, /counter packets 0 bytes 0/, `${k} received frames from the other tenant:\n${t}`);
    nsx(vmNs(k), ['nft', 'delete', 'table', 'netdev', 'leak']);
  }
});

test('the metadata service answers a VM about itself only', { skip }, async () => {
  assert.equal(get('a1', 'http://169.254.169.254/latest/meta-data/instance-id').out, 'vm-a1');
  assert.equal(get('b1', 'http://169.254.169.254/latest/meta-data/instance-id').out, 'vm-b1');
  const os = JSON.parse(get('a2', 'http://169.254.169.254/openstack/latest/meta_data.json').out);
  assert.equal(os.uuid, 'vm-a2');
  assert.deepEqual(os.public_keys, { k1: 'ssh-ed25519 AAAAa2 test' });
  assert.equal(
    get('a2', 'http://169.254.169.254/latest/meta-data/public-keys/0/openssh-key').out,
    'ssh-ed25519 AAAAa2 test',
  );
  assert.equal(get('a2', 'http://169.254.169.254/latest/user-data').out, '#!/bin/sh\necho a2\n');
  // a1 pretends to be a2 (on a2's address): port security drops it, nothing comes back.
  const vm = vmNs('a1');
  nsx(vm, ['ip', 'addr', 'flush', 'dev', 'eth0']);
  nsx(vm, ['ip', 'addr', 'add', '10.20.0.12/24', 'dev', 'eth0']);
  nsx(vm, ['ip', 'route', 'add', 'default', 'via', '10.20.0.1']);
  const spoofed = get('a1', 'http://169.254.169.254/latest/meta-data/instance-id');
  assert.notEqual(spoofed.code, 0);
  assert.doesNotMatch(spoofed.out, /vm-a2/);
  nsx(vm, ['ip', 'addr', 'flush', 'dev', 'eth0']);
  nsx(vm, ['ip', 'addr', 'add', '10.20.0.11/24', 'dev', 'eth0']);
  nsx(vm, ['ip', 'route', 'add', 'default', 'via', '10.20.0.1']);
  assert.equal(get('a1', 'http://169.254.169.254/latest/meta-data/instance-id').out, 'vm-a1');
});

test('a security rule removed closes a port, added opens it again', { skip }, async () => {
  assert.equal(get('a1', 'http://10.20.0.12/').code, 0);
  const closed = { ...ports.a2, rules: ports.a2.rules.filter((r) => r !== web) };
  rev++;
  assert.equal((await h.put('b', stateB(closed))).status, 200);
  assert.notEqual(get('a1', 'http://10.20.0.12/').code, 0);
  assert.ok(ping(vmNs('a1'), '10.20.0.12'), 'ICMP is still allowed');
  rev++;
  assert.equal((await h.put('b', stateB())).status, 200);
  assert.equal(get('a1', 'http://10.20.0.12/').out, 'hello from a2\n');
});

test('what drifted or died is repaired by the next PUT of the same state', { skip }, async () => {
  // A VXLAN device deleted, a tap's bridge link cut, the host's rules flushed, dnsmasq killed.
  sh(['ip', '-n', h.a.ns, 'link', 'del', 'nx64']);
  sh(['ip', '-n', h.a.ns, 'link', 'set', ports.b1.tap, 'nomaster']);
  nsx(h.a.ns, ['nft', 'flush', 'table', 'inet', 'nubis']);
  const pid = Number(readFileSync(join(h.a.state, 'network/64/dnsmasq.pid'), 'utf8'));
  process.kill(pid, 'SIGKILL');
  assert.ok(!ping(vmNs('a1'), '10.20.0.12'));
  assert.equal((await h.put('a', stateA())).status, 200);
  assert.ok(ping(vmNs('a1'), '10.20.0.12'), 'across hosts again');
  assert.ok(ping(vmNs('b1'), '10.20.0.1'), "b1's tap is bridged again");
  assert.notEqual(Number(readFileSync(join(h.a.state, 'network/64/dnsmasq.pid'), 'utf8')), pid);
  nsx(vmNs('a1'), ['ip', 'addr', 'flush', 'dev', 'eth0']);
  assert.match(dhcp('a1'), /lease 10\.20\.0\.11\/24/);
  assert.match(nsx(h.a.ns, ['nft', 'list', 'table', 'inet', 'nubis']).out, /chain eg_1/);
});

test('a floating IP reaches its VM from outside; a VM without one does not get out', { skip }, async () => {
  const r = sh(['curl', '-s', '--noproxy', '*', '-m', '3', 'http://10.77.0.101/'], 10_000);
  assert.equal(r.out, 'hello from a1\n');
  assert.equal(sh(['busybox', 'ping', '-c', '1', '-W', '2', '10.77.0.101']).code, 0);
  // The VM's outgoing traffic leaves with the floating IP.
  assert.equal(nsx(vmNs('a1'), ['busybox', 'ping', '-c', '1', '-W', '2', '10.77.0.254']).code, 0);
  assert.notEqual(nsx(vmNs('a2'), ['busybox', 'ping', '-c', '1', '-W', '1', '10.77.0.254']).code, 0);
  // Nothing in a network's namespace reaches the host's own services (the agent).
  assert.notEqual(get('a1', 'http://10.77.0.1:7070/v1/health').code, 0);
  // The floating IP removed: unreachable.
  rev++;
  assert.equal((await h.put('a', stateA({ ...ports.a1, floatingIp: null }))).status, 200);
  assert.notEqual(sh(['curl', '-s', '--noproxy', '*', '-m', '2', 'http://10.77.0.101/'], 10_000).code, 0);
});
