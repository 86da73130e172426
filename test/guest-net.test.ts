// The tiny guest's networking (guest/net.sh) on real QEMU under TCG with user networking: DHCP, the
// metadata service (EC2 and OpenStack paths), SSH with the given key only, echo on 7, httpd on 80,
// user data, the failure line without a NIC, and the root shell on the serial console; and on a tap in
// a network namespace with dnsmasq: the DHCP MTU, classless static routes, DNS, and metadata at
// 169.254.169.254 reached through such a route.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { waitForSerial } from './helpers/guest.ts';
import {
  bootNetGuest,
  metadataServer,
  netGuest,
  ssh,
  sshKey,
  tcpRoundTrip,
  type NetGuest,
} from './helpers/guest-net.ts';

const g = netGuest();
const skip = typeof g === 'string' ? g : undefined;
const keys = mkdtempSync(join(tmpdir(), 'nubis-gnet-keys-'));
const cleanups: (() => Promise<void> | void)[] = [() => rmSync(keys, { recursive: true, force: true })];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});
const READY = /nubis-net-(ready|failed) ?(\S*)/;
const BOOT_MS = 180_000;

async function boot(append: string, guestPorts: number[]): Promise<{ vm: NetGuest; ip: string }> {
  const vm = await bootNetGuest(g as Exclude<typeof g, string>, { append, guestPorts });
  cleanups.push(vm.stop);
  const log = await waitForSerial(vm.serialLog, (l) => READY.test(l), BOOT_MS);
  const m = READY.exec(log)!;
  assert.equal(m[1], 'ready', `the guest's network came up (serial: ${m[0]})`);
  return { vm, ip: m[2]! };
}

/** Retry SSH a few times: dropbear is up when the guest says ready, but TCG guests are slow. */
async function sshOk(port: number, key: string, cmd: string) {
  let r = await ssh(port, key, cmd);
  for (let i = 0; i < 3 && r.code !== 0 && !/Permission denied/.test(r.stderr); i++)
    r = await ssh(port, key, cmd);
  return r;
}

test(
  'EC2 metadata: DHCP address, hostname, SSH with the key only, echo, httpd and user data',
  { skip },
  async (t) => {
    const good = sshKey(keys, 'good'),
      wrong = sshKey(keys, 'wrong');
    const md = await metadataServer({
      '/latest/meta-data/instance-id': 'i-0001',
      '/latest/meta-data/hostname': 'web-1.nubis.internal',
      '/latest/meta-data/public-keys/': '0=good',
      '/latest/meta-data/public-keys/0/openssh-key': `${good.publicKey}\n`,
      '/latest/user-data': '#!/bin/sh\necho "user data ran as $(id -u)" > /www/user-data.txt\n',
    });
    cleanups.push(() => new Promise<void>((r) => md.server.close(() => r())));
    const started = performance.now(); // reported, never asserted
    const { vm, ip } = await boot(`nubis.net=1 nubis.metadata=http://10.0.2.2:${md.port}`, [22, 7, 80]);
    const ready = performance.now();
    assert.equal(ip, '10.0.2.15', 'the address from QEMU user networking’s DHCP server');

    const r = await sshOk(
      vm.ports[22]!,
      good.path,
      'hostname; stat -c %a /root/.ssh/authorized_keys; ip route',
    );
    const sshed = performance.now();
    t.diagnostic(
      `TCG boot to nubis-net-ready ${((ready - started) / 1000).toFixed(1)} s, to a first SSH command ${((sshed - started) / 1000).toFixed(1)} s`,
    );
    assert.equal(r.code, 0, `ssh with the key works: ${r.stderr}`);
    const [host, mode, ...routes] = r.stdout.trim().split('\n');
    assert.equal(host, 'web-1', 'the hostname comes from the metadata');
    assert.equal(mode, '600');
    assert.ok(
      routes.some((l) => l.startsWith('default via 10.0.2.2')),
      `default route: ${routes.join('; ')}`,
    );

    const bad = await ssh(vm.ports[22]!, wrong.path, 'hostname');
    assert.notEqual(bad.code, 0, 'a key that is not in the metadata is refused');
    assert.match(bad.stderr, /Permission denied \(publickey\)/);

    const text = `echo ${'x'.repeat(3000)} end\n`;
    assert.equal(await tcpRoundTrip(vm.ports[7]!, text), text, 'port 7 echoes');

    const index = await fetch(`http://127.0.0.1:${vm.ports[80]}/index.html`);
    assert.equal((await index.text()).trim(), 'web-1', 'httpd serves the hostname');

    await waitForSerial(vm.serialLog, (l) => l.includes('nubis-userdata-done'), 60_000);
    const ud = await fetch(`http://127.0.0.1:${vm.ports[80]}/user-data.txt`);
    assert.equal((await ud.text()).trim(), 'user data ran as 0', 'the user-data script ran once, as root');
    const log = await waitForSerial(vm.serialLog, () => true);
    assert.equal(log.match(/nubis-userdata-done/g)?.length, 1);
    assert.match(log, /nubis-userdata-done 0/);
  },
);

