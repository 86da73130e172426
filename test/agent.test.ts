import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { guestProgress, tinyGuest, waitForSerial } from './helpers/guest.ts';
import { twoHostDirs } from './helpers/host-dirs.ts';

const root = new URL('..', import.meta.url).pathname;
const g = tinyGuest();
const skip = typeof g === 'string' ? g : undefined;
const procs: ChildProcess[] = [];
const dirs: string[] = [];
after(async () => {
  for (const p of procs) p.kill('SIGKILL');
  spawnSync('pkill', ['-f', 'guest=agent-t']);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Start `nubis agent` and resolve with its base URL. */
function startAgent(state: string, token?: string): Promise<{ url: string; proc: ChildProcess }> {
  const args = [
    join(root, 'bin/nubis.js'),
    'agent',
    '--state',
    state,
    '--listen',
    '127.0.0.1:0',
    '--accel',
    'tcg',
  ];
  // The token comes from the environment (a token on the command line is refused).
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (token) env.NUBIS_AGENT_TOKEN = token;
  else delete env.NUBIS_AGENT_TOKEN;
  const proc = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env });
  procs.push(proc);
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/[^ ]+)/.exec(out);
      if (m) resolve({ url: m[1]!, proc });
    });
    proc.stderr!.on('data', (d) => {
      out += d;
    });
    proc.on('exit', (c) => reject(new Error(`agent exited (${c}): ${out}`)));
  });
}

