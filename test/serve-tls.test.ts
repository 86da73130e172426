/**
 * `nubis serve` over HTTPS (issue 11): certificates made with openssl as docs/security.md shows;
 * serve with --tls-cert/--tls-key and --tls-client-ca (mutual TLS on the agents' routes); an agent
 * pinning the control plane's CA (--control-plane-ca) enrolls and heartbeats over TLS, presenting its
 * certificate; an agent pinning another CA is refused before it sends its join token, and a client
 * without a certificate from the CA may not enroll (people's routes need only their token).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { NubisClient } from '../src/client/index.ts';
import { pinnedFetch } from '../src/cli/pinned-fetch.ts';

const root = new URL('..', import.meta.url).pathname;
const noOpenssl = spawnSync('openssl', ['version']).status === 0 ? undefined : 'openssl is not installed';
const procs: ChildProcess[] = [];
const dirs: string[] = [];
after(() => {
  for (const p of procs) p.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A CA (`NAME-ca.pem`) and leaf certificates signed by it (EC P-256), as docs/security.md makes them. */
function makePki(dir: string, name: string, leaves: Record<string, string>) {
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
  for (const [leaf, ext] of Object.entries(leaves)) {
    writeFileSync(join(dir, `${leaf}.ext`), ext + '\n');
    ssl('req', ...key, '-keyout', `${leaf}.key`, '-out', `${leaf}.csr`, '-subj', `/CN=${leaf}`);
    ssl(
      'x509',
      ...[
        '-req',
        '-in',
        `${leaf}.csr`,
        '-CA',
        `${name}-ca.pem`,
        '-CAkey',
        `${name}-ca.key`,
        '-CAcreateserial',
      ],
      ...['-out', `${leaf}.pem`, '-days', '2', '-extfile', `${leaf}.ext`],
    );
  }
  return (f: string) => join(dir, f);
}

