// The tiny guest's networking (guest/net.sh) on real QEMU under TCG with user networking: DHCP, the
// metadata service (EC2 and OpenStack paths), SSH with the given key only, echo on 7, httpd on 80,
// user data, the failure line without a NIC, and the root shell on the serial console.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
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
  async () => {
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
    const { vm, ip } = await boot(`nubis.net=1 nubis.metadata=http://10.0.2.2:${md.port}`, [22, 7, 80]);
    assert.equal(ip, '10.0.2.15', 'the address from QEMU user networking’s DHCP server');

    const r = await sshOk(
      vm.ports[22]!,
      good.path,
      'hostname; stat -c %a /root/.ssh/authorized_keys; ip route',
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

test('OpenStack metadata (no EC2 paths): public_keys from meta_data.json, SSH works', { skip }, async () => {
  const key = sshKey(keys, 'os');
  const md = await metadataServer({
    '/openstack/latest/meta_data.json': JSON.stringify(
      {
        uuid: 'c0ffee00-0000-4000-8000-000000000001',
        name: 'db-2',
        hostname: 'db-2.novalocal',
        public_keys: {
          os: key.publicKey,
          other: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA x',
        },
      },
      null,
      2,
    ),
    '/openstack/latest/user_data': 'not a script: left alone',
  });
  cleanups.push(() => new Promise<void>((r) => md.server.close(() => r())));
  const { vm } = await boot(`nubis.net=1 nubis.metadata=http://10.0.2.2:${md.port}`, [22]);
  const r = await sshOk(vm.ports[22]!, key.path, 'hostname; wc -l < /root/.ssh/authorized_keys');
  assert.equal(r.code, 0, `ssh with the key works: ${r.stderr}`);
  assert.deepEqual(r.stdout.trim().split('\n'), ['db-2', '2']);
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
