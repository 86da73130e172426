/** The control plane drives real hosts: agents enroll with join tokens; VMs are created, migrated and deleted on them. */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { controlPlane } from './helpers/control.ts';
import { GUEST_DIR, tinyGuest } from './helpers/guest.ts';

const root = new URL('..', import.meta.url).pathname;
const g = tinyGuest();
const procs: ChildProcess[] = [];
const dirs: string[] = [];
/** The credential an enrolled agent requires (from its 0600 enrollment file). */
const credentialOf = (stateDir: string) =>
  (JSON.parse(readFileSync(join(stateDir, 'enrollment.json'), 'utf8')) as { agentCredential: string })
    .agentCredential;
after(() => {
  for (const p of procs) p.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test(
  'agents register through heartbeats; a VM is created on a real host, live-migrated and deleted through the API',
  { skip: typeof g === 'string' ? g : undefined },
  async () => {
    const t = await controlPlane(':memory:', 0);
    try {
      const cpUrl = await t.app.listen({ host: '127.0.0.1', port: 0 });
      const joinToken = async () =>
        (await t.call(t.adminToken, 'POST', '/v1/hosts/join-tokens', { expiresInS: 600 })).body
          .token as string;
      const agents: string[] = [];
      const stateDirs: string[] = [];
      for (const name of ['host-a', 'host-b']) {
        const d = mkdtempSync(join(tmpdir(), `nubis-${name}-`));
        dirs.push(d);
        stateDirs.push(d);
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
            stdio: ['ignore', 'pipe', 'inherit'],
            env: { ...process.env, NUBIS_JOIN_TOKEN: await joinToken() },
          },
        );
        procs.push(p);
        agents.push(
          await new Promise<string>((resolve, reject) => {
            let out = '';
            p.stdout!.on('data', (x) => {
              out += x;
              const m = /listening on (http:\/\/[^ ]+)/.exec(out);
              if (m) resolve(m[1]!);
            });
            p.on('exit', (c) => reject(new Error(`agent exited ${c}`)));
          }),
        );
      }
      // Both hosts appear, enrolled with their join tokens.
      let hosts: { name: string; driver: string; id: string }[] = [];
      for (let i = 0; i < 50 && hosts.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 200));
        hosts = (await t.call(t.adminToken, 'GET', '/v1/hosts')).body;
      }
      assert.deepEqual(
        hosts.map((h) => [h.name, h.driver]),
        [
          ['host-a', 'qemu'],
          ['host-b', 'qemu'],
        ],
      );
      const events = (await t.call(t.adminToken, 'GET', '/v1/events')).body.map(
        (e: { kind: string }) => e.kind,
      );
      assert.equal(events.filter((k: string) => k === 'host.enrolled').length, 2);

      const created = await t.call(t.adminToken, 'POST', '/v1/vms', {
        name: 'real-1',
        flavor: 'm1.tiny',
        image: 'tiny',
      });
      assert.equal(created.body.status, 'succeeded', JSON.stringify(created.body));
      const vm = (await t.call(t.adminToken, 'GET', `/v1/vms/${created.body.vmId}`)).body;
      assert.equal(vm.state, 'running');
      const from = vm.hostName as string;
      const fromUrl = agents[from === 'host-a' ? 0 : 1]!,
        toUrl = agents[from === 'host-a' ? 1 : 0]!;
      const guest = async (url: string) => {
        const r = await fetch(`${url}/v1/guests/${vm.id}`, {
          headers: { authorization: `Bearer ${credentialOf(stateDirs[agents.indexOf(url)]!)}` },
        });
        return r.status === 200 ? ((await r.json()) as { state: string }).state : r.status;
      };
      assert.equal(await guest(fromUrl), 'running', 'the agent runs a real QEMU guest for it');
      await new Promise((r) => setTimeout(r, 6000)); // let it boot

      const mig = await t.call(t.adminToken, 'POST', `/v1/vms/${vm.id}/migrate`, {});
      assert.equal(mig.body.status, 'succeeded', JSON.stringify(mig.body));
      assert.equal(mig.body.result.status, 'completed');
      const moved = (await t.call(t.adminToken, 'GET', `/v1/vms/${vm.id}`)).body;
      assert.notEqual(moved.hostName, from);
      assert.equal(await guest(toUrl), 'running');
      assert.equal(await guest(fromUrl), 404);
      const hostsAfter = (await t.call(t.adminToken, 'GET', '/v1/hosts')).body as {
        name: string;
        vms: number;
      }[];
      assert.deepEqual(
        hostsAfter.map((h) => [h.name, h.vms]).sort(),
        [
          [from, 0],
          [moved.hostName, 1],
        ].sort(),
        'capacity moved with it',
      );

      assert.equal((await t.call(t.adminToken, 'DELETE', `/v1/vms/${vm.id}`)).body.status, 'succeeded');
      assert.equal(await guest(toUrl), 404);
    } finally {
      for (const p of procs) p.kill('SIGKILL');
      for (const d of dirs) spawnSync('pkill', ['-f', d]); // only this test's guests (their paths contain its folders)
      await t.close();
    }
  },
);