/** Run `nubis ARGS` until its stdout matches `until`; resolves with the match (rejects when it exits first). */
function run(args: string[], until: RegExp, env: Record<string, string> = {}) {
  const p = spawn(process.execPath, [join(root, 'bin/nubis.js'), ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  procs.push(p);
  let out = '';
  let err = '';
  p.stderr!.on('data', (x) => (err += x));
  const matched = new Promise<RegExpExecArray>((resolve, reject) => {
    p.stdout!.on('data', (x) => {
      out += x;
      const m = until.exec(out);
      if (m) resolve(m);
    });
    p.on('exit', (c) => reject(new Error(`nubis ${args[0]} exited ${c}: ${out}${err}`)));
  });
  return { p, matched, out: () => out, err: () => err };
}

test(
  'serve speaks TLS; an agent pinning its CA enrolls and heartbeats over mutual TLS; another CA is refused',
  { skip: noOpenssl, timeout: 120_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nubis-serve-tls-'));
    dirs.push(dir);
    const ip = 'subjectAltName=IP:127.0.0.1';
    const f = makePki(dir, 'nubis', {
      cp: `${ip}\nextendedKeyUsage=serverAuth`,
      agent: `${ip}\nextendedKeyUsage=serverAuth,clientAuth`,
    });
    const o = makePki(dir, 'other', { 'other-agent': `${ip}\nextendedKeyUsage=serverAuth,clientAuth` });
    const serve = run(
      [
        'serve',
        ...['--data', join(dir, 'data'), '--port', '0', '--demo-hosts', '0', '--sim-load-interval-s', '0'],
        ...['--tls-cert', f('cp.pem'), '--tls-key', f('cp.key'), '--tls-client-ca', f('nubis-ca.pem')],
        ...[
          '--agent-ca',
          f('nubis-ca.pem'),
          '--agent-client-cert',
          f('agent.pem'),
          '--agent-client-key',
          f('agent.key'),
        ],
      ],
      /nubis control plane on (\S+)/,
      { NUBIS_BOOTSTRAP_TOKEN: 'admin-tok' },
    );
    const cpUrl = (await serve.matched)[1]!;
    assert.match(cpUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
    const ca = readFileSync(f('nubis-ca.pem'), 'utf8');
    // People's routes: the token is enough (no client certificate), with the CA pinned.
    const admin = new NubisClient({ baseUrl: cpUrl, token: 'admin-tok', fetch: pinnedFetch({ ca }) });
    assert.match(JSON.stringify(await admin.http.get('/v1/me')), /"role":"admin"/);
    // Plain HTTP and another CA are refused by the client before any request.
    await assert.rejects(
      new NubisClient({ baseUrl: cpUrl.replace('https:', 'http:'), fetch: pinnedFetch({ ca }) }).http.get(
        '/healthz',
      ),
      /plain HTTP/,
    );
    const otherCa = readFileSync(o('other-ca.pem'), 'utf8');
    await assert.rejects(
      new NubisClient({ baseUrl: cpUrl, fetch: pinnedFetch({ ca: otherCa }) }).http.get('/healthz'),
    );

    const joinToken = async () =>
      (await admin.http.post<{ token: string }>('/v1/hosts/join-tokens', { expiresInS: 600 })).token;
    // Enrollment without a client certificate from the CA: 401, the join token is not spent.
    const token = await joinToken();
    const bare = new NubisClient({ baseUrl: cpUrl, fetch: pinnedFetch({ ca }) });
    await assert.rejects(
      bare.agents.enroll({
        joinToken: token,
        hostname: 'x',
        agentUrl: 'https://127.0.0.1:1',
        cpus: 1,
        memoryMiB: 512,
        agentCredential: 'c'.repeat(43),
      }),
      (e: { status: number; message: string }) => e.status === 401 && /client certificate/.test(e.message),
    );

    // The agent pins the control plane's CA and presents its certificate: enrolls, then heartbeats.
    const state = join(dir, 'agent');
    const agent = run(
      [
        'agent',
        ...[
          '--state',
          state,
          '--listen',
          '127.0.0.1:0',
          '--accel',
          'tcg',
          '--name',
          'tls-a',
          '--memory-interval-s',
          '0',
        ],
        ...['--join', cpUrl, '--control-plane-ca', f('nubis-ca.pem'), '--heartbeat-s', '1'],
        ...['--tls-cert', f('agent.pem'), '--tls-key', f('agent.key'), '--tls-client-ca', f('nubis-ca.pem')],
      ],
      /enrolled as host (\S+) at (https:\/\/\S+)/,
      { NUBIS_JOIN_TOKEN: token },
    );
    const [, hostId] = await agent.matched;
    const seen = async () =>
      (await admin.http.get<{ lastSeenAt: string | null }>(`/v1/hosts/${hostId}`)).lastSeenAt;
    const first = await seen();
    let now = first;
    for (let i = 0; i < 60 && now === first; i++) {
      await new Promise((r) => setTimeout(r, 250));
      now = await seen();
    }
    assert.notEqual(now, first, `its heartbeats arrive over TLS: ${agent.err()}`);
    assert.equal(JSON.parse(readFileSync(join(state, 'enrollment.json'), 'utf8')).controlPlane, cpUrl);

    // An agent pinning another CA refuses the control plane's certificate: it never enrolls.
    const wrong = run(
      [
        'agent',
        ...['--state', join(dir, 'agent-2'), '--listen', '127.0.0.1:0', '--accel', 'tcg', '--name', 'tls-b'],
        ...['--join', cpUrl, '--control-plane-ca', o('other-ca.pem'), '--memory-interval-s', '0'],
        ...['--tls-cert', o('other-agent.pem'), '--tls-key', o('other-agent.key')],
      ],
      /enrolled as host/,
      { NUBIS_JOIN_TOKEN: await joinToken() },
    );
    await assert.rejects(wrong.matched, /exited/);
    assert.match(wrong.err(), /Cannot reach the control plane .*(certificate|self.signed|issuer)/i);
    const hosts = await admin.http.get<{ name: string }[]>('/v1/hosts');
    assert.deepEqual(
      hosts.map((h) => h.name),
      ['tls-a'],
    );
  },
);
