/**
 * The console end to end on a real host: a control plane, one enrolled agent (a separate process)
 * and a real QEMU guest (TCG). Its tenant reads the log through the API and sees `nubis-ready`;
 * another tenant's member gets 404; a line typed through the API's WebSocket (relayed to the
 * agent's, relayed to QEMU's serial socket) reaches the guest's shell on ttyS0 and its answer comes
 * back (when the guest runs a shell there: guest/init.sh, or NUBIS_GUEST_DIR names such a build).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import WebSocket from 'ws';
import { controlPlane } from './helpers/control.ts';
import { GUEST_DIR, tinyGuest } from './helpers/guest.ts';

const root = new URL('..', import.meta.url).pathname;
const g = tinyGuest();
const shellOnTtyS0 =
  process.env.NUBIS_GUEST_DIR !== undefined ||
  /ttyS0/.test(readFileSync(join(root, 'guest/init.sh'), 'utf8'));
const procs: ChildProcess[] = [];
const dirs: string[] = [];
after(() => {
  for (const p of procs) p.kill('SIGKILL');
  for (const d of dirs) spawnSync('pkill', ['-f', d]); // only this test's guests (their paths hold its folders)
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test(
  "a real guest's console through the control plane and its agent: the log, 404 for another tenant, a typed line and its answer",
  { skip: typeof g === 'string' ? g : undefined },
  async () => {
    const t = await controlPlane(':memory:', 0);
    try {
      const cpUrl = await t.app.listen({ host: '127.0.0.1', port: 0 });
      const admin = async (method: string, url: string, body?: unknown) => {
        const r = await t.call(t.adminToken, method, url, body);
        assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${JSON.stringify(r.body)}`);
        return r.body;
      };
      const joinToken = (await admin('POST', '/v1/hosts/join-tokens', { expiresInS: 600 })).token as string;
      const d = mkdtempSync(join(tmpdir(), 'nubis-console-host-'));
      dirs.push(d);
      const p = spawn(
        process.execPath,
        [
          join(root, 'bin/nubis.js'),
          'agent',
          '--state',
          d,
          '--listen',
          '127.0.0.1:0',
          '--accel',
          'tcg',
          '--name',
          'host-c',
          '--join',
          cpUrl,
          '--heartbeat-s',
          '1',
          '--guest-dir',
          GUEST_DIR,
          '--memory-interval-s',
          '0',
        ],
        {
          cwd: root,
          stdio: ['ignore', 'ignore', 'inherit'],
          env: { ...process.env, NUBIS_JOIN_TOKEN: joinToken },
        },
      );
      procs.push(p);
      for (let i = 0; i < 100; i++) {
        if ((await t.call(t.adminToken, 'GET', '/v1/hosts')).body.length > 0) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      const tok: Record<string, string> = {};
      for (const [tenant, user] of [
        ['acme', 'ann'],
        ['globex', 'bob'],
      ] as const) {
        await admin('POST', '/v1/tenants', { name: tenant, quotas: { vms: 4, vcpus: 8, memoryMiB: 8192 } });
        const u = await admin('POST', '/v1/users', { tenant, name: user, role: 'member' });
        tok[user] = (await admin('POST', '/v1/tokens', { name: user, userId: u.id })).token;
      }
      const created = await t.call(tok.ann, 'POST', '/v1/vms', {
        name: 'con-real',
        flavor: 'm1.tiny',
        image: 'tiny',
      });
      assert.equal(created.body.status, 'succeeded', JSON.stringify(created.body));
      const vm = created.body.vmId as string;

      // The log through the API: the guest boots and says so.
      let log = '';
      for (let i = 0; i < 600 && !log.includes('nubis-ready'); i++) {
        const r = await t.call(tok.ann, 'GET', `/v1/vms/${vm}/console`);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        log = r.body.text;
        if (!log.includes('nubis-ready')) await new Promise((r) => setTimeout(r, 200));
      }
      assert.match(log, /nubis-ready/);
      assert.equal((await t.call(tok.bob, 'GET', `/v1/vms/${vm}/console`)).status, 404);
      assert.equal((await t.call(tok.bob, 'POST', `/v1/vms/${vm}/console/tickets`)).status, 404);
      if (!shellOnTtyS0) return;

      // The interactive console: API WebSocket → agent WebSocket → QEMU's serial socket → the shell.
      const ticket = (await t.call(tok.ann, 'POST', `/v1/vms/${vm}/console/tickets`)).body;
      const ws = new WebSocket(`${cpUrl.replace(/^http/, 'ws')}${ticket.path}?ticket=${ticket.ticket}`);
      await new Promise((ok, fail) => ws.once('open', ok).once('error', fail));
      const n = Math.floor(Math.random() * 1e6);
      let seen = '';
      const answered = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no answer; the console showed ${JSON.stringify(seen.slice(-300))}`)),
          60_000,
        );
        ws.on('message', (m: Buffer) => {
          seen += m.toString('utf8');
          // The typed line echoes as `echo hel""lo-N`; only the shell's answer reads `hello-N`.
          if (new RegExp(`(^|\\n)hello-${n}\\r?\\n`).test(seen)) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      ws.send(`\necho hel""lo-${n}\n`);
      await answered;
      ws.close();
      assert.match(
        (await t.call(tok.ann, 'GET', `/v1/vms/${vm}/console`)).body.text,
        new RegExp(`hello-${n}`),
      );
    } finally {
      for (const p of procs) p.kill('SIGKILL');
      await t.close();
    }
  },
);