test(
  "real hosts: power control runs through the agents' command, and an HA VM restarts exactly once when its host dies",
  { skip: typeof g === 'string' ? g : undefined },
  async () => {
    const t = await controlPlane(':memory:', 0);
    const mine: ChildProcess[] = [];
    const myDirs: string[] = [];
    try {
      const cpUrl = await t.app.listen({ host: '127.0.0.1', port: 0 });
      const joinToken = async () =>
        (await t.call(t.adminToken, 'POST', '/v1/hosts/join-tokens', { expiresInS: 600 })).body
          .token as string;
      const log = join(mkdtempSync(join(tmpdir(), 'nubis-power-')), 'power.log');
      const agents = new Map<string, { url: string; proc: ChildProcess; dir: string }>();
      for (const name of ['host-c', 'host-d']) {
        const d = mkdtempSync(join(tmpdir(), `nubis-${name}-`));
        dirs.push(d);
        myDirs.push(d);
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
            cpUrl,
            '--heartbeat-s',
            '1',
            '--guest-dir',
            GUEST_DIR,
            '--memory-interval-s',
            '0',
            '--fence-after-s',
            '0',
            '--power-command',
            `echo "${name} ran: $NUBIS_POWER_ACTION $NUBIS_POWER_HOST" >> ${log}`,
          ],
          {
            cwd: root,
            stdio: ['ignore', 'pipe', 'inherit'],
            env: { ...process.env, NUBIS_JOIN_TOKEN: await joinToken() },
          },
        );
        procs.push(p);
        mine.push(p);
        const url = await new Promise<string>((resolve, reject) => {
          let out = '';
          p.stdout!.on('data', (x) => {
            out += x;
            const m = /listening on (http:\/\/[^ ]+)/.exec(out);
            if (m) resolve(m[1]!);
          });
          p.on('exit', (c) => reject(new Error(`agent exited ${c}`)));
        });
        agents.set(name, { url, proc: p, dir: d });
      }
      let hosts: { name: string; id: string; state: string }[] = [];
      for (let i = 0; i < 50 && hosts.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 200));
        hosts = (await t.call(t.adminToken, 'GET', '/v1/hosts')).body;
      }
      const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
      const hostState = async (name: string) =>
        ((await t.call(t.adminToken, 'GET', '/v1/hosts')).body as { name: string; state: string }[]).find(
          (h) => h.name === name,
        )!.state;

      // Off: the host's own agent runs the command. On: the other agent runs it; the host is booting until it reports.
      const off = await t.call(t.adminToken, 'POST', '/v1/hosts/host-d/power', { action: 'off' });
      assert.equal(off.body.state, 'off', JSON.stringify(off.body));
      const on = await t.call(t.adminToken, 'POST', '/v1/hosts/host-d/power', { action: 'on' });
      assert.equal(on.body.state, 'booting', JSON.stringify(on.body));
      assert.equal(on.body.result.via, 'host-c');
      assert.deepEqual(readFileSync(log, 'utf8').trim().split('\n'), [
        'host-d ran: off host-d',
        'host-c ran: on host-d',
      ]);
      for (let i = 0; i < 30 && (await hostState('host-d')) !== 'up'; i++) await sleep(200);
      assert.equal(await hostState('host-d'), 'up', 'its next heartbeat brings it up');

      // HA: the VM's host dies (agent and guests killed); the monitor declares it failed; the VM runs again once.
      const created = await t.call(t.adminToken, 'POST', '/v1/vms', {
        name: 'ha-real',
        flavor: 'm1.tiny',
        image: 'tiny',
        ha: true,
      });
      assert.equal(created.body.status, 'succeeded', JSON.stringify(created.body));
      const vm = (await t.call(t.adminToken, 'GET', `/v1/vms/${created.body.vmId}`)).body;
      const dead = agents.get(vm.hostName)!,
        other = vm.hostName === 'host-c' ? 'host-d' : 'host-c';
      dead.proc.kill('SIGKILL');
      spawnSync('pkill', ['-KILL', '-f', dead.dir]);
      await sleep(1500);
      t.clock.advanceBy(60);
      await sleep(1500); // the survivor reports at the new time
      assert.deepEqual(await t.cp.checkHeartbeats(t.admin, 30), [vm.hostName]);
      assert.deepEqual(await t.cp.checkHeartbeats(t.admin, 30), [], 'a failed host is handled once');
      const after = (await t.call(t.adminToken, 'GET', `/v1/vms/${vm.id}`)).body;
      assert.equal(after.state, 'running');
      assert.equal(after.hostName, other);
      const r = await fetch(`${agents.get(other)!.url}/v1/guests/${vm.id}`, {
        headers: { authorization: `Bearer ${credentialOf(agents.get(other)!.dir)}` },
      });
      assert.equal(((await r.json()) as { state: string }).state, 'running');
      const qemus = spawnSync('pgrep', ['-f', `${vm.id}`])
        .stdout.toString()
        .trim()
        .split('\n')
        .filter(Boolean);
      assert.equal(qemus.length, 1, 'exactly one QEMU runs the VM');
      const restarts = (await t.call(t.adminToken, 'GET', `/v1/events?vm=${vm.id}`)).body.filter(
        (e: { kind: string }) => e.kind === 'vm.ha.restarted',
      );
      assert.equal(restarts.length, 1);
    } finally {
      for (const p of mine) p.kill('SIGKILL');
      for (const d of myDirs) spawnSync('pkill', ['-KILL', '-f', d]);
      await t.close();
    }
  },
);