const OTHER = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA other@x';

test('OpenStack metadata (no EC2 paths): public_keys from meta_data.json, SSH works', { skip }, async () => {
  const key = sshKey(keys, 'os');
  const md = await metadataServer({
    '/openstack/latest/meta_data.json': JSON.stringify(
      {
        uuid: 'c0ffee00-0000-4000-8000-000000000001',
        name: 'db-2',
        hostname: 'db-2.novalocal',
        public_keys: {
          os: `${key.publicKey}\n`, // Nova's keys end with a newline
          other: OTHER,
        },
      },
      null,
      2,
    ),
    '/openstack/latest/user_data': 'not a script: left alone',
  });
  cleanups.push(() => new Promise<void>((r) => md.server.close(() => r())));
  const { vm } = await boot(`nubis.net=1 nubis.metadata=http://10.0.2.2:${md.port}`, [22]);
  const r = await sshOk(vm.ports[22]!, key.path, 'hostname; cat /root/.ssh/authorized_keys');
  assert.equal(r.code, 0, `ssh with the key works: ${r.stderr}`);
  const [host, ...authorized] = r.stdout.trim().split('\n');
  assert.equal(host, 'db-2');
  assert.deepEqual(authorized, [key.publicKey, OTHER], 'both keys, without JSON escapes');
  const log = await waitForSerial(vm.serialLog, () => true);
  assert.doesNotMatch(log, /nubis-userdata-done/, 'user data that is not a script is not run');
});

test('without a NIC the guest says why, and the serial console gives a root shell', { skip }, async () => {
  const vm = await bootNetGuest(g as Exclude<typeof g, string>, { append: 'nubis.net=1', net: false });
  cleanups.push(vm.stop);
  const log = await waitForSerial(vm.serialLog, (l) => /nubis-net-failed/.test(l), BOOT_MS);
  assert.match(log, /^nubis-ready /m, 'the workload and nubis-ready are there as without networking');
  assert.match(log, /nubis-net-failed no eth0/);
  const c = createConnection(vm.serialSocket);
  await new Promise((r) => c.once('connect', r));
  try {
    // The shell is silent until Enter; then it runs commands as root; `exit` gives a fresh one.
    c.write('\n');
    await new Promise((r) => setTimeout(r, 1000));
    c.write('exit\n');
    await new Promise((r) => setTimeout(r, 2500));
    c.write('\n');
    await new Promise((r) => setTimeout(r, 1000));
    c.write('echo console-$((6*7))-$(id -u)\n');
    await waitForSerial(vm.serialLog, (l) => l.includes('console-42-0'), 60_000);
  } finally {
    c.destroy();
  }
});

const canNetns = process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list']).status === 0;
const hasDnsmasq = spawnSync('dnsmasq', ['--version']).status === 0;
const nsSkip =
  skip ??
  (canNetns ? undefined : 'network namespaces need root and iproute2') ??
  (hasDnsmasq ? undefined : 'dnsmasq is not installed (dnsmasq-base)');
if (nsSkip && !skip && process.env.NUBIS_REQUIRE_QEMU === '1')
  throw new Error(`QEMU network tests required but ${nsSkip}`);

