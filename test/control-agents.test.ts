/** The control plane drives real hosts: agents register by heartbeat; VMs are created, migrated and deleted on them. */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { controlPlane } from './helpers/control.ts';
import { GUEST_DIR, tinyGuest } from './helpers/guest.ts';

const root = new URL('..', import.meta.url).pathname;
const g = tinyGuest();
const procs: ChildProcess[] = [];
const dirs: string[] = [];
after(() => { for (const p of procs) p.kill('SIGKILL'); for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

test('agents register through heartbeats; a VM is created on a real host, live-migrated and deleted through the API', { skip: typeof g === 'string' ? g : undefined }, async () => {
  const t = await controlPlane(':memory:', 0);
  try {
    const cpUrl = await t.app.listen({ host: '127.0.0.1', port: 0 });
    const op = await t.call(t.adminToken, 'POST', '/v1/users', { tenant: 'admin', name: 'agents', role: 'operator' });
    const agentToken = (await t.call(t.adminToken, 'POST', '/v1/tokens', { name: 'agents', userId: op.body.id })).body.token;
    t.cp.useAgentToken(agentToken);
    const agents: string[] = [];
    for (const name of ['host-a', 'host-b']) {
      const d = mkdtempSync(join(tmpdir(), `nubis-${name}-`));
      dirs.push(d);
      const p = spawn(process.execPath, [join(root, 'bin/nubis.js'), 'agent', '--state', d, '--listen', '127.0.0.1:0', '--accel', 'tcg', '--name', name,
        '--control-plane', cpUrl, '--token', agentToken, '--heartbeat-s', '1', '--guest-dir', GUEST_DIR, '--memory-interval-s', '0'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
      procs.push(p);
      agents.push(await new Promise<string>((resolve, reject) => {
        let out = '';
        p.stdout!.on('data', (x) => { out += x; const m = /listening on (http:\/\/[^ ]+)/.exec(out); if (m) resolve(m[1]!); });
        p.on('exit', (c) => reject(new Error(`agent exited ${c}`)));
      }));
    }
    // Both hosts appear, registered by their own heartbeats.
    let hosts: { name: string; driver: string; id: string }[] = [];
    for (let i = 0; i < 50 && hosts.length < 2; i++) { await new Promise((r) => setTimeout(r, 200)); hosts = (await t.call(t.adminToken, 'GET', '/v1/hosts')).body; }
    assert.deepEqual(hosts.map((h) => [h.name, h.driver]), [['host-a', 'qemu'], ['host-b', 'qemu']]);
    const events = (await t.call(t.adminToken, 'GET', '/v1/events')).body.map((e: { kind: string }) => e.kind);
    assert.equal(events.filter((k: string) => k === 'host.registered').length, 2);

    const created = await t.call(t.adminToken, 'POST', '/v1/vms', { name: 'real-1', flavor: 'm1.tiny', image: 'tiny' });
    assert.equal(created.body.status, 'succeeded', JSON.stringify(created.body));
    const vm = (await t.call(t.adminToken, 'GET', `/v1/vms/${created.body.vmId}`)).body;
    assert.equal(vm.state, 'running');
    const from = vm.hostName as string;
    const fromUrl = agents[from === 'host-a' ? 0 : 1]!, toUrl = agents[from === 'host-a' ? 1 : 0]!;
    const guest = async (url: string) => { const r = await fetch(`${url}/v1/guests/${vm.id}`, { headers: { authorization: `Bearer ${agentToken}` } }); return r.status === 200 ? (await r.json() as { state: string }).state : r.status; };
    assert.equal(await guest(fromUrl), 'running', 'the agent runs a real QEMU guest for it');
    await new Promise((r) => setTimeout(r, 6000)); // let it boot

    const mig = await t.call(t.adminToken, 'POST', `/v1/vms/${vm.id}/migrate`, {});
    assert.equal(mig.body.status, 'succeeded', JSON.stringify(mig.body));
    assert.equal(mig.body.result.status, 'completed');
    const moved = (await t.call(t.adminToken, 'GET', `/v1/vms/${vm.id}`)).body;
    assert.notEqual(moved.hostName, from);
    assert.equal(await guest(toUrl), 'running');
    assert.equal(await guest(fromUrl), 404);
    const hostsAfter = (await t.call(t.adminToken, 'GET', '/v1/hosts')).body as { name: string; vms: number }[];
    assert.deepEqual(hostsAfter.map((h) => [h.name, h.vms]).sort(), [[from, 0], [moved.hostName, 1]].sort(), 'capacity moved with it');

    assert.equal((await t.call(t.adminToken, 'DELETE', `/v1/vms/${vm.id}`)).body.status, 'succeeded');
    assert.equal(await guest(toUrl), 404);
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    for (const d of dirs) spawnSync('pkill', ['-f', d]); // only this test's guests (their paths contain its folders)
    await t.close();
  }
});
