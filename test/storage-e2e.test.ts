/**
 * Issue 13 end to end: a real control plane (`nubis serve`), two real agents enrolled with join tokens
 * in two network-namespace hosts, each with a `local` pool (its own folder) and a `nas` pool (one
 * folder for both, as an NFS export would be), a tiny guest under QEMU (TCG); a tenant drives it all
 * through the CLI: an image upload, volumes (one from the image), a VM built with a volume, a hot-plug,
 * a snapshot and a live migration that mirrors the local volume. Prints timings; asserts none.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { E2eCluster, until } from './helpers/e2e-cluster.ts';
import { tinyGuest } from './helpers/guest.ts';
import { netSkip, sh } from './helpers/net-hosts.ts';

const g = tinyGuest();
const skip = typeof g === 'string' ? g : netSkip();
const c = new E2eCluster('nse');
after(() => c.stop());

test(
  "the issue's storage commands on a real control plane with two real agents: upload, volumes, hot-plug, snapshot, a migration that mirrors the local volume",
  { skip, timeout: 1_200_000 },
  async () => {
    const { tmp, stateDirs } = c;
    const nas = join(tmp, 'nas');
    mkdirSync(nas);
    await c.start({
      beforeAgents: async () => {
        await c.admin('storage-pool', 'create', 'local', '--kind', 'local');
        await c.admin('storage-pool', 'create', 'nas', '--kind', 'shared');
      },
      agentArgs: (_k, dir) => ['--pool', `local=${join(dir, 'pool-local')}`, '--pool', `nas=${nas}:shared`],
    });
    const admin = (...a: string[]) => c.admin(...a);

    // Each host sees the pools its agent reports (no `host update --pool`).
    for (const h of ['host-a', 'host-b'])
      assert.deepEqual((await admin('host', 'show', h)).pools, ['local', 'nas'], h);
    const token = await c.tenantToken('acme');
    const A = (...a: string[]) => c.ok(token, ...a);
    const timings: string[] = [];
    const timed = async <T>(what: string, f: () => Promise<T>) => {
      const t0 = performance.now();
      const v = await f();
      timings.push(`${what}: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
      return v;
    };

    // A small qcow2 with data in it: the seed of a volume.
    const seed = join(tmp, 'seed.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', seed, '8M']);
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x6b 0 4M', seed]);
    await timed('image upload (8 MiB qcow2, 4 MiB written)', () => A('image', 'upload', 'seed', seed));
    // Members do not see hosts: the operator reads where a volume is (by its id).
    const vol = (name: string) => A('volume', 'show', name) as Promise<{ id: string; state: string }>;
    const volHost = async (name: string) =>
      (await admin('volume', 'show', (await vol(name)).id)).hostId as string;
    const state = (name: string, s: string) =>
      until(`${name} ${s}`, async () => ((await vol(name)).state === s ? true : undefined));

    // data-1: a local volume made from the image; db-1 is built with it (on the volume's host).
    await timed('volume create data-1 --from-image', async () => {
      await A('volume', 'create', 'data-1', '--size', '1', '--pool', 'local', '--from-image', 'seed');
      await state('data-1', 'available');
    });
    await timed('vm create db-1 --volume data-1 (to running)', async () => {
      await A(
        'vm',
        'create',
        '--name',
        'db-1',
        '--flavor',
        'm1.small',
        '--image',
        'tiny',
        '--volume',
        'data-1',
      );
      await until('db-1 running', async () =>
        (await A('vm', 'show', 'db-1')).state === 'running' ? true : undefined,
      );
    });
    const vmHost = async () => (await admin('vm', 'show', 'db-1')).hostId as string;
    const serial = async () => (await c.cli(token, 'vm', 'console', 'db-1')).out;
    const adds = (log: string) => log.split('\n').filter((l) => l.startsWith('nubis-disk-add')).length;
    await until('the guest sees data-1', async () => (adds(await serial()) >= 1 ? true : undefined));
    const source = await vmHost();
    assert.equal(await volHost('data-1'), source, 'the local volume is on the VM host');

    // data-2: a shared volume, hot-plugged into the running guest.
    await timed('volume create data-2 + attach (hot-plug seen by the guest)', async () => {
      await A('volume', 'create', 'data-2', '--size', '1', '--pool', 'nas');
      await state('data-2', 'available');
      await A('volume', 'attach', 'data-2', 'db-1');
      await state('data-2', 'in-use');
      await until('the guest sees data-2', async () => (adds(await serial()) >= 2 ? true : undefined));
    });

    // A snapshot of the local volume: a disk mirror does not carry it, so the move is refused.
    await timed('volume snapshot data-1', () =>
      A('volume', 'snapshot', 'data-1', '--name', 'before-upgrade'),
    );
    // The operation fails: the CLI exits 1 and says why.
    const refused = await c.cli(token, 'vm', 'migrate', 'db-1');
    process.stdout.write(
      `vm migrate with a snapshot on a local volume: exit ${refused.code}: ${refused.err}`,
    );
    assert.equal(refused.code, 1);
    assert.match(refused.err, /migrate of db-1 failed: .*snapshots/);
    assert.equal(await vmHost(), source, 'db-1 stays on its host');
    assert.equal((await A('vm', 'show', 'db-1')).state, 'running');
    const snaps = (await A('volume', 'snapshots', 'data-1')) as { id: string; name: string }[];
    await A('volume', 'delete-snapshot', 'data-1', snaps.find((s) => s.name === 'before-upgrade')!.id);

    const m = await timed('vm migrate db-1 (local volume mirrored)', () => A('vm', 'migrate', 'db-1'));
    process.stdout.write(`vm migrate: ${JSON.stringify(m)}\n`);
    const dest = await vmHost();
    assert.notEqual(dest, source, 'db-1 moved');
    assert.equal((await A('vm', 'show', 'db-1')).state, 'running');
    assert.equal(await volHost('data-1'), dest, "the local volume's host moved");
    assert.equal((await vol('data-2')).state, 'in-use');
    // The image's data came along (the volume was an overlay on the cached image: mirrored whole), read
    // beside the running guest; the source's copy is gone.
    const names = Object.fromEntries(
      ((await admin('host', 'list')) as { id: string; name: string }[]).map((h) => [h.id, h.name]),
    );
    const volumeId = (await vol('data-1')).id;
    const volFile = (hostId: string) =>
      join(stateDirs[names[hostId] === 'host-a' ? 'a' : 'b'], 'pool-local', `${volumeId}.qcow2`);
    const read = sh(['qemu-io', '-r', '-U', '-f', 'qcow2', '-c', 'read -P 0x6b 0 4M', volFile(dest)]);
    assert.equal(read.code, 0, read.out);
    assert.match(read.out, /read 4194304\/4194304 bytes/);
    assert.doesNotMatch(read.out, /Pattern verification failed/);
    assert.equal(sh(['test', '-e', volFile(source)]).code, 1, "the source's copy is gone");
    process.stdout.write(`${timings.join('\n')}\nmigration report: ${JSON.stringify(m?.result ?? m)}\n`);
  },
);
