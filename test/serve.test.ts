import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';

const root = new URL('..', import.meta.url).pathname;
const procs: ChildProcess[] = [];
const dirs: string[] = [];
after(() => {
  for (const p of procs) p.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function serve(data: string): Promise<{ url: string; proc: ChildProcess; out: () => string }> {
  const proc = spawn(
    process.execPath,
    [join(root, 'bin/nubis.js'), 'serve', '--port', '0', '--data', data, '--demo-hosts', '4'],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NUBIS_BOOTSTRAP_TOKEN: 'admin-tok' },
    },
  );
  procs.push(proc);
  let out = '';
  return new Promise((resolve, reject) => {
    proc.stdout!.on('data', (d) => {
      out += d;
      const m = /control plane on (http:\/\/[^ ]+)/.exec(out);
      if (m) resolve({ url: m[1]!, proc, out: () => out });
    });
    proc.stderr!.on('data', (d) => {
      out += d;
    });
    proc.on('exit', (c) => reject(new Error(`serve exited (${c}): ${out}`)));
  });
}

const mode = (f: string) => (statSync(f).mode & 0o777).toString(8);

test('nubis serve writes the admin token to a 0600 file (never to a piped stdout), keeps its files private, and the CLI creates and lists VMs over HTTP', async () => {
  const data = join(mkdtempSync(join(tmpdir(), 'nubis-serve-')), 'data');
  dirs.push(dirname(data));
  const s = await serve(data);
  const file = join(data, 'admin-token');
  assert.match(s.out(), new RegExp(`admin token written to ${file} \\(mode 0600\\)`));
  assert.doesNotMatch(
    s.out(),
    /admin-tok\b(?!en)/,
    'the token itself is not on a stdout that is not a terminal',
  );
  assert.equal(readFileSync(file, 'utf8'), 'admin-tok\n');
  assert.equal(mode(file), '600');
  assert.equal(mode(data), '700', 'the data folder is created 0700');
  for (const f of ['nubis.db', 'nubis.db-wal', 'nubis.db-shm']) assert.equal(mode(join(data, f)), '600', f);
  const env = { ...process.env, NUBIS_URL: s.url, NUBIS_TOKEN: 'admin-tok' };
  const cli = (...a: string[]) =>
    spawnSync(process.execPath, [join(root, 'bin/nubis.js'), ...a], { cwd: root, env, encoding: 'utf8' });
  const made = cli('vm', 'create', '--name', 'web-1', '--flavor', 'm1.small', '--image', 'tiny', '--json');
  assert.equal(made.status, 0, made.stderr);
  assert.equal(JSON.parse(made.stdout).status, 'succeeded', '--json prints the raw operation');
  assert.equal(JSON.parse(cli('vm', 'show', 'web-1', '--json').stdout).state, 'running');
  const list = JSON.parse(cli('vm', 'list', '--json').stdout);
  assert.deepEqual(
    list.map((v: { name: string; state: string }) => [v.name, v.state]),
    [['web-1', 'running']],
  );
  // The first start created the default tariff: the invoice (dates as YYYY-MM-DD) prices the VM.
  const today = new Date().toISOString().slice(0, 10),
    tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
  const invoice = cli('invoice', '--from', today, '--to', tomorrow);
  assert.equal(invoice.status, 0, invoice.stderr);
  assert.match(invoice.stdout, /m1\.small +default .* EUR/);
  assert.doesNotMatch(invoice.stdout, /No tariff/);
  const none = cli('vm', 'create', '--name', 'x', '--flavor', 'nope', '--image', 'tiny');
  assert.equal(none.status, 2);
  assert.match(none.stderr, /NOT_FOUND: No flavor "nope"/);
  // Operations from the CLI: an operator's move as a plan, an empty host switched off, metered energy.
  const where = JSON.parse(cli('vm', 'list', '--json').stdout)[0].hostName as string;
  const target = where === 'sim-001' ? 'sim-002' : 'sim-001';
  const audit = cli('plan', 'audit', '--move', `web-1=${target}`);
  assert.equal(audit.status, 0, audit.stderr);
  assert.match(audit.stdout, new RegExp(`migrate +web-1 +requested by an operator .* MiB`));
  const id = /plan ([0-9a-f-]{36}): proposed/.exec(audit.stdout)![1]!;
  assert.match(cli('plan', 'apply', id).stdout, /: applied/);
  assert.equal(JSON.parse(cli('vm', 'list', '--json').stdout)[0].hostName, target);
  assert.match(cli('host', 'power', where, 'off').stdout, new RegExp(`${where}: off`));
  assert.match(cli('host', 'power', target, 'off').stderr, /Cannot switch .* off: 1 VM\(s\) still on it/);
  const day = new Date().toISOString().slice(0, 10);
  const energy = cli('usage', 'energy', '--from', day, '--to', day, '--by', 'host');
  assert.equal(energy.status, 0, energy.stderr);
  assert.match(energy.stdout, /total/);
  const exited = new Promise((r) => s.proc.once('exit', r));
  s.proc.kill('SIGTERM');
  await exited;
  // A second start does not print a token again.
  const again = await serve(data);
  assert.doesNotMatch(again.out(), /admin token/);
  again.proc.kill('SIGKILL');
});

