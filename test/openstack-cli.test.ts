/**
 * The real `openstack` client (Debian's python3-openstackclient 6.0.0) against `nubis serve` on
 * simulated hosts: the script (token, catalog, flavors, images with an upload, network, subnet,
 * security group, key pair, volume, a server's life with attach and a live migration to a named host),
 * each step checked by the client's JSON output and the same state checked through nubis's own CLI (with the
 * Keystone token, which is a nubis token). Skipped without /usr/bin/openstack unless NUBIS_REQUIRE_TEMPEST=1.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { lowerKeys } from '../scripts/openstack/tempest.ts';
import {
  nubisCli,
  OPENSTACK_BIN,
  openstack,
  openstackJson,
  startTestCloud,
  type TestCloud,
} from '../scripts/openstack/test-cloud.ts';

const SKIP =
  existsSync(OPENSTACK_BIN) || process.env.NUBIS_REQUIRE_TEMPEST === '1'
    ? undefined
    : 'the OpenStack client is not installed (apt-get install python3-openstackclient)';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

/** An OpenSSH public key line (ssh-ed25519) made with node's crypto: no ssh-keygen needed. */
function sshPublicKey(): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const field = (b: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    return Buffer.concat([len, b]);
  };
  const blob = Buffer.concat([field(Buffer.from('ssh-ed25519')), field(raw)]);
  return `ssh-ed25519 ${blob.toString('base64')} demo@nubis\n`;
}

