/**
 * `nubis vm console VM -f` against the in-process API over HTTP (simulated hosts): it prints the log,
 * then keeps printing what the guest writes (here: a line typed on the interactive console).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { controlPlane } from './helpers/control.ts';

const root = new URL('..', import.meta.url).pathname;
let t: Awaited<ReturnType<typeof controlPlane>>;
let url = '';
before(async () => {
  t = await controlPlane(':memory:', 2);
  url = await t.app.listen({ host: '127.0.0.1', port: 0 });
});
after(() => t?.close());

test('nubis vm console -f prints the log, then what the guest writes next', async () => {
  const created = await t.call(t.adminToken, 'POST', '/v1/vms', {
    name: 'follow-1',
    flavor: 'm1.tiny',
    image: 'tiny',
  });
  assert.equal(created.status, 202);
  const cli = spawn(process.execPath, [join(root, 'bin/nubis.js'), 'vm', 'console', 'follow-1', '-f'], {
    cwd: root,
    env: { ...process.env, NUBIS_URL: url, NUBIS_TOKEN: t.adminToken },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  cli.stdout.on('data', (d) => (out += d));
  cli.stderr.on('data', (d) => (err += d));
  const until = async (re: RegExp) => {
    for (let i = 0; i < 300 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(out, re, `stderr: ${err}`);
  };
  try {
    await until(/nubis-ready/);
    const ticket = (await t.call(t.adminToken, 'POST', `/v1/vms/${created.body.vmId}/console/tickets`)).body;
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}${ticket.path}?ticket=${ticket.ticket}`);
    await new Promise((ok, fail) => ws.once('open', ok).once('error', fail));
    ws.send('echo followed-42\r');
    await until(/\r\nfollowed-42\r\n/);
    ws.close();
    // Printed once: the boot log is not repeated by the polls.
    assert.equal(out.match(/nubis-ready/g)?.length, 1);
  } finally {
    cli.kill('SIGKILL');
  }
});

test('nubis vm console -i types into the console and Ctrl-] ends it; a reader may not', async () => {
  const created = await t.call(t.adminToken, 'POST', '/v1/vms', {
    name: 'inter-1',
    flavor: 'm1.tiny',
    image: 'tiny',
  });
  assert.equal(created.status, 202);
  const cli = spawn(process.execPath, [join(root, 'bin/nubis.js'), 'vm', 'console', 'inter-1', '-i'], {
    cwd: root,
    env: { ...process.env, NUBIS_URL: url, NUBIS_TOKEN: t.adminToken },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  cli.stdout.on('data', (d) => (out += d));
  cli.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => cli.on('exit', r));
  try {
    for (let i = 0; i < 300 && !out.includes('/ # '); i++) await new Promise((r) => setTimeout(r, 100));
    cli.stdin.write('echo typed-7\r');
    for (let i = 0; i < 300 && !/\r\ntyped-7\r\n/.test(out); i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.match(out, /\r\ntyped-7\r\n/, `stderr: ${err}`);
    cli.stdin.write('\x1d');
    assert.equal(await exited, 0, err);
  } finally {
    cli.kill('SIGKILL');
  }
  // A reader gets the log, not the console: one line and exit code 2.
  const u = (
    await t.call(t.adminToken, 'POST', '/v1/users', { tenant: 'admin', name: 'rita', role: 'reader' })
  ).body;
  const rita = (await t.call(t.adminToken, 'POST', '/v1/tokens', { name: 'rita', userId: u.id })).body.token;
  const denied = spawn(process.execPath, [join(root, 'bin/nubis.js'), 'vm', 'console', 'inter-1', '-i'], {
    cwd: root,
    env: { ...process.env, NUBIS_URL: url, NUBIS_TOKEN: rita },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let derr = '';
  denied.stderr.on('data', (d) => (derr += d));
  assert.equal(await new Promise((r) => denied.on('exit', r)), 2);
  assert.match(derr, /FORBIDDEN/);
});