test('a server killed in the middle of a stream of creates keeps every acknowledged VM, once', async () => {
  const data = mkdtempSync(join(tmpdir(), 'nubis-crash-'));
  dirs.push(data);
  const s = await serve(data);
  const acked: string[] = [];
  let stop = false;
  const worker = async (w: number) => {
    for (let i = 0; !stop; i++) {
      const name = `w${w}-vm${i}`;
      try {
        const r = await fetch(`${s.url}/v1/vms`, {
          method: 'POST',
          headers: {
            authorization: 'Bearer admin-tok',
            'content-type': 'application/json',
            'idempotency-key': name,
          },
          body: JSON.stringify({ name, flavor: 'm1.tiny', image: 'tiny' }),
        });
        if (r.status === 202) acked.push(name);
      } catch {
        return;
      }
    }
  };
  const workers = [0, 1, 2, 3].map(worker);
  await new Promise((r) => setTimeout(r, 1500));
  const exited = new Promise((r) => s.proc.once('exit', r));
  s.proc.kill('SIGKILL');
  stop = true;
  await Promise.all(workers);
  await exited;
  assert.ok(acked.length >= 5, `some creates were acknowledged before the kill (${acked.length})`);
  const t = await serve(data);
  const vms = (await (
    await fetch(`${t.url}/v1/vms`, { headers: { authorization: 'Bearer admin-tok' } })
  ).json()) as { name: string; state: string }[];
  const names = vms.map((v) => v.name);
  for (const n of acked) assert.ok(names.includes(n), `acknowledged VM ${n} survived the crash`);
  assert.equal(new Set(names).size, names.length, 'nothing duplicated');
  assert.ok(
    vms.every((v) => v.state === 'running'),
    'no VM left half-built',
  );
  t.proc.kill('SIGKILL');
});

/** Run the CLI to completion (a server that starts instead of refusing is killed after 60 s). */
const nubis = (...a: string[]) =>
  spawnSync(process.execPath, [join(root, 'bin/nubis.js'), ...a], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });

test('nubis serve refuses a database URL it does not speak, and says what is accepted', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'nubis-db-'));
  dirs.push(cwd);
  const r = spawnSync(
    process.execPath,
    [join(root, 'bin/nubis.js'), 'serve', '--db', 'mysql://x', '--port', '0'],
    {
      cwd,
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  assert.equal(r.status, 2, r.stderr);
  assert.match(
    r.stderr,
    /Unsupported database URL "mysql:\/\/x".*accepted: sqlite:PATH, a file path, :memory:, or postgres:\/\//,
  );
  assert.deepEqual(readdirSync(cwd), [], 'no SQLite file named after the URL');
});

test('nubis serve says it cannot connect to PostgreSQL (host, port, database, reason) and never shows the password', () => {
  const r = nubis('serve', '--db', 'postgres://nubis:s3cret@127.0.0.1:1/clouddb', '--port', '0');
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /cannot connect to PostgreSQL at 127\.0\.0\.1:1\/clouddb: .*ECONNREFUSED/);
  assert.doesNotMatch(r.stderr + r.stdout, /s3cret|migration/);
});

test('nubis serve --reset-admin-token writes a new admin token to the 0600 file and prints its path; the old one stops working, the new one works on a running server', async () => {
  const data = mkdtempSync(join(tmpdir(), 'nubis-reset-'));
  dirs.push(data);
  const s = await serve(data);
  const vms = (token: string) => fetch(`${s.url}/v1/vms`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal((await vms('admin-tok')).status, 200);
  const r = nubis('serve', '--data', data, '--reset-admin-token');
  assert.equal(r.status, 0, r.stderr);
  const file = join(data, 'admin-token');
  assert.match(r.stdout, new RegExp(`admin token written to ${file} \\(mode 0600\\)`));
  const token = readFileSync(file, 'utf8').trim();
  assert.match(token, /^nubis_[A-Za-z0-9_-]{20,}$/);
  assert.equal(mode(file), '600');
  assert.doesNotMatch(r.stdout, new RegExp(token), 'not on a stdout that is not a terminal');
  assert.match(r.stderr, /new token for admin user "admin".*1 old token\(s\) revoked/);
  assert.doesNotMatch(r.stderr, new RegExp(token));
  // The running server caches token lookups for 2 s (docs/security.md): the old token stops working
  // within that bound, the new one works at once.
  assert.equal((await vms(token)).status, 200);
  let old = 200;
  for (let i = 0; i < 50 && old !== 401; i++) {
    old = (await vms('admin-tok')).status;
    if (old !== 401) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(old, 401);
  s.proc.kill('SIGKILL');
  // A mistyped data folder is refused rather than given a new, empty database.
  const missing = join(data, 'nope');
  const bad = nubis('serve', '--data', missing, '--reset-admin-token');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /No database at .*--reset-admin-token works on the data folder/);
  assert.equal(existsSync(missing), false);
});
