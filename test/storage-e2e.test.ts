/**
 * Issue 13 end to end: a real control plane (`nubis serve`), two real agents enrolled with join tokens
 * in two network-namespace hosts, each with a `local` pool (its own folder) and a `nas` pool (one
 * folder for both, as an NFS export would be), a tiny guest under QEMU (TCG); a tenant drives it all
 * through the CLI: an image upload, volumes (one from the image), a VM built with a volume, a hot-plug,
 * a snapshot and a live migration that mirrors the local volume. Prints timings; asserts none.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { GUEST_DIR, tinyGuest } from './helpers/guest.ts';
import { netSkip, root, sh } from './helpers/net-hosts.ts';

const g = tinyGuest();
const skip = typeof g === 'string' ? g : netSkip();
const P = `nse${process.pid % 10000}`;
const HOSTS = { a: '10.77.0.1', b: '10.77.0.2' } as const;
const tmp = mkdtempSync(join(tmpdir(), 'nubis-se2e-'));
const procs: ChildProcess[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const bin = join(root, 'bin/nubis.js');

/** Resolves with the first match of RE in PROC's stdout. */
function waitFor(proc: ChildProcess, re: RegExp, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = re.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.stderr!.on('data', (d) => process.stderr.write(d));
    proc.on('exit', (c) => reject(new Error(`${what} exited (${c}): ${out}`)));
  });
}

/** `nubis ARGS` as the holder of TOKEN. */
function cli(
  url: string,
  token: string,
  ...args: string[]
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [bin, ...args], {
      cwd: root,
      env: { ...process.env, NUBIS_URL: url, NUBIS_TOKEN: token, NUBIS_CREDENTIALS: join(tmp, 'none') },
    });
    let out = '',
      err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('close', (code) => resolve({ code: code ?? -1, out, err }));
  });
}

/** A CLI call that must succeed; its parsed JSON output (with --json). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the CLI's JSON, read field by field
async function ok(url: string, token: string, ...args: string[]): Promise<any> {
  const r = await cli(url, token, ...args, '--json');
  assert.equal(r.code, 0, `nubis ${args.join(' ')}: ${r.err}${r.out}`);
  return r.out.trim() ? JSON.parse(r.out) : undefined;
}

/** Polls `check` every 500 ms until it returns a value; throws after `timeoutMs`. */
async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 180_000): Promise<T> {
  const t0 = performance.now();
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(500);
  }
}

let cleanup: () => Promise<void> = async () => {};
after(async () => {
  await cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

test(
  "the issue's storage commands on a real control plane with two real agents: upload, volumes, hot-plug, snapshot, a migration that mirrors the local volume",
  { skip, timeout: 1_200_000 },
  async () => {
    const up = sh(['bash', join(root, 'scripts/netns-hosts.sh'), 'up', '1gbit', P], 960_000);
    assert.equal(up.code, 0, up.out);
    const stateDirs = { a: join(tmp, 'host-a'), b: join(tmp, 'host-b') };
    const nas = join(tmp, 'nas');
    cleanup = async () => {
      for (const p of procs) p.kill('SIGKILL');
      for (const dir of Object.values(stateDirs))
        for (const f of sh(['find', dir, '-name', '*.pid']).out.split('\n').filter(Boolean))
          try {
            process.kill(Number(readFileSync(f, 'utf8')), 'SIGKILL');
          } catch {
            /* gone */
          }
      sh(['bash', join(root, 'scripts/netns-hosts.sh'), 'down', P]);
    };

    const serve = spawn(
      process.execPath,
      // prettier-ignore
      [bin, 'serve', '--host', '10.77.0.254', '--port', '0', '--data', join(tmp, 'data'), '--demo-hosts', '0',
        '--sim-load-interval-s', '0', '--rate-limit', '0'],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NUBIS_BOOTSTRAP_TOKEN: 'e2e-admin' },
      },
    );
    procs.push(serve);
    const url = await waitFor(serve, /control plane on (http:\/\/[^ ]+)/, 'nubis serve');
    const admin = (...a: string[]) => ok(url, 'e2e-admin', ...a);
    await admin('storage-pool', 'create', 'local', '--kind', 'local');
    await admin('storage-pool', 'create', 'nas', '--kind', 'shared');

    mkdirSync(nas);
    for (const k of ['a', 'b'] as const) {
      mkdirSync(stateDirs[k]);
      const jt = (await admin('host', 'join-token', 'create')).token as string;
      const p = spawn(
        'ip',
        // prettier-ignore
        ['netns', 'exec', `${P}-${k}`, process.execPath, bin, 'agent', '--state', stateDirs[k],
          '--listen', `${HOSTS[k]}:7070`, '--join', url, '--name', `host-${k}`, '--underlay-ip', HOSTS[k],
          '--accel', 'tcg', '--heartbeat-s', '1', '--memory-interval-s', '0', '--guest-dir', GUEST_DIR,
          '--pool', `local=${join(stateDirs[k], 'pool-local')}`, '--pool', `nas=${nas}:shared`],
        { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NUBIS_JOIN_TOKEN: jt } },
      );
      procs.push(p);
      await waitFor(p, /listening on (http:\/\/[^ ]+)/, `agent host-${k}`);
    }
    await until('two hosts up', async () => {
      const hosts = (await admin('host', 'list')) as { state: string }[];
      return hosts.filter((h) => h.state === 'up').length === 2 ? true : undefined;
    });

    // The operator says which pools each host sees (the control plane does not take it from the agents).
    for (const h of ['host-a', 'host-b'])
      await admin('host', 'update', h, '--pool', 'local', '--pool', 'nas');
    await admin('tenant', 'create', 'acme');
    const u = await admin('user', 'create', 'acme-dba', '--tenant', 'acme', '--role', 'member');
    const file = join(tmp, 'acme.token');
    await admin('token', 'create', '--name', 'acme', '--user', u.id, '--output', file);
    const token = readFileSync(file, 'utf8').trim();
    const A = (...a: string[]) => ok(url, token, ...a);
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
    const serial = async () => (await cli(url, token, 'vm', 'console', 'db-1')).out;
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
    const refused = await A('vm', 'migrate', 'db-1');
    process.stdout.write(
      `vm migrate with a snapshot on a local volume: ${refused.status}: ${refused.error}\n`,
    );
    assert.equal(refused.status, 'failed');
    assert.match(refused.error, /snapshots/);
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
