/**
 * Agent ↔ control plane over TLS with a pinned CA and client certificates (mutual TLS): the
 * certificates are made with openssl as docs/security.md shows; a real agent enrolls, reports, and
 * runs a guest the control plane asks for over HTTPS. A client without a certificate from the CA,
 * and a control plane pinning another CA, are refused.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { buildApi } from '../src/api/server.ts';
import { ControlPlane, seedDemo } from '../src/control/control-plane.ts';
import { openStore } from '../src/control/store/open-store.ts';
import { hostRef } from '../src/core/host-driver.ts';
import { agentRequest } from '../src/drivers/agent/agent-request.ts';
import { createHostDrivers } from '../src/drivers/host-drivers.ts';
import { SimHypervisorDriver } from '../src/drivers/sim/sim-driver.ts';
import { RealClock } from '../src/runtime/clock.ts';
import { GUEST_DIR, tinyGuest } from './helpers/guest.ts';

const root = new URL('..', import.meta.url).pathname;
const g = tinyGuest();
const noOpenssl = spawnSync('openssl', ['version']).status === 0 ? undefined : 'openssl is not installed';
const procs: ChildProcess[] = [];
const dirs: string[] = [];
after(() => {
  for (const p of procs) p.kill('SIGKILL');
  for (const d of dirs) {
    spawnSync('pkill', ['-KILL', '-f', d]);
    rmSync(d, { recursive: true, force: true });
  }
});

/** A CA and certificates signed by it (EC P-256), as docs/security.md makes them. */
function makePki(dir: string, name: string) {
  const ssl = (...a: string[]) => execFileSync('openssl', a, { cwd: dir, stdio: 'pipe' });
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl(
    'req',
    '-x509',
    ...key,
    '-keyout',
    `${name}-ca.key`,
    '-out',
    `${name}-ca.pem`,
    '-days',
    '2',
    '-subj',
    `/CN=${name} CA`,
  );
  const leaf = (leafName: string, ext: string) => {
    writeFileSync(join(dir, `${leafName}.ext`), ext + '\n');
    ssl('req', ...key, '-keyout', `${leafName}.key`, '-out', `${leafName}.csr`, '-subj', `/CN=${leafName}`);
    ssl(
      'x509',
      '-req',
      '-in',
      `${leafName}.csr`,
      '-CA',
      `${name}-ca.pem`,
      '-CAkey',
      `${name}-ca.key`,
      '-CAcreateserial',
      '-out',
      `${leafName}.pem`,
      '-days',
      '2',
      '-extfile',
      `${leafName}.ext`,
    );
  };
  leaf(`${name}-agent`, 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth');
  leaf(`${name}-cp`, 'extendedKeyUsage=clientAuth');
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return {
    caFile: join(dir, `${name}-ca.pem`),
    ca: read(`${name}-ca.pem`),
    agentCert: join(dir, `${name}-agent.pem`),
    agentKey: join(dir, `${name}-agent.key`),
    cpCert: read(`${name}-cp.pem`),
    cpKey: read(`${name}-cp.key`),
  };
}

test(
  'over mutual TLS with a pinned CA, an agent enrolls, reports, and runs a guest for the control plane',
  { skip: noOpenssl ?? (typeof g === 'string' ? g : undefined), timeout: 120_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nubis-tls-'));
    dirs.push(dir);
    const pki = makePki(dir, 'nubis');
    const other = makePki(dir, 'other');
    const agentTls = { ca: pki.ca, cert: pki.cpCert, key: pki.cpKey };
    const db = await openStore(':memory:');
    const cp = new ControlPlane({
      db,
      clock: new RealClock(),
      hostDrivers: createHostDrivers({ sim: new SimHypervisorDriver(new RealClock()), agentTls }),
    });
    const adminToken = (await cp.bootstrap('admin-token'))!;
    const admin = (await cp.authenticate(adminToken))!;
    await seedDemo(cp, admin, 0);
    const app = buildApi(cp);
    try {
      const cpUrl = await app.listen({ host: '127.0.0.1', port: 0 });
      const { token } = await cp.enrollment.createJoinToken(admin, { expiresInS: 600 });
      const state = join(dir, 'agent');
      const p = spawn(
        process.execPath,
        [
          join(root, 'bin/nubis.js'),
          'agent',
          ...['--state', state, '--listen', '127.0.0.1:0', '--accel', 'tcg', '--name', 'tls-1'],
          ...['--join', cpUrl, '--heartbeat-s', '1', '--guest-dir', GUEST_DIR, '--memory-interval-s', '0'],
          ...['--tls-cert', pki.agentCert, '--tls-key', pki.agentKey, '--tls-client-ca', pki.caFile],
        ],
        { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, NUBIS_JOIN_TOKEN: token } },
      );
      procs.push(p);
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        p.stdout!.on('data', (x) => {
          out += x;
          const m = /listening on (https:\/\/\S+)[\s\S]*enrolled as host/.exec(out);
          if (m) resolve(m[1]!);
        });
        p.on('exit', (c) => reject(new Error(`agent exited ${c}: ${out}`)));
      });
      const row = await db
        .selectFrom('hosts')
        .selectAll()
        .where('name', '=', 'tls-1')
        .executeTakeFirstOrThrow();
      assert.equal(row.agent_url, url, 'bound to the https:// URL it enrolled with');
      assert.equal(statSync(join(state, 'enrollment.json')).mode & 0o777, 0o600, 'credentials file is 0600');
      const first = row.last_seen_at;
      let seen = first;
      for (let i = 0; i < 50 && seen === first; i++) {
        await new Promise((r) => setTimeout(r, 200));
        seen = (await db
          .selectFrom('hosts')
          .select('last_seen_at')
          .where('id', '=', row.id)
          .executeTakeFirst())!.last_seen_at;
      }
      assert.notEqual(seen, first, 'its heartbeats arrive');

      // A guest call over mutual TLS: create a VM on it, see the guest, delete it.
      const api = async (method: string, u: string, body?: object) => {
        const r = await app.inject({
          method: method as 'GET',
          url: u,
          headers: { authorization: `Bearer ${adminToken}` },
          ...(body ? { payload: body } : {}),
        });
        return JSON.parse(r.body);
      };
      const made = await api('POST', '/v1/vms', { name: 'tls-vm', flavor: 'm1.tiny', image: 'tiny' });
      assert.equal(made.status, 'succeeded', JSON.stringify(made));
      const guests = await cp.drivers.driverFor(row).list();
      assert.deepEqual(
        guests.map((x) => x.id),
        [made.vmId],
      );
      // The serial console over mutual TLS too: its log, and a WebSocket that opens (wss://).
      assert.equal(typeof (await cp.drivers.driverFor(row).consoleLog(made.vmId)).sizeBytes, 'number');
      const con = await cp.drivers.driverFor(row).openConsole(made.vmId);
      con.close();
      await assert.rejects(
        createHostDrivers({ agentTls: { ca: other.ca } })
          .forHost(hostRef(row))
          .openConsole(made.vmId),
        /unreachable/,
      );
      assert.equal((await api('DELETE', `/v1/vms/${made.vmId}`)).status, 'succeeded');
      assert.deepEqual(await cp.drivers.driverFor(row).list(), []);

      // Without a client certificate from the CA, or pinning another CA: refused before any request.
      const cred = `Bearer ${row.agent_credential}`;
      const get = { method: 'GET', headers: { authorization: cred } };
      await assert.rejects(agentRequest(`${url}/v1/guests`, get, { ca: pki.ca }));
      await assert.rejects(
        agentRequest(`${url}/v1/guests`, get, { ca: other.ca, cert: other.cpCert, key: other.cpKey }),
      );
      await assert.rejects(
        agentRequest(url.replace('https:', 'http:') + '/v1/guests', get, agentTls),
        /refusing to send a credential/,
      );
      assert.equal((await agentRequest(`${url}/v1/guests`, get, agentTls)).status, 200);
      const drv = createHostDrivers({ agentTls: { ca: other.ca } }).forHost(hostRef(row));
      await assert.rejects(drv.list(), /unreachable/);
    } finally {
      await app.close();
      await db.destroy();
    }
  },
);

