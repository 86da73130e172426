/**
 * Crash recovery with real hosts: two agents run QEMU guests (TCG); `nubis serve` is killed with
 * SIGKILL after a migration moved a guest but before the records say so, during a create (the
 * guest built, not started), and from outside while agents are still streaming a migration. After
 * each restart the records must match the guests: exactly one QEMU process per running VM, on the
 * host the records name, none for deleted VMs (test/helpers/recovery.ts checks the records).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openStore } from '../src/control/store/open-store.ts';
import { GUEST_DIR, tinyGuest } from './helpers/guest.ts';
import {
  assertRecoveredDb,
  client,
  killServe,
  startServe,
  type Json,
  type Serve,
} from './helpers/recovery.ts';

const root = new URL('..', import.meta.url).pathname;
const g = tinyGuest();
const procs: ChildProcess[] = [];
const serves: Serve[] = [];
const dirs: string[] = [];
after(async () => {
  for (const s of serves) await killServe(s);
  for (const p of procs) p.kill('SIGKILL');
  // QEMU guests are daemons: they outlive their agent. End this test's (their paths hold its folders).
  for (const d of dirs) spawnSync('pkill', ['-KILL', '-f', d]);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** QEMU processes of a guest (its id is in the command line). */
function qemuProcesses(id: string): number {
  const r = spawnSync('pgrep', ['-f', `qemu-system.*${id}`], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).length;
}