test(
  'on a tap with dnsmasq: DHCP MTU, classless static routes and DNS; metadata at 169.254.169.254 via a route',
  { skip: nsSkip },
  async () => {
    const ns = `ngn${process.pid % 100000}`;
    const dir = mkdtempSync(join(tmpdir(), 'nubis-gnet-ns-'));
    const key = sshKey(keys, 'ns');
    const md = join(dir, 'md/latest/meta-data');
    mkdirSync(join(md, 'public-keys/0'), { recursive: true });
    writeFileSync(join(md, 'instance-id'), 'i-0002\n');
    writeFileSync(join(md, 'hostname'), 'tap-1\n');
    writeFileSync(join(md, 'public-keys/index.html'), '0=ns\n'); // httpd serves a folder's index.html
    writeFileSync(join(md, 'public-keys/0/openssh-key'), `${key.publicKey}\n`);
    const sh = (script: string) => spawnSync('bash', ['-ec', script], { encoding: 'utf8' });
    cleanups.push(() => {
      sh(`ip netns del ${ns} 2>/dev/null || true`);
      rmSync(dir, { recursive: true, force: true });
    });
    const up = sh(`ip netns add ${ns}
      ip -n ${ns} link set lo up
      ip -n ${ns} addr add 169.254.169.254/32 dev lo
      ip -n ${ns} tuntap add tap0 mode tap
      ip -n ${ns} addr add 192.168.77.1/24 dev tap0
      ip -n ${ns} link set tap0 up`);
    assert.equal(up.status, 0, up.stderr);
    const daemons = [
      ['busybox', 'httpd', '-f', '-p', '169.254.169.254:80', '-h', join(dir, 'md')],
      [
        ...['dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--port=0', '--user=root'],
        ...['--interface=tap0', '--bind-interfaces', `--dhcp-leasefile=${join(dir, 'leases')}`],
        '--dhcp-range=192.168.77.10,192.168.77.20,255.255.255.0,1h',
        ...['--dhcp-option=26,1400', '--dhcp-option=6,192.168.77.53', '--dhcp-option=15,nubis.test'],
        '--dhcp-option=121,169.254.169.254/32,192.168.77.1,0.0.0.0/0,192.168.77.1',
      ],
    ].map((argv) => spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: 'ignore' }));
    cleanups.push(() => {
      for (const d of daemons) d.kill('SIGKILL');
    });
    const vm = await bootNetGuest(g as Exclude<typeof g, string>, {
      append: 'nubis.net=1',
      tap: 'tap0',
      netns: ns,
    });
    cleanups.push(vm.stop);
    const log = await waitForSerial(vm.serialLog, (l) => READY.test(l), BOOT_MS);
    const m = READY.exec(log)!;
    assert.equal(m[1], 'ready', `the guest's network came up (serial: ${m[0]})`);
    assert.match(m[2]!, /^192\.168\.77\.(1\d|20)$/, 'an address from the DHCP range');

    const cmd = 'hostname; cat /sys/class/net/eth0/mtu; cat /etc/resolv.conf; ip route';
    let r = await ssh(22, key.path, cmd, { host: m[2]!, netns: ns });
    for (let i = 0; i < 3 && r.code !== 0 && !/Permission denied/.test(r.stderr); i++)
      r = await ssh(22, key.path, cmd, { host: m[2]!, netns: ns });
    assert.equal(r.code, 0, `ssh with the key works: ${r.stderr}`);
    const out = r.stdout.split('\n').map((l) => l.trim());
    assert.equal(out[0], 'tap-1', 'the hostname from the metadata at 169.254.169.254');
    assert.equal(out[1], '1400', 'the MTU from DHCP option 26');
    assert.ok(out.includes('search nubis.test') && out.includes('nameserver 192.168.77.53'), out.join('; '));
    assert.ok(
      out.some((l) => /^169\.254\.169\.254 via 192\.168\.77\.1 dev eth0/.test(l)),
      `the classless static route: ${out.join('; ')}`,
    );
    assert.ok(
      out.some((l) => /^default via 192\.168\.77\.1 dev eth0/.test(l)),
      `the default route from option 121: ${out.join('; ')}`,
    );
  },
);