test(
  'over mutual TLS, agents migrate a VM to each other with a ticket and their own client certificates',
  { skip: noOpenssl ?? (typeof g === 'string' ? g : undefined), timeout: 240_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nubis-tls-mig-'));
    dirs.push(dir);
    const pki = makePki(dir, 'nubis');
    const agentTls = { ca: pki.ca, cert: pki.cpCert, key: pki.cpKey };
    const db = await openStore(':memory:');
    const cp = new ControlPlane({
      db,
      clock: new RealClock(),
      hostDrivers: createHostDrivers({ sim: new SimHypervisorDriver(new RealClock()), agentTls }),
    });
    const adminToken = (await cp.bootstrap('admin-token'))!;
    const admin = (await cp.authenticate(adminToken))!;
    await seedDemo(cp, admin, 0);
    const app = buildApi(cp);
    try {
      const cpUrl = await app.listen({ host: '127.0.0.1', port: 0 });
      // Two agents requiring client certificates from the CA; each presents one to the other.
      const start = async (name: string) => {
        const { token } = await cp.enrollment.createJoinToken(admin, { expiresInS: 600 });
        const p = spawn(
          process.execPath,
          [
            join(root, 'bin/nubis.js'),
            'agent',
            ...['--state', join(dir, name), '--listen', '127.0.0.1:0', '--accel', 'tcg', '--name', name],
            ...['--join', cpUrl, '--heartbeat-s', '1', '--guest-dir', GUEST_DIR, '--memory-interval-s', '0'],
            ...['--tls-cert', pki.agentCert, '--tls-key', pki.agentKey, '--tls-client-ca', pki.caFile],
            ...['--peer-ca', pki.caFile, '--peer-cert', join(dir, 'nubis-cp.pem')],
            ...['--peer-key', join(dir, 'nubis-cp.key')],
          ],
          {
            cwd: root,
            stdio: ['ignore', 'pipe', 'inherit'],
            env: { ...process.env, NUBIS_JOIN_TOKEN: token },
          },
        );
        procs.push(p);
        await new Promise<void>((resolve, reject) => {
          let out = '';
          p.stdout!.on('data', (x) => {
            out += x;
            if (/enrolled as host/.test(out)) resolve();
          });
          p.on('exit', (c) => reject(new Error(`agent exited ${c}: ${out}`)));
        });
      };
      await Promise.all([start('tls-a'), start('tls-b')]);
      const api = async (method: string, u: string, body?: object) => {
        const r = await app.inject({
          method: method as 'GET',
          url: u,
          headers: { authorization: `Bearer ${adminToken}` },
          ...(body ? { payload: body } : {}),
        });
        return JSON.parse(r.body);
      };
      const made = await api('POST', '/v1/vms', { name: 'tls-mig', flavor: 'm1.tiny', image: 'tiny' });
      assert.equal(made.status, 'succeeded', JSON.stringify(made));
      const from = (await api('GET', `/v1/vms/${made.vmId}`)).hostName as string;
      await new Promise((r) => setTimeout(r, 6000)); // let it boot
      const mig = await api('POST', `/v1/vms/${made.vmId}/migrate`, {});
      assert.equal(mig.status, 'succeeded', JSON.stringify(mig));
      assert.equal(mig.result.status, 'completed');
      const to = (await api('GET', `/v1/vms/${made.vmId}`)).hostName as string;
      assert.notEqual(to, from);
      const rowTo = await db.selectFrom('hosts').selectAll().where('name', '=', to).executeTakeFirstOrThrow();
      assert.deepEqual(
        (await cp.drivers.driverFor(rowTo).list()).map((x) => [x.id, x.state]),
        [[made.vmId, 'running']],
      );
      assert.equal((await api('DELETE', `/v1/vms/${made.vmId}`)).status, 'succeeded');
    } finally {
      await app.close();
      await db.destroy();
    }
  },
);
