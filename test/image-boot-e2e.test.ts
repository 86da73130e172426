/**
 * Issue 13 end to end: a bootable disk image (scripts/build-guest-disk.sh: MBR, FAT, SYSLINUX, the
 * tiny guest's kernel and initramfs) uploaded with `nubis image upload`, then booted by SeaBIOS (no
 * -kernel) on two real agents in two network-namespace hosts: each agent downloads and verifies the
 * image once into its cache, a third VM on a host boots from the cached copy. Uploads of a file that
 * is not an image and of a corrupt qcow2 are refused and leave no image. Prints timings; asserts none.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync, writeFileSync, copyFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { E2eCluster, until, type HostKey } from './helpers/e2e-cluster.ts';
import { tinyGuest } from './helpers/guest.ts';
import { netSkip, root, sh } from './helpers/net-hosts.ts';

const g = tinyGuest();
/** scripts/build-guest-disk.sh's tools (scripts/install-host-deps.sh installs them). */
const diskTools = ['sfdisk', 'mformat', 'mcopy', 'syslinux'].every(
  (t) => sh(['sh', '-c', `command -v ${t}`]).code === 0,
);
if (!diskTools && process.env.NUBIS_REQUIRE_QEMU === '1')
  throw new Error('the bootable-image test needs sfdisk, mtools and syslinux (scripts/install-host-deps.sh)');
const skip =
  typeof g === 'string'
    ? g
    : !diskTools
      ? 'needs sfdisk, mtools and syslinux (scripts/install-host-deps.sh)'
      : netSkip();
const c = new E2eCluster('nib');
after(() => c.stop());

test(
  'a bootable qcow2 is uploaded once and boots on two hosts; each host downloads and verifies it once',
  { skip, timeout: 1_200_000 },
  async () => {
    const disk = join(c.tmp, 'disk.qcow2');
    const built = sh(['bash', join(root, 'scripts/build-guest-disk.sh'), disk], 120_000);
    assert.equal(built.code, 0, built.out);
    await c.start();
    const token = await c.tenantToken('acme');
    const A = (...a: string[]) => c.ok(token, ...a);
    const timings: string[] = [];
    const timed = async <T>(what: string, f: () => Promise<T>) => {
      const t0 = performance.now();
      const v = await f();
      timings.push(`${what}: ${((performance.now() - t0) / 1000).toFixed(2)} s`);
      return v;
    };

    // Refused uploads say why and leave no image.
    const text = join(c.tmp, 'notes.txt');
    writeFileSync(text, 'hello, this is not a disk\n'.repeat(100));
    const corrupt = join(c.tmp, 'corrupt.qcow2');
    copyFileSync(disk, corrupt);
    truncateSync(corrupt, 128 * 1024); // its header and tables point past the end
    for (const [name, file, why] of [
      ['notes', text, /not a disk image/],
      ['broken', corrupt, /corrupt/],
    ] as const) {
      const r = await c.cli(token, 'image', 'upload', name, file);
      process.stdout.write(`image upload ${name}: exit ${r.code}: ${r.err.trim()}\n`);
      assert.notEqual(r.code, 0);
      assert.match(r.err, why);
    }
    const names = ((await A('image', 'list')) as { name: string }[]).map((i) => i.name);
    assert.ok(!names.includes('notes') && !names.includes('broken'), names.join(', '));

    const img = await timed(`image upload (${statSync(disk).size} bytes)`, () =>
      A('image', 'upload', 'debian-tiny', disk),
    );
    assert.equal(img.format, 'qcow2');

    // Two VMs from it on different hosts (anti-affinity); each boots through SeaBIOS and SYSLINUX.
    await A('server-group', 'create', 'web', '--policy', 'anti-affinity');
    const booted = (vm: string) =>
      until(`${vm} booted`, async () => {
        const s = await A('vm', 'show', vm);
        if (s.state === 'error') throw new Error(`${vm} failed: ${JSON.stringify(s)}`);
        if (s.state !== 'running') return undefined;
        const log = (await c.cli(token, 'vm', 'console', vm)).out;
        return log.includes('nubis-ready') ? log : undefined;
      });
    const boot = async (vm: string, ...extra: string[]) => {
      await A('vm', 'create', '--name', vm, '--flavor', 'm1.tiny', '--image', 'debian-tiny', ...extra);
      return booted(vm);
    };
    const [log1] = await timed(
      'first boots from the new image, two hosts at once (create to nubis-ready)',
      () => Promise.all([boot('web-1', '--server-group', 'web'), boot('web-2', '--server-group', 'web')]),
    );
    assert.match(log1, /SYSLINUX/, 'booted by SYSLINUX from the disk, not by -kernel');
    const hostOf = async (vm: string) => c.hostKey((await c.admin('vm', 'show', vm)).hostId as string);
    const [h1, h2] = [await hostOf('web-1'), await hostOf('web-2')];
    assert.notEqual(h1, h2, 'one VM on each host');

    // Each agent's cache holds the image once, by checksum (no partial downloads left).
    const cache = (k: HostKey) => join(c.stateDirs[k], 'images-cache');
    const file = (k: HostKey) => join(cache(k), `${img.sha256}.qcow2`);
    for (const k of ['a', 'b'] as const) assert.deepEqual(readdirSync(cache(k)), [`${img.sha256}.qcow2`]);
    const before = { a: statSync(file('a')), b: statSync(file('b')) };

    // A third VM boots from the cached copy: nothing is downloaded again.
    await timed('a second boot on a host (image cached; create to nubis-ready)', () => boot('web-3'));
    const h3 = await hostOf('web-3');
    for (const k of ['a', 'b'] as const) {
      assert.deepEqual(readdirSync(cache(k)), [`${img.sha256}.qcow2`]);
      const now = statSync(file(k));
      // A download writes a new file and renames it over: the same inode means no second download
      // (the mtime moves: it records the last use, for the cache's LRU eviction).
      assert.equal(now.ino, before[k].ino, `host ${k} kept its one download`);
    }
    assert.ok(existsSync(file(h3)));
    process.stdout.write(`${timings.join('\n')}\n`);
  },
);
