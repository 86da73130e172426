/** Attacks on the host agent that used to work: traversal ids, files outside its folders, open power control. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { InjectOptions } from 'fastify';
import { inprocAgent, type InprocAgent } from './helpers/agent-inproc.ts';

const auth = { authorization: 'Bearer k' };
const spec = (id: string, image: Record<string, string | undefined>) => ({
  id,
  memoryMiB: 128,
  vcpus: 1,
  image,
});
const post = async (a: InprocAgent, url: string, payload?: object) =>
  a.app.inject({
    method: 'POST',
    url,
    headers: auth,
    ...(payload !== undefined ? { payload } : {}),
  } as InjectOptions);

test('POST /v1/incoming/..%2F..%2Fvictim/abort is refused with 400 and leaves the victim folder alone', async () => {
  const a = await inprocAgent();
  try {
    const victim = join(a.root, 'victim');
    mkdirSync(victim);
    writeFileSync(join(victim, 'f'), 'x');
    // state/guests/../../victim is ROOT/victim: today's code deleted it.
    for (const id of ['..%2F..%2Fvictim', '..%2F..%2F..%2Fvictim', 'a%00b', '.%2E%2F.%2E%2Fvictim']) {
      const r = await post(a, `/v1/incoming/${id}/abort`);
      assert.equal(r.statusCode, 400, `${id}: ${r.body}`);
      assert.match(r.json().message, /Bad guest id/);
    }
    assert.ok(existsSync(join(victim, 'f')), 'the victim is still there');
  } finally {
    await a.close();
  }
});

test('an incoming migration with a traversal id or a host file as its disk copies nothing', async () => {
  const a = await inprocAgent();
  try {
    const options = { mode: 'precopy' };
    const image = { kernel: join(a.images, 'vmlinuz') };
    const traversal = await post(a, '/v1/incoming', {
      spec: spec('../../out', image),
      snapshots: [],
      diskPath: '/etc/hostname',
      options,
    });
    assert.equal(traversal.statusCode, 400);
    assert.ok(!existsSync(join(a.root, 'out')), 'nothing created outside the state folder');
    // A valid id with a host file, a symlink to one, or a qcow2 of another guest id: refused.
    const other = join(a.root, 'other', 'guests', 'g1');
    mkdirSync(other, { recursive: true });
    symlinkSync('/etc/hostname', join(other, 'disk.qcow2'));
    for (const diskPath of ['/etc/hostname', join(other, 'disk.qcow2'), join(a.canary, 'keep')]) {
      const r = await post(a, '/v1/incoming', { spec: spec('g1', image), snapshots: [], diskPath, options });
      assert.equal(r.statusCode, 400, `${diskPath}: ${r.body}`);
      assert.ok(!r.body.includes('canary'), 'file contents are never echoed');
    }
    const snap = await post(a, '/v1/incoming', {
      spec: spec('g1', image),
      snapshots: ['x; quit'],
      diskPath: join(other, 'disk.qcow2'),
      options,
    });
    assert.equal(snap.statusCode, 400);
    assert.match(snap.json().message, /Bad snapshot name/);
    const host = await post(a, '/v1/incoming', {
      spec: spec('g1', image),
      snapshots: [],
      diskPath: join(other, 'disk.qcow2'),
      options: { ...options, listenHost: '0.0.0.0:1,evil' },
    });
    assert.equal(host.statusCode, 400);
    assert.deepEqual(readdirSync(join(a.state, 'guests')), [], 'no guest folder was created');
  } finally {
    await a.close();
  }
});

test('kernel, initrd and disk files outside the images folder, or symlinks out of it, are refused', async () => {
  const a = await inprocAgent();
  try {
    symlinkSync('/etc/hostname', join(a.images, 'escape'));
    const cases = [
      { kernel: '/etc/hostname' },
      { kernel: join(a.images, 'vmlinuz'), initrd: '/etc/hostname' },
      { disk: '/etc/hostname' },
      { kernel: join(a.images, 'escape') },
      { kernel: join(a.images, '..', 'canary', 'keep') },
      { kernel: 'image://../../etc/hostname' },
    ];
    for (const image of cases) {
      const r = await post(a, '/v1/guests', spec('g2', image));
      assert.equal(r.statusCode, 400, `${JSON.stringify(image)}: ${r.body}`);
    }
    assert.match(
      (await post(a, '/v1/guests', spec('g2', { kernel: '/etc/hostname' }))).json().message,
      /outside this host's folders/,
    );
    // Inside the folder: accepted (the per-guest disk is made by the real qemu-img).
    const ok = await post(a, '/v1/guests', spec('g2', { kernel: 'image://tiny' }));
    assert.equal(ok.statusCode, 201, ok.body);
    assert.ok(existsSync(join(a.state, 'guests', 'g2', 'disk.qcow2')));
  } finally {
    await a.close();
  }
});

test('aborting or committing an incoming migration does not touch a guest that is not incoming', async () => {
  const a = await inprocAgent();
  try {
    assert.equal((await post(a, '/v1/guests', spec('g3', { kernel: 'image://tiny' }))).statusCode, 201);
    assert.equal((await post(a, '/v1/incoming/g3/abort')).statusCode, 409);
    assert.equal((await post(a, '/v1/incoming/g3/commit')).statusCode, 409);
    assert.equal((await post(a, '/v1/incoming/nope/commit')).statusCode, 404);
    assert.equal((await post(a, '/v1/incoming/nope/abort')).statusCode, 204, 'nothing to abort');
    assert.ok(existsSync(join(a.state, 'guests', 'g3', 'spec.json')), 'g3 is still there');
  } finally {
    await a.close();
  }
});

test('power control needs a token; the health check is the only open route; bad requests are 4xx', async () => {
  const open = await inprocAgent({ token: null, powerCommand: 'true' });
  try {
    const r = await open.app.inject({
      method: 'POST',
      url: '/v1/host/power',
      payload: { action: 'on', host: 'h' },
    });
    assert.equal(r.statusCode, 403);
    assert.match(r.json().message, /NUBIS_AGENT_TOKEN/);
  } finally {
    await open.close();
  }
  const a = await inprocAgent({ powerCommand: 'true' });
  try {
    assert.equal((await a.app.inject({ method: 'GET', url: '/v1/health' })).statusCode, 200);
    for (const [method, url] of [
      ['POST', '/v1/host/power'],
      ['GET', '/v1/guests'],
      ['GET', '/v1/host'],
      ['GET', '/v1/health/../guests'],
    ] as const)
      assert.equal((await a.app.inject({ method, url })).statusCode, 401, `${method} ${url}`);
    assert.equal(
      (await a.app.inject({ method: 'POST', url: '/v1/host/power', headers: { authorization: 'Bearer kk' } }))
        .statusCode,
      401,
    );
    const power = await post(a, '/v1/host/power', { action: 'on', host: 'h' });
    assert.equal(power.statusCode, 200);
    assert.equal((await post(a, '/v1/host/power', { action: 'sideways' })).statusCode, 400);
    // An address is never an option or a shell fragment for the power command; a name has no control characters.
    for (const address of ['-H evil', 'aa:bb; reboot', '$(reboot)', 'a b', ''])
      assert.equal(
        (await post(a, '/v1/host/power', { action: 'on', host: 'h', address })).statusCode,
        400,
        address,
      );
    assert.equal((await post(a, '/v1/host/power', { action: 'on', host: 'h\nx' })).statusCode, 400);
    for (const address of ['aa:bb:cc:dd:ee:ff', '10.0.0.9', 'bmc-3.rack.example', '[fe80::1]'])
      assert.equal(
        (await post(a, '/v1/host/power', { action: 'on', host: 'h', address })).statusCode,
        200,
        address,
      );
    assert.equal((await post(a, '/v1/nope')).statusCode, 404);
    const badJson = await a.app.inject({
      method: 'POST',
      url: '/v1/guests',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: '{"id":',
    });
    assert.equal(badJson.statusCode, 400);
    assert.equal((await post(a, '/v1/guests/nope/start')).statusCode, 404);
  } finally {
    await a.close();
  }
});

const root = new URL('..', import.meta.url).pathname;
const env = { ...process.env, NUBIS_AGENT_TOKEN: '' };

test('nubis agent refuses to listen on 0.0.0.0 without a token and says how to set one', () => {
  const r = spawnSync(
    process.execPath,
    [
      join(root, 'bin/nubis.js'),
      'agent',
      '--listen',
      '0.0.0.0:0',
      '--accel',
      'tcg',
      '--state',
      '/nonexistent/x',
    ],
    { cwd: root, env, encoding: 'utf8', timeout: 60_000 },
  );
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /Refusing to listen on 0\.0\.0\.0 without a token.*NUBIS_AGENT_TOKEN/s);
  assert.ok(!existsSync('/nonexistent/x'));
});

test('a token on the command line is refused by nubis agent and nubis guest, without echoing it', () => {
  for (const args of [
    ['agent', '--listen', '127.0.0.1:0', '--state', '/nonexistent/y', '--token', 'sekret-on-argv'],
    ['guest', '--token', 'sekret-on-argv', 'list'],
    ['agent', '--join', 'http://127.0.0.1:9', '--join-token', 'sekret-on-argv', '--state', '/nonexistent/y'],
  ]) {
    const r = spawnSync(process.execPath, [join(root, 'bin/nubis.js'), ...args], {
      cwd: root,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(r.status, 2, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, /--(join-)?token was removed.*NUBIS_(AGENT|JOIN)_TOKEN/s);
    assert.ok(!`${r.stdout}${r.stderr}`.includes('sekret-on-argv'), 'the token is not echoed');
  }
  assert.ok(!existsSync('/nonexistent/y'));
});

test("nubis agent makes its state folder (guests' disks and consoles) private to its user", async () => {
  const root0 = mkdtempSync(join(tmpdir(), 'nubis-agent-mode-'));
  const state = join(root0, 'state');
  mkdirSync(state, { mode: 0o755 });
  chmodSync(state, 0o755);
  const proc = spawn(
    process.execPath,
    [join(root, 'bin/nubis.js'), 'agent', '--listen', '127.0.0.1:0', '--accel', 'tcg', '--state', state],
    { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  try {
    await new Promise<void>((ok, fail) => {
      let out = '';
      proc.stdout!.on('data', (d) => {
        out += d;
        if (/listening on/.test(out)) ok();
      });
      proc.stderr!.on('data', (d) => (out += d));
      proc.on('exit', (c) => fail(new Error(`agent exited (${c}): ${out}`)));
    });
    assert.equal(statSync(state).mode & 0o777, 0o700);
  } finally {
    proc.kill('SIGKILL');
    rmSync(root0, { recursive: true, force: true });
  }
});
