/**
 * The data plane with real guests (QEMU, TCG) on two hosts (network namespaces): tiny guests with
 * networking get their DHCP address and their SSH key from the metadata service, reach each other
 * across hosts, are reached through their floating IPs from outside, and a TCP stream to a floating IP
 * survives a live migration of its guest with nothing lost or reordered.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { HostNetworkState, NetworkPlumbing, PortRule } from '../src/core/network/host-network.ts';
import { waitForSerial } from './helpers/guest.ts';
import { netGuest, ssh, sshKey } from './helpers/guest-net.ts';
import { netSkip, port, sh, startHosts, type TestHosts } from './helpers/net-hosts.ts';

const g = netGuest();
const skip = typeof g === 'string' ? g : netSkip();
const P = `nbq${process.pid % 10000}`;
let h: TestHosts;
const tmp = mkdtempSync(join(tmpdir(), 'nubis-dpq-'));
let key: { path: string; publicKey: string };

const net = (id: string, vni: number, peers: string[]): NetworkPlumbing => ({
  id,
  vni,
  kind: 'tenant',
  cidr: '10.30.0.0/24',
  gatewayIp: '10.30.0.1',
  dhcp: true,
  dnsServers: [],
  mtu: 1450,
  peers,
});
const open = (p: number): PortRule => ({
  direction: 'ingress',
  protocol: 'tcp',
  portMin: p,
  portMax: p,
  remoteCidrs: ['0.0.0.0/0'],
});
const qport = (k: string, mac: string, ip: string, fip: string, netId = 'netQ') => {
  const p = port(k, netId, mac, ip, { floatingIp: fip });
  p.rules.push(open(22), open(7), open(80));
  p.metadata.publicKeys = { test: key.publicKey };
  return p;
};
let rev = 10;
const state = (ports: ReturnType<typeof qport>[], networks: NetworkPlumbing[]): HostNetworkState => ({
  revision: rev,
  networks,
  ports,
});
const curl = (url: string) => sh(['curl', '-s', '--noproxy', '*', '-m', '3', url], 10_000);

async function boot(host: 'a' | 'b', p: ReturnType<typeof qport>): Promise<string> {
  const t = g as Exclude<typeof g, string>;
  const spec = {
    id: p.guestId,
    memoryMiB: 192,
    vcpus: 1,
    image: { kernel: t.kernel, initrd: t.initrd, append: 'nubis.net=1' },
    nics: [{ portId: p.id, mac: p.mac, tap: p.tap }],
  };
  assert.equal((await h.call(host, 'POST', '/v1/guests', spec)).status, 201);
  assert.equal((await h.call(host, 'POST', `/v1/guests/${p.guestId}/start`, {})).status, 200);
  const log = await waitForSerial(
    join(h[host].state, `guests/${p.guestId}/serial.log`),
    (l) => /nubis-net-ready \S+/.test(l),
    120_000,
  );
  return /nubis-net-ready (\S+)/.exec(log)![1]!;
}

before(async () => {
  if (skip) return;
  key = sshKey(tmp, 'dp');
  h = await startHosts(P);
});

after(async () => {
  if (h) await h.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

test(
  'real guests: DHCP, metadata keys, across hosts, floating IPs; a TCP stream survives a migration',
  { skip, timeout: 600_000 },
  async () => {
    const q1 = qport('q1', '02:00:00:0c:00:01', '10.30.0.11', '10.77.0.111');
    const q2 = qport('q2', '02:00:00:0c:00:02', '10.30.0.12', '10.77.0.112');
    // Another tenant with the same subnet, on host a, with q2's address.
    const z1 = qport('z1', '02:00:00:0d:00:01', '10.30.0.12', '10.77.0.113', 'netZ');
    const netZ = net('netZ', 301, []);
    assert.equal((await h.put('a', state([q1, z1], [net('netQ', 300, ['10.77.0.2']), netZ]))).status, 200);
    assert.equal((await h.put('b', state([q2], [net('netQ', 300, ['10.77.0.1'])]))).status, 200);
    const [ip1, ip2, ipz] = await Promise.all([boot('a', q1), boot('b', q2), boot('a', z1)]);
    assert.deepEqual([ip1, ip2, ipz], ['10.30.0.11', '10.30.0.12', '10.30.0.12']);
    // SSH through the floating IP from outside, with the key the metadata service gave the guest;
    // q1 reaches q2 on the other host (and learns q2's MAC, not z1's, for the shared address).
    const r = await ssh(
      22,
      key.path,
      'hostname; ping -c 2 -W 2 10.30.0.12 >/dev/null && echo reached; cat /proc/net/arp',
      {
        host: '10.77.0.111',
      },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^host-q1\nreached\n/);
    assert.match(r.stdout, /10\.30\.0\.12 .* 02:00:00:0c:00:02/);
    assert.doesNotMatch(r.stdout, /02:00:00:0d:00:01/);
    // The other tenant reaches nothing of tenant A (q1's address is not there for it).
    const rz = await ssh(
      22,
      key.path,
      'hostname; ping -c 2 -W 2 10.30.0.11 >/dev/null || echo isolated; cat /proc/net/arp',
      {
        host: '10.77.0.113',
      },
    );
    assert.match(rz.stdout, /^host-z1\nisolated\n/, rz.stderr);
    assert.doesNotMatch(rz.stdout, /02:00:00:0c:00/);
    // A security rule removed closes q2's web port; added back, it opens again.
    assert.equal(curl('http://10.77.0.112/').out.trim(), 'host-q2');
    rev++;
    const closed = { ...q2, rules: q2.rules.filter((x) => x.portMin !== 80) };
    assert.equal((await h.put('b', state([closed], [net('netQ', 300, ['10.77.0.1'])]))).status, 200);
    assert.notEqual(curl('http://10.77.0.112/').code, 0);
    rev++;
    assert.equal((await h.put('b', state([q2], [net('netQ', 300, ['10.77.0.1'])]))).status, 200);
    assert.equal(curl('http://10.77.0.112/').out.trim(), 'host-q2');

    // A stream to q1's echo port through its floating IP: a sequence number every 10 ms.
    const sock = createConnection({ host: '10.77.0.111', port: 7 });
    await new Promise<void>((res, rej) => sock.once('connect', res).once('error', rej));
    sock.setNoDelay(true);
    let sent = 0;
    let buf = '';
    const got: number[] = [];
    let last = performance.now();
    let maxGap = 0;
    sock.on('data', (d) => {
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) {
        got.push(Number(l));
        const now = performance.now();
        maxGap = Math.max(maxGap, now - last);
        last = now;
      }
    });
    const timer = setInterval(() => sock.write(`${sent++}\n`), 10);
    await new Promise((res) => setTimeout(res, 1000));
    // The destination gets the port first (its tap exists before the incoming QEMU opens it).
    rev++;
    assert.equal((await h.put('b', state([q1, q2], [net('netQ', 300, ['10.77.0.1'])]))).status, 200);
    // The destination issues a one-time migration ticket for this guest (agent tokens are not passed on).
    const t = await h.call('b', 'POST', '/v1/incoming-tickets', { guestId: q1.guestId });
    assert.equal(t.status, 201, JSON.stringify(t.body));
    const m = await h.call('a', 'POST', `/v1/guests/${q1.guestId}/migrate`, {
      destination: h.b.url,
      destinationTicket: t.body.ticket,
      options: { mode: 'precopy', maxDowntimeMs: 300 },
    });
    assert.equal(m.status, 200, JSON.stringify(m.body));
    rev++;
    assert.equal((await h.put('a', state([z1], [netZ]))).status, 200);
    assert.equal((await h.put('b', state([q1, q2], [net('netQ', 300, [])]))).status, 200);
    await new Promise((res) => setTimeout(res, 2000));
    clearInterval(timer);
    const total = sent;
    for (let i = 0; i < 300 && got.length < total; i++) await new Promise((res) => setTimeout(res, 100));
    sock.destroy();
    process.stdout.write(
      `stream through the floating IP: ${total} numbers sent, ${got.length} echoed, longest gap ${maxGap.toFixed(0)} ms (migration downtime ${m.body.downtimeMs} ms)\n`,
    );
    assert.deepEqual(
      got,
      Array.from({ length: total }, (_, i) => i),
      'every number came back once, in order',
    );
    // The guest runs on host b now, and is still reached through its floating IP.
    const r2 = await ssh(22, key.path, 'hostname', { host: '10.77.0.111' });
    assert.equal(r2.stdout, 'host-q1\n', r2.stderr);
    assert.match(readFileSync(join(h.b.state, `guests/${q1.guestId}/desired`), 'utf8'), /running/);
  },
);
