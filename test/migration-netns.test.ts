/**
 * Two hosts on one machine: network namespaces joined through a bridge, each link limited to
 * 1 Gbit/s with tc tbf; an agent in each; a guest migrates between them over that network.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { guestProgress, tinyGuest, waitForSerial } from './helpers/guest.ts';
import { twoHostDirs } from './helpers/host-dirs.ts';

const root = new URL('..', import.meta.url).pathname;
const g = tinyGuest();
const canNetns = process.getuid?.() === 0 && spawnSync('ip', ['netns', 'list']).status === 0;
const skip = typeof g === 'string' ? g : canNetns ? undefined : 'network namespaces need root and iproute2';
if (!canNetns && process.env.NUBIS_REQUIRE_QEMU === '1')
  throw new Error('network-namespace tests required but not possible here (root + iproute2)');
const P = `nbt${process.pid % 10000}`;
const procs: ChildProcess[] = [];
const dirs: string[] = [];
after(() => {
  for (const p of procs) p.kill('SIGKILL');
  spawnSync('pkill', ['-f', 'guest=netns-t']);
  spawnSync('bash', [join(root, 'scripts/netns-hosts.sh'), 'down', P]);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

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
    ],
    // Agents off loopback need a token (an open agent is refused there).
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

// Each agent its own token: the source never holds the destination's.
const TOKEN = { a: 'netns-test-agent-token-a', b: 'netns-test-agent-token-b' };

const post = async (url: string, body: unknown, token: string) => {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: (await r.json()) as Record<string, number> & { ticket: string } };
};

test('a guest migrates between two hosts over a 1 Gbit/s link', { skip }, async () => {
  const t = g as Exclude<typeof g, string>;
  const up = spawnSync('bash', [join(root, 'scripts/netns-hosts.sh'), 'up', '1gbit', P], {
    encoding: 'utf8',
  });
  assert.equal(up.status, 0, up.stderr);
  const [parent, sa, sb] = twoHostDirs('nubis-ns-');
  dirs.push(parent);
  const [a, b] = await Promise.all([
    agentIn(`${P}-a`, '10.77.0.1', sa, TOKEN.a),
    agentIn(`${P}-b`, '10.77.0.2', sb, TOKEN.b),
  ]);
  assert.equal(a, 'http://10.77.0.1:7070');
  const spec = {
    id: 'netns-t1',
    memoryMiB: 256,
    vcpus: 1,
    image: { kernel: t.kernel, initrd: t.initrd },
    workload: { mib: 64, rateMiBps: 20 },
  };
  assert.equal((await post(`${a}/v1/guests`, spec, TOKEN.a)).status, 201);
  assert.equal((await post(`${a}/v1/guests/netns-t1/start`, {}, TOKEN.a)).status, 200);
  await waitForSerial(join(sa, 'guests/netns-t1/serial.log'), (l) => guestProgress(l).passes >= 1);
  const before = guestProgress(readFileSync(join(sa, 'guests/netns-t1/serial.log'), 'utf8')).heartbeat;
  // The destination issues a ticket for this guest, bound to the source's address; the source gets
  // only the ticket (never the destination's token).
  const issued = await post(
    `${b}/v1/incoming-tickets`,
    { guestId: 'netns-t1', sourceAddress: '10.77.0.1' },
    TOKEN.b,
  );
  assert.equal(issued.status, 201);
  const r = await post(
    `${a}/v1/guests/netns-t1/migrate`,
    {
      destination: b,
      destinationTicket: issued.body.ticket,
      options: { mode: 'precopy', maxDowntimeMs: 300 },
    },
    TOKEN.a,
  );
  assert.equal(r.status, 200, JSON.stringify(r.body));
  // ~200 MiB over 1 Gbit/s cannot take less than ~1.6 s: the stream really crossed the limited link.
  const mbps = (r.body.bytes! * 8) / 1e6 / (r.body.totalMs! / 1000);
  assert.ok(mbps < 1100, `throughput ${mbps.toFixed(0)} Mbit/s stays under the 1 Gbit/s link`);
  const log = await waitForSerial(
    join(sb, 'guests/netns-t1/serial.log'),
    (l) => guestProgress(l).passes >= 1 && guestProgress(l).heartbeat > before,
    30_000,
  );
  assert.deepEqual(guestProgress(log).bad, []);
});