test(
  'with two real agents, SIGKILL of nubis serve during migrations and a create leaves records that match the QEMU guests after restart',
  { skip: typeof g === 'string' ? g : undefined, timeout: 600_000 },
  async (t) => {
    const data = mkdtempSync(join(tmpdir(), 'nubis-crash-agents-'));
    dirs.push(data);
    const db = `sqlite:${join(data, 'nubis.db')}`;
    const port = String(await freePort());
    const base = ['--port', port, '--demo-hosts', '0', '--host-failure-timeout-s', '120'];
    const serve = async (env: Record<string, string> = {}) => {
      const s = await startServe(data, db, base, env);
      serves.push(s);
      return s;
    };

    // Each agent enrolls with a join token; the server reaches each with the credential it issued.
    let s = await serve();
    let api = client(s.url);
    const agentUrls: Record<string, string> = {};
    const credentials: Record<string, string> = {};
    for (const name of ['host-a', 'host-b']) {
      const d = mkdtempSync(join(tmpdir(), `nubis-${name}-`));
      dirs.push(d);
      const joinToken = (await api('POST', '/v1/hosts/join-tokens', { expiresInS: 600 })).body
        .token as string;
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
          name,
          '--join',
          s.url,
          '--heartbeat-s',
          '1',
          '--guest-dir',
          GUEST_DIR,
          '--memory-interval-s',
          '0',
          '--fence-after-s',
          '0',
        ],
        // Their stderr would fill the report with failed heartbeats while the server is down.
        {
          cwd: root,
          stdio: ['ignore', 'pipe', 'ignore'],
          env: { ...process.env, NUBIS_JOIN_TOKEN: joinToken },
        },
      );
      procs.push(p);
      agentUrls[name] = await new Promise<string>((resolve, reject) => {
        let out = '';
        p.stdout!.on('data', (x) => {
          out += x;
          const m = /listening on (http:\/\/[^ ]+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        p.on('exit', (c) => reject(new Error(`agent exited ${c}`)));
      });
      for (let i = 0; i < 100 && !existsSync(join(d, 'enrollment.json')); i++) await sleep(100);
      credentials[name] = JSON.parse(readFileSync(join(d, 'enrollment.json'), 'utf8')).agentCredential;
    }
    let hosts: Json[] = [];
    for (let i = 0; i < 100 && hosts.filter((h) => h.state === 'up').length < 2; i++) {
      await sleep(200);
      hosts = (await api('GET', '/v1/hosts')).body;
    }
    assert.equal(hosts.filter((h: Json) => h.state === 'up').length, 2, JSON.stringify(hosts));

    /** Which agent runs the guest, asked of the agents themselves. */
    const runsOn = async (id: string) => {
      const on: string[] = [];
      for (const [name, url] of Object.entries(agentUrls)) {
        const r = await fetch(`${url}/v1/guests/${id}`, {
          headers: { authorization: `Bearer ${credentials[name]}` },
        });
        if (r.status === 200 && ((await r.json()) as { state: string }).state === 'running') on.push(name);
      }
      return on;
    };
    const check = async (context: string) => {
      const store = await openStore(db);
      try {
        const live = await assertRecoveredDb(store, context);
        for (const v of live) {
          const host = (await api('GET', `/v1/vms/${v.id}`)).body.hostName;
          if (v.state === 'running') {
            assert.equal(qemuProcesses(v.id), 1, `${context}: one QEMU process for running VM ${v.name}`);
            assert.deepEqual(
              await runsOn(v.id),
              [host],
              `${context}: VM ${v.name} runs where the records say`,
            );
          }
        }
        const deleted = await store.selectFrom('vms').select('id').where('state', '=', 'deleted').execute();
        for (const v of deleted) assert.equal(qemuProcesses(v.id), 0, `${context}: a deleted VM has no QEMU`);
      } finally {
        await store.destroy();
      }
    };
    const create = async (name: string) => api('POST', '/v1/vms', { name, flavor: 'm1.tiny', image: 'tiny' });

    const a = (await create('a')).body;
    assert.equal(a.status, 'succeeded', JSON.stringify(a));
    const b = (await create('b')).body;
    assert.equal(b.status, 'succeeded', JSON.stringify(b));
    await sleep(4000); // let them boot

    // 1. Killed after the agents moved the guest, before the records say so: the migration completes.
    await killServe(s);
    s = await serve({ NUBIS_TEST_CRASH_AT: 'guest-moved' });
    api = client(s.url);
    const from = (await api('GET', `/v1/vms/${a.vmId}`)).body.hostName;
    await api('POST', `/v1/vms/${a.vmId}/migrate`, {});
    await new Promise((r) =>
      s.proc.exitCode !== null || s.proc.signalCode !== null ? r(0) : s.proc.once('exit', r),
    );
    s = await serve({});
    api = client(s.url);
    assert.match(s.out(), /1 interrupted operation\(s\) recovered/);
    assert.notEqual((await api('GET', `/v1/vms/${a.vmId}`)).body.hostName, from, 'completed on the target');
    await check('after a kill at guest-moved');

    // 2. Killed during a create, after the guest was built and before it was started: it is started.
    await killServe(s);
    s = await serve({ NUBIS_TEST_CRASH_AT: 'guest-created' });
    api = client(s.url);
    void create('c');
    await new Promise((r) =>
      s.proc.exitCode !== null || s.proc.signalCode !== null ? r(0) : s.proc.once('exit', r),
    );
    s = await serve({});
    api = client(s.url);
    const c = ((await api('GET', '/v1/vms')).body as Json[]).find((v) => v.name === 'c');
    assert.equal(c?.state, 'running');
    await check('after a kill at guest-created');

    // 3. Killed from outside while the agents stream a migration: the reconciler waits for it to end.
    const pending = api('POST', `/v1/vms/${b.vmId}/migrate`, {});
    await sleep(100);
    await killServe(s);
    await pending;
    s = await serve({});
    api = client(s.url);
    t.diagnostic(`restart after a kill during a migration: ${s.out().trim().split('\n').pop()}`);
    assert.equal((await api('GET', `/v1/vms/${b.vmId}`)).body.state, 'running');
    await check('after a kill during a migration');

    // A deleted VM leaves no QEMU behind.
    assert.equal((await api('DELETE', `/v1/vms/${c!.id}`)).body.status, 'succeeded');
    await check('after a delete');
    await killServe(s);
  },
);
