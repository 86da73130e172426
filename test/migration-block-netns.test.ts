/**
 * Block migration between two agents on two "hosts" (network namespaces on a 1 Gbit/s bridge) that do
 * not see each other's disks: the source agent mirrors the guest's 1 GiB root disk over NBD to the
 * destination's migration address, then the memory moves; the guest's disk checker then verifies every
 * block it wrote on the destination. Prints the measured times next to the model's prediction.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { predictBlockMigration } from '../src/models/migration-disk.ts';
import { TINY_GUEST_USED_SHARE } from '../src/models/migration.ts';
import { GUEST_DIR, tinyGuest, waitForSerial } from './helpers/guest.ts';
import { twoHostDirs } from './helpers/host-dirs.ts';

const root = new URL('..', import.meta.url).pathname;
const g = tinyGuest();
const canNetns = process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list']).status === 0;
const skip = typeof g === 'string' ? g : canNetns ? undefined : 'network namespaces need root and iproute2';
const P = `nbm${process.pid % 10000}`;
const procs: ChildProcess[] = [];
const dirs: string[] = [];
after(() => {
  for (const p of procs) p.kill('SIGKILL');
  spawnSync('pkill', ['-f', 'guest=netns-bm']);
  spawnSync('bash', [join(root, 'scripts/netns-hosts.sh'), 'down', P]);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** An agent in namespace `ns` that sees no other host's disks (a folder that does not exist). */
function agentIn(ns: string, ip: string, state: string, token: string): Promise<string> {
  const proc = spawn(
    'ip',
    [
      'netns',
      'exec',
      ns,
      process.execPath,
      join(root, 'bin/nubis.js'),
      'agent',
      '--state',
      state,
      '--listen',
      `${ip}:7070`,
      '--accel',
      'tcg',
      '--memory-interval-s',
      '0',
      '--guest-dir',
      GUEST_DIR,
      '--migration-source-dirs',
      join(state, 'no-shared-storage'),
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NUBIS_AGENT_TOKEN: token } },
  );
  procs.push(proc);
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[^ ]+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.stderr!.on('data', (d) => {
      out += d;
    });
    proc.on('exit', (c) => reject(new Error(`agent in ${ns} exited (${c}): ${out}`)));
  });
}

const TOKEN = { a: 'netns-bm-agent-token-a', b: 'netns-bm-agent-token-b' };

const post = async (url: string, body: unknown, token: string) => {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: (await r.json()) as Record<string, number | string> & { ticket: string } };
};

/** The disk checker's passes and bad blocks in a serial log (guest/diskcheck.c). */
function disk(log: string) {
  const passes = [...log.matchAll(/^nubis-disk-pass (\d+) ok \d+ written (\d+)/gm)].at(-1);
  return {
    passes: Number(passes?.[1] ?? 0),
    written: Number(passes?.[2] ?? 0),
    bad: log.split('\n').filter((l) => l.startsWith('nubis-disk-bad')),
  };
}

test(
  'two agents without shared storage: the 1 GiB root disk is mirrored over NBD, every block verified',
  { skip },
  async () => {
    const t = g as Exclude<typeof g, string>;
    const up = spawnSync('bash', [join(root, 'scripts/netns-hosts.sh'), 'up', '1gbit', P], {
      encoding: 'utf8',
    });
    assert.equal(up.status, 0, up.stderr);
    const [parent, sa, sb] = twoHostDirs('nubis-nsbm-');
    dirs.push(parent);
    const [a, b] = await Promise.all([
      agentIn(`${P}-a`, '10.77.0.1', sa, TOKEN.a),
      agentIn(`${P}-b`, '10.77.0.2', sb, TOKEN.b),
    ]);
    const id = 'netns-bm1';
    const spec = {
      id,
      memoryMiB: 256,
      vcpus: 1,
      image: {
        kernel: t.kernel,
        initrd: t.initrd,
        append: 'nubis.diskcheck=/dev/vda nubis.diskmib=32 nubis.diskrate=256',
      },
      workload: { mib: 16, rateMiBps: 2 },
    };
    assert.equal((await post(`${a}/v1/guests`, spec, TOKEN.a)).status, 201);
    // A 1 GiB root disk with 256 MiB of data the guest does not touch (and its checker's 32 MiB).
    const file = join(sa, 'guests', id, 'disk.qcow2');
    execFileSync('qemu-img', ['resize', '-q', '-f', 'qcow2', file, '1G']);
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x5a 512M 256M', file]);
    assert.equal((await post(`${a}/v1/guests/${id}/start`, {}, TOKEN.a)).status, 200);
    const logA = join(sa, 'guests', id, 'serial.log');
    await waitForSerial(logA, (l) => disk(l).passes >= 1 && disk(l).written > 0, 90_000);
    const before = disk(readFileSync(logA, 'utf8'));
    const issued = await post(
      `${b}/v1/incoming-tickets`,
      { guestId: id, sourceAddress: '10.77.0.1' },
      TOKEN.b,
    );
    assert.equal(issued.status, 201);
    const r = await post(
      `${a}/v1/guests/${id}/migrate`,
      {
        destination: b,
        destinationTicket: issued.body.ticket,
        options: { mode: 'precopy', maxDowntimeMs: 300, timeoutMs: 180_000 },
      },
      TOKEN.a,
    );
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.disks, 'mirror', 'the destination cannot see the disk: it is mirrored');
    assert.ok(Number(r.body.diskBytes) >= 2 ** 30);
    const logB = join(sb, 'guests', id, 'serial.log');
    const after = disk(await waitForSerial(logB, (l) => disk(l).passes >= before.passes + 2, 90_000));
    assert.deepEqual(after.bad, [], 'every block the guest wrote, before and during the move, is intact');
    assert.ok(after.written >= before.written);
    const allocated = 256 * 2 ** 20 + after.written * 4096;
    const p = predictBlockMigration(
      {
        memMiB: 256,
        usedMiB: 256 * TINY_GUEST_USED_SHARE,
        dirtyMiBps: Number(r.body.dirtyRateMiBps),
        bandwidthMbps: 1000,
        diskBytes: 2 ** 30,
        allocatedBytes: allocated,
        writeMiBps: 1,
      },
      { mode: 'precopy', maxDowntimeMs: 300 },
    );
    console.log(
      `# block migration over a 1 Gbit/s link (netns, TCG): 1 GiB root disk, ${(allocated / 2 ** 20).toFixed(0)} MiB allocated, ` +
        `guest writing 1 MiB/s: measured mirror ${r.body.mirrorMs} ms + memory ${r.body.totalMs} ms ` +
        `(${r.body.diskBytes} disk bytes, ${r.body.bytes} memory bytes); ` +
        `model: mirror ${p.mirrorMs.toFixed(0)} ms + memory ${p.memory.totalMs.toFixed(0)} ms = ${p.totalMs.toFixed(0)} ms`,
    );
  },
);