async function api(url: string, method: string, path: string, body?: unknown, token?: string) {
  const res = await fetch(url + path, {
    method,
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** A one-time migration ticket for guest `id` from the destination agent at `url` (asked with its token). */
async function ticketFrom(url: string, id: string, token = 'sekret'): Promise<string> {
  const r = await api(url, 'POST', '/v1/incoming-tickets', { guestId: id }, token);
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.ticket;
}

const qemuCount = (id: string) =>
  spawnSync('pgrep', ['-fc', `guest=${id},`], { encoding: 'utf8' }).stdout.trim();

test(
  'the agent re-adopts its running guests after a crash and migrates them to another agent',
  { skip },
  async () => {
    const t = g as Exclude<typeof g, string>;
    const [parent, sa, sb] = twoHostDirs('nubis-agent-');
    dirs.push(parent);
    let a = await startAgent(sa, 'sekret');
    const b = await startAgent(sb, 'sekret');

    assert.equal((await api(a.url, 'GET', '/v1/guests')).status, 401, 'the token is required');
    const host = await api(a.url, 'GET', '/v1/host', undefined, 'sekret');
    assert.equal(host.body.accel, 'tcg');
    assert.ok(host.body.cpus >= 1 && host.body.memoryMiB > 0);

    const spec = {
      id: 'agent-t1',
      memoryMiB: 256,
      vcpus: 1,
      image: { kernel: t.kernel, initrd: t.initrd },
      workload: { mib: 32, rateMiBps: 10 },
      minMemoryMiB: 96,
    };
    const bad = await api(a.url, 'POST', '/v1/guests', { ...spec, memoryMiB: 'lots' }, 'sekret');
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /memoryMiB/);
    assert.equal((await api(a.url, 'POST', '/v1/guests', spec, 'sekret')).status, 201);
    assert.equal((await api(a.url, 'POST', '/v1/guests/agent-t1/start', {}, 'sekret')).body.state, 'running');
    assert.equal((await api(a.url, 'POST', '/v1/guests/agent-t1/start', {}, 'sekret')).status, 409);
    const pid = (await api(a.url, 'GET', '/v1/guests/agent-t1', undefined, 'sekret')).body.pid;
    const serialA = join(sa, 'guests/agent-t1/serial.log');
    await waitForSerial(serialA, (l) => guestProgress(l).passes >= 1);

    // The agent dies; the guest does not. A new agent on the same state folder adopts it.
    a.proc.kill('SIGKILL');
    await new Promise((r) => a.proc.once('exit', r));
    a = await startAgent(sa, 'sekret');
    const adopted = await api(a.url, 'GET', '/v1/guests/agent-t1', undefined, 'sekret');
    assert.equal(adopted.body.state, 'running');
    assert.equal(adopted.body.pid, pid, 'same QEMU process');
    assert.equal(qemuCount('agent-t1'), '1', 'no duplicate started');

    // Balloon: the host sees the guest shrink and grow back.
    const inflated = await api(a.url, 'PUT', '/v1/guests/agent-t1/balloon', { targetMiB: 128 }, 'sekret');
    assert.equal(inflated.status, 200);
    let m = inflated.body;
    for (let i = 0; i < 50 && m.balloonMiB > 136; i++) {
      await new Promise((r) => setTimeout(r, 200));
      m = (await api(a.url, 'GET', '/v1/guests/agent-t1/metrics', undefined, 'sekret')).body;
    }
    assert.ok(m.balloonMiB <= 136, `balloon at ${m.balloonMiB} MiB`);
    assert.equal(
      (await api(a.url, 'PUT', '/v1/guests/agent-t1/balloon', { targetMiB: 256 }, 'sekret')).status,
      200,
    );

    // Migrate A → B through the agents' API.
    const before = guestProgress(readFileSync(serialA, 'utf8')).heartbeat;
    const mig = await api(
      a.url,
      'POST',
      '/v1/guests/agent-t1/migrate',
      {
        destination: b.url,
        destinationTicket: await ticketFrom(b.url, 'agent-t1'),
        options: { mode: 'precopy', maxDowntimeMs: 300 },
      },
      'sekret',
    );
    assert.equal(mig.status, 200, JSON.stringify(mig.body));
    assert.equal(mig.body.status, 'completed');
    assert.equal((await api(a.url, 'GET', '/v1/guests/agent-t1', undefined, 'sekret')).status, 404);
    assert.equal((await api(b.url, 'GET', '/v1/guests/agent-t1', undefined, 'sekret')).body.state, 'running');
    const log = await waitForSerial(
      join(sb, 'guests/agent-t1/serial.log'),
      (l) => guestProgress(l).passes >= 1 && guestProgress(l).heartbeat > before,
      30_000,
    );
    assert.deepEqual(guestProgress(log).bad, []);
    assert.equal(qemuCount('agent-t1'), '1');

    // Planned migration: a guest dirtying fast cannot meet 20 ms over a slow link with pre-copy only;
    // it is refused before anything starts, with the reason. Allowing post-copy lets it go.
    const hot = { ...spec, id: 'agent-t2', workload: { mib: 64, rateMiBps: -1 } };
    await api(b.url, 'POST', '/v1/guests', hot, 'sekret');
    await api(b.url, 'POST', '/v1/guests/agent-t2/start', {}, 'sekret');
    await waitForSerial(join(sb, 'guests/agent-t2/serial.log'), (l) => guestProgress(l).passes >= 1);
    const refused = await api(
      b.url,
      'POST',
      '/v1/guests/agent-t2/migrate',
      {
        destination: a.url,
        destinationTicket: await ticketFrom(a.url, 'agent-t2'),
        plan: {
          downtimeTargetMs: 20,
          bandwidthMbps: 200,
          allowPostcopy: false,
          allowAutoConverge: false,
          allowCompression: false,
        },
      },
      'sekret',
    );
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    assert.equal(refused.body.code, 'MIGRATION_REFUSED');
    assert.match(refused.body.message, /pre-copy does not converge.*measured dirty rate \d+ MiB\/s/);
    assert.equal(
      (await api(b.url, 'GET', '/v1/guests/agent-t2', undefined, 'sekret')).body.state,
      'running',
      'refused before anything started',
    );
    const planned = await api(
      b.url,
      'POST',
      '/v1/guests/agent-t2/migrate',
      {
        destination: a.url,
        destinationTicket: await ticketFrom(a.url, 'agent-t2'),
        plan: {
          downtimeTargetMs: 300,
          bandwidthMbps: 1000,
          allowCompression: false,
          allowAutoConverge: false,
        },
      },
      'sekret',
    );
    assert.equal(planned.status, 200, JSON.stringify(planned.body));
    // Either post-copy up front, or pre-copy whose safety net switched to post-copy: it finishes either way.
    assert.match(planned.body.modeUsed, /postcopy/);
    assert.ok(planned.body.downtimeMs <= 300, `downtime ${planned.body.downtimeMs} ms`);
    assert.equal((await api(a.url, 'DELETE', '/v1/guests/agent-t2', undefined, 'sekret')).status, 204);

    // The CLI talks to agents too.
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, [join(root, 'bin/nubis.js'), 'guest', '--agent', b.url, ...args], {
        encoding: 'utf8',
        cwd: root,
        env: { ...process.env, NUBIS_AGENT_TOKEN: 'sekret' },
      });
    const listed = cli('--json', 'list');
    assert.equal(listed.status, 0, listed.stderr);
    assert.deepEqual(
      JSON.parse(listed.stdout).map((x: { id: string; state: string }) => [x.id, x.state]),
      [['agent-t1', 'running']],
    );
    const noBw = cli('migrate', 'agent-t1', '--to', a.url, '--downtime-target-ms', '100');
    assert.equal(noBw.status, 2);
    assert.match(noBw.stderr, /--downtime-target-ms needs --bandwidth-mbps/);

    const badMode = await api(
      b.url,
      'POST',
      '/v1/guests/agent-t1/migrate',
      { destination: a.url, options: { mode: 'teleport' } },
      'sekret',
    );
    assert.equal(badMode.status, 400);
    assert.match(badMode.body.message, /options\.mode/);
    // The CLI asks the destination for a one-time ticket with the destination's token and hands the
    // source agent only that ticket.
    const viaCli = cli('migrate', 'agent-t1', '--to', a.url, '--mode', 'precopy', '--max-downtime-ms', '300');
    assert.equal(viaCli.status, 0, viaCli.stderr);
    assert.equal((await api(a.url, 'GET', '/v1/guests/agent-t1', undefined, 'sekret')).body.state, 'running');
    assert.equal((await api(b.url, 'GET', '/v1/guests/agent-t1', undefined, 'sekret')).status, 404);
    assert.equal((await api(a.url, 'DELETE', '/v1/guests/agent-t1', undefined, 'sekret')).status, 204);
  },
);

test(
  'an agent that cannot reach its control plane fences itself: it stops its guests',
  { skip },
  async () => {
    const t = g as Exclude<typeof g, string>;
    const sd = mkdtempSync(join(tmpdir(), 'nubis-fence-'));
    dirs.push(sd);
    // An enrolled agent (its credentials file as enrollment writes it) whose control plane is gone.
    const cred = 'fence-credential-0123456789abcdef';
    writeFileSync(
      join(sd, 'enrollment.json'),
      JSON.stringify({
        controlPlane: 'http://127.0.0.1:9',
        hostId: 'h',
        agentUrl: 'http://127.0.0.1:1',
        hostCredential: 'nubis_host_x',
        agentCredential: cred,
      }),
      { mode: 0o600 },
    );
    const proc = spawn(
      process.execPath,
      [
        join(root, 'bin/nubis.js'),
        'agent',
        '--state',
        sd,
        '--listen',
        '127.0.0.1:0',
        '--accel',
        'tcg',
        '--control-plane',
        'http://127.0.0.1:9',
        '--heartbeat-s',
        '1',
        '--fence-after-s',
        '4',
        '--memory-interval-s',
        '0',
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    procs.push(proc);
    let err = '';
    proc.stderr!.on('data', (d) => {
      err += d;
    });
    const url = await new Promise<string>((resolve) => {
      let out = '';
      proc.stdout!.on('data', (d) => {
        out += d;
        const m = /listening on (http:\/\/[^ ]+)/.exec(out);
        if (m) resolve(m[1]!);
      });
    });
    await api(
      url,
      'POST',
      '/v1/guests',
      {
        id: 'agent-fence',
        memoryMiB: 128,
        vcpus: 1,
        image: { kernel: t.kernel, initrd: t.initrd },
      },
      cred,
    );
    await api(url, 'POST', '/v1/guests/agent-fence/start', {}, cred);
    // On a loaded machine the guest can be read `paused` while QEMU quits: wait for the end state.
    let state = 'running';
    for (let i = 0; i < 120 && state !== 'shutoff'; i++) {
      await new Promise((r) => setTimeout(r, 250));
      state = (await api(url, 'GET', '/v1/guests/agent-fence', undefined, cred)).body.state;
    }
    assert.equal(state, 'shutoff', 'the guest was stopped');
    assert.match(err, /control plane unreachable for \d+ s: fencing, stopping 1 guest\(s\)/);
    proc.kill('SIGKILL');
  },
);