describe('the real openstack client against nubis serve', { skip: SKIP }, () => {
  let cloud: TestCloud;
  /** `openstack ARGS -f json` as the demo user (member of project demo). */
  const demo = (...args: string[]): Json => openstackJson(cloud, [...args, '-f', 'json'], 'nubis-demo');
  /** `openstack ARGS -f json` as the admin. */
  const admin = (...args: string[]): Json => openstackJson(cloud, [...args, '-f', 'json'], 'nubis-admin');
  /** A command without output (stop, start, delete...). */
  const demoRun = (...args: string[]) => openstackJson(cloud, args, 'nubis-demo');
  /** nubis's own CLI as the demo user, with its Keystone token. */
  let demoToken = '';
  const nubis = (...args: string[]): Json => {
    demoToken ||= demo('token', 'issue').id;
    return JSON.parse(nubisCli({ env: { ...cloud.env, NUBIS_TOKEN: demoToken } }, [...args, '--json']));
  };
  /** Poll `read` until `done` holds (the client returns at once from stop, start, volume create, attach). */
  async function until<T>(what: string, read: () => T, done: (v: T) => boolean): Promise<T> {
    let v = read();
    for (let i = 0; i < 240 && !done(v); i++) {
      await sleep(500);
      v = read();
    }
    assert.ok(done(v), `${what}: still ${JSON.stringify(v)}`);
    return v;
  }
  const ids: Record<string, string> = {};

  before(async () => {
    cloud = await startTestCloud({ demoHosts: 3 });
  });
  after(async () => {
    await cloud?.stop();
  });

  test('token issue and catalog list: a project-scoped token and the five services', () => {
    const tok = demo('token', 'issue');
    assert.ok(tok.id && tok.project_id && tok.user_id && tok.expires, JSON.stringify(tok));
    demoToken = tok.id;
    assert.equal(
      nubisCli({ env: { ...cloud.env, NUBIS_TOKEN: demoToken } }, ['whoami']).includes('demo'),
      true,
    );
    const catalog = (demo('catalog', 'list') as Json[]).map(lowerKeys);
    const types = catalog.map((c) => c.type).sort();
    for (const t of ['compute', 'identity', 'image', 'network', 'volumev3']) assert.ok(types.includes(t), t);
  });

  test('flavor list and image list show the seeded m1.tiny and tiny, as nubis lists them', () => {
    const flavors = (demo('flavor', 'list') as Json[]).map(lowerKeys);
    assert.ok(flavors.some((f) => f.name === 'm1.tiny'));
    assert.deepEqual(
      flavors.map((f) => f.name).sort(),
      (nubis('flavor', 'list') as Json[]).map((f) => f.name).sort(),
    );
    const images = (demo('image', 'list') as Json[]).map(lowerKeys);
    assert.ok(images.some((i) => i.name === 'tiny' && String(i.status).toLowerCase() === 'active'));
  });

  test('image create --file uploads the data: active with its size, in nubis too', async () => {
    const file = join(cloud.dir, 'disk.raw');
    writeFileSync(file, Buffer.alloc(1 << 20, 7));
    const img = demo(
      'image',
      'create',
      '--disk-format',
      'raw',
      '--container-format',
      'bare',
      '--file',
      file,
      'os-uploaded',
    );
    assert.equal(img.name, 'os-uploaded');
    // The answer is the registration's (queued, as with any Glance); the upload follows it.
    const shown = await until(
      'image os-uploaded',
      () => demo('image', 'show', img.id),
      (i: Json) => i.status === 'active',
    );
    assert.equal(Number(shown.size), 1 << 20);
    ids.image = img.id;
    const mine = (nubis('image', 'list') as Json[]).find((i) => i.id === img.id);
    assert.equal(mine?.name, 'os-uploaded');
    assert.equal(mine?.status, 'active');
  });

  test('network, subnet and security group create and list, in nubis too', () => {
    const net = demo('network', 'create', 'os-net');
    assert.equal(net.name, 'os-net');
    ids.net = net.id;
    const sub = demo(
      'subnet',
      'create',
      '--network',
      'os-net',
      '--subnet-range',
      '10.42.0.0/24',
      'os-subnet',
    );
    assert.equal(sub.cidr, '10.42.0.0/24');
    assert.equal(sub.network_id, net.id);
    const sg = demo('security', 'group', 'create', 'os-sg');
    assert.equal(sg.name, 'os-sg');
    ids.sg = sg.id;
    assert.ok((demo('network', 'list') as Json[]).map(lowerKeys).some((n) => n.id === net.id));
    assert.ok((demo('subnet', 'list') as Json[]).map(lowerKeys).some((s) => s.id === sub.id));
    assert.ok((demo('security', 'group', 'list') as Json[]).map(lowerKeys).some((g) => g.id === sg.id));
    assert.ok((nubis('network', 'list') as Json[]).some((n) => n.id === net.id && n.name === 'os-net'));
    assert.ok((nubis('security-group', 'list') as Json[]).some((g) => g.id === sg.id));
  });

  test('keypair create --public-key: its fingerprint, listed, in nubis too', () => {
    const file = join(cloud.dir, 'id.pub');
    writeFileSync(file, sshPublicKey());
    const kp = demo('keypair', 'create', '--public-key', file, 'os-key');
    assert.equal(kp.name, 'os-key');
    assert.match(String(kp.fingerprint), /^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
    assert.ok((demo('keypair', 'list') as Json[]).map(lowerKeys).some((k) => k.name === 'os-key'));
    assert.ok((nubis('keypair', 'list') as Json[]).some((k) => k.name === 'os-key'));
  });

  test('volume create: available, 1 GiB, listed, in nubis too', async () => {
    const vol = demo('volume', 'create', '--size', '1', 'os-vol');
    assert.equal(vol.name, 'os-vol');
    assert.equal(Number(vol.size), 1);
    ids.vol = vol.id;
    await until(
      'volume os-vol',
      () => demo('volume', 'show', vol.id).status,
      (s) => s === 'available',
    );
    assert.ok((demo('volume', 'list') as Json[]).map(lowerKeys).some((v) => v.id === vol.id));
    assert.equal((nubis('volume', 'list') as Json[]).find((v) => v.id === vol.id)?.state, 'available');
  });

  test('server create --wait with network, key and security group: ACTIVE, running in nubis', () => {
    const s = demo(
      'server',
      'create',
      '--flavor',
      'm1.tiny',
      '--image',
      'tiny',
      '--network',
      'os-net',
      '--key-name',
      'os-key',
      '--security-group',
      'os-sg',
      '--wait',
      'os-vm',
    );
    assert.equal(s.status, 'ACTIVE');
    assert.equal(s.key_name, 'os-key');
    assert.match(JSON.stringify(s.addresses), /os-net/);
    assert.match(JSON.stringify(s.security_groups), /os-sg/);
    ids.vm = s.id;
    const vm = (nubis('vm', 'list') as Json[]).find((v) => v.id === s.id);
    assert.equal(vm?.name, 'os-vm');
    assert.equal(vm?.state, 'running');
  });

  test('server list and show: the server ACTIVE with its flavor and image', () => {
    const row = (demo('server', 'list') as Json[]).map(lowerKeys).find((r) => r.id === ids.vm);
    assert.equal(row?.name, 'os-vm');
    assert.equal(row?.status, 'ACTIVE');
    const s = demo('server', 'show', 'os-vm');
    assert.equal(s.id, ids.vm);
    assert.match(JSON.stringify(s.flavor), /m1\.tiny/);
  });

  test('server stop then start: SHUTOFF then ACTIVE, stopped then running in nubis', async () => {
    demoRun('server', 'stop', 'os-vm');
    await until(
      'stop',
      () => demo('server', 'show', ids.vm!).status,
      (s) => s === 'SHUTOFF',
    );
    assert.equal((nubis('vm', 'list') as Json[]).find((v) => v.id === ids.vm)?.state, 'stopped');
    demoRun('server', 'start', 'os-vm');
    await until(
      'start',
      () => demo('server', 'show', ids.vm!).status,
      (s) => s === 'ACTIVE',
    );
    assert.equal((nubis('vm', 'list') as Json[]).find((v) => v.id === ids.vm)?.state, 'running');
  });

  test('server add volume: the volume in-use, attached to the server, in nubis too', async () => {
    const att = lowerKeys(demo('server', 'add', 'volume', 'os-vm', 'os-vol'));
    assert.equal(att['volume id'], ids.vol, JSON.stringify(att));
    assert.equal(att['server id'], ids.vm);
    const v = await until(
      'attach',
      () => demo('volume', 'show', ids.vol!),
      (x: Json) => x.status === 'in-use',
    );
    assert.match(JSON.stringify(v.attachments), new RegExp(ids.vm!));
    assert.equal((nubis('volume', 'list') as Json[]).find((x) => x.id === ids.vol)?.vmId, ids.vm);
  });

  test('live migration to a named host (admin, 2.30): ACTIVE on that host, in nubis too', () => {
    const before = admin('server', 'show', ids.vm!)['OS-EXT-SRV-ATTR:host'];
    assert.ok(before, 'an admin sees the host');
    const hosts = (admin('hypervisor', 'list') as Json[]).map((h) => lowerKeys(h)['hypervisor hostname']);
    assert.ok(hosts.length >= 2, JSON.stringify(hosts));
    const target = hosts.find((h) => h !== before) as string;
    const out = openstack(
      cloud,
      [
        '--os-compute-api-version',
        '2.30',
        'server',
        'migrate',
        '--live-migration',
        '--host',
        target,
        '--wait',
        ids.vm!,
      ],
      'nubis-admin',
    );
    assert.match(out, /Complete/);
    const after = admin('server', 'show', ids.vm!);
    assert.equal(after.status, 'ACTIVE');
    assert.equal(after['OS-EXT-SRV-ATTR:host'], target);
    // Hosts are for admins in nubis too: its CLI with the admin's token.
    const vm = (JSON.parse(nubisCli(cloud, ['vm', 'list', '--json'])) as Json[]).find((v) => v.id === ids.vm);
    assert.equal(vm?.hostName, target);
  });

  test('server delete --wait: gone from both lists, the volume available again', async () => {
    demoRun('server', 'delete', '--wait', 'os-vm');
    assert.ok(!(demo('server', 'list') as Json[]).map(lowerKeys).some((r) => r.id === ids.vm));
    assert.ok(!(nubis('vm', 'list') as Json[]).some((v) => v.id === ids.vm));
    await until(
      'volume after delete',
      () => demo('volume', 'show', ids.vol!).status,
      (s) => s === 'available',
    );
  });
});
