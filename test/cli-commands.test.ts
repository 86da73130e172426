/**
 * The control plane's CLI against the in-process API over real HTTP: objects named by name or id,
 * --json prints the raw answer, errors are one line with exit 2, and every operation of the API is
 * reached by some command (the routes the server saw are compared with /openapi.json).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../src/api/server.ts';
import { ControlPlane, seedDemo } from '../src/control/control-plane.ts';
import { openStore } from '../src/control/store/open-store.ts';
import { createHostDrivers } from '../src/drivers/host-drivers.ts';
import { createImageFiles } from '../src/drivers/image-files.ts';
import { execFileSync } from 'node:child_process';
import { SimHypervisorDriver } from '../src/drivers/sim/sim-driver.ts';
import { SimClock } from '../src/runtime/clock.ts';

const root = new URL('..', import.meta.url).pathname;
const bin = join(root, 'bin/nubis.js');
/** Operations no CLI command sends, and why. */
const NOT_CLI = new Set([
  'POST /v1/agents/heartbeat' /* `nubis agent` sends it */,
  'POST /v1/agents/enroll' /* `nubis agent --join` sends it */,
  'GET /v1/agents/images/:id/data' /* the agent driver fetches images with its host credential */,
]);

let app: FastifyInstance;
let url = '';
const seen = new Set<string>();
const tokens: Record<string, string> = { admin: 'admin-tok' };
/** A folder for credentials files and token files (never the user's own ~/.config/nubis). */
const home = mkdtempSync(join(tmpdir(), 'nubis-cli-home-'));

before(async () => {
  const db = await openStore(':memory:');
  const clock = new SimClock(Date.parse('2026-11-02T10:00:00Z') / 1000);
  const cp = new ControlPlane({
    db,
    clock,
    hostDrivers: createHostDrivers({ sim: new SimHypervisorDriver(clock) }),
    imageFiles: createImageFiles(mkdtempSync(join(tmpdir(), 'nubis-cli-images-'))),
  });
  await cp.bootstrap('admin-tok');
  await seedDemo(cp, (await cp.authenticate('admin-tok'))!, 4);
  app = buildApi(cp, { simulations: { dir: mkdtempSync(join(tmpdir(), 'nubis-sims-')), bin } });
  app.addHook('onResponse', async (req) => {
    if (req.routeOptions.url) seen.add(`${req.method} ${req.routeOptions.url}`);
  });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
});
after(() => app.close());

/** Runs `nubis ARGS` as `who` (a token name, or null for none). */
function nubis(who: string | null, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return nubisEnv({ NUBIS_URL: url, NUBIS_TOKEN: who ? (tokens[who] ?? '') : '' }, ...args);
}
/** Runs `nubis ARGS` with these variables (no NUBIS_URL/NUBIS_TOKEN unless given); `STDIN` is fed to its stdin. */
function nubisEnv(
  vars: Record<string, string>,
  ...args: string[]
): Promise<{ code: number; out: string; err: string }> {
  const { NUBIS_URL: _u, NUBIS_TOKEN: _t, ...rest } = process.env;
  const env = { ...rest, NUBIS_CREDENTIALS: join(home, 'none'), ...vars };
  const stdin = vars.STDIN;
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [bin, ...args], { env, cwd: root }, (e, out, err) =>
      resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out, err }),
    );
    child.stdin!.end(stdin ?? '');
  });
}
/** Runs a command that must succeed and returns its parsed --json answer. */
async function json(who: string, ...args: string[]) {
  const r = await nubis(who, ...args, '--json');
  assert.equal(r.code, 0, `nubis ${args.join(' ')}: ${r.err}`);
  return JSON.parse(r.out);
}
/** Runs a command that must succeed and returns its human output. */
async function ok(who: string, ...args: string[]) {
  const r = await nubis(who, ...args);
  assert.equal(r.code, 0, `nubis ${args.join(' ')}: ${r.err}`);
  return r.out;
}

test('tenancy from the CLI: a tenant, a member and her token; a missing or revoked token says what to set', async () => {
  assert.equal((await json('admin', 'whoami')).role, 'admin');
  assert.equal((await ok('admin', 'health')).trim(), 'ok');
  assert.equal((await json('admin', 'tenant', 'create', 'acme', '--vms', '5')).quotas.vms, 5);
  assert.match(
    await ok('admin', 'tenant', 'set-quotas', 'acme', '--vcpus', '32'),
    /acme: 32 vCPUs, .* 5 VMs/,
  );
  assert.match(await ok('admin', 'tenant', 'list'), /^acme +[0-9a-f-]{36} +32 /m);
  const ann = await json('admin', 'user', 'create', 'ann', '--tenant', 'acme', '--role', 'member');
  // Not on a pipe: the secret goes to a 0600 file, stdout only names it.
  const piped = await nubis('admin', 'token', 'create', '--name', 'ann-cli', '--user', ann.id);
  assert.equal(piped.code, 2);
  assert.match(piped.err, /SECRET_NOT_ON_TERMINAL: stdout is not a terminal.*--output FILE/);
  const annFile = join(home, 'ann-token');
  const made = await ok(
    'admin',
    'token',
    'create',
    '--name',
    'ann-cli',
    '--user',
    ann.id,
    '--output',
    annFile,
  );
  assert.match(made, new RegExp(`written to ${annFile} \\(mode 0600\\)`));
  tokens.ann = readFileSync(annFile, 'utf8').trim();
  assert.match(tokens.ann!, /^nubis_\S+$/);
  assert.ok(!made.includes(tokens.ann!), 'the secret is not on stdout');
  assert.equal(statSync(annFile).mode & 0o777, 0o600);
  assert.equal((await json('ann', 'whoami')).userName, 'ann');
  const none = await nubis(null, 'vm', 'list');
  assert.equal(none.code, 2);
  assert.match(none.err, /^nubis: error: UNAUTHENTICATED: .*NUBIS_TOKEN or .*nubis login.*\n$/);
  const spareFile = join(home, 'spare-token');
  const spare = await json(
    'ann',
    'token',
    'create',
    '--name',
    'spare',
    '--expires-in-s',
    '3600',
    '--output',
    spareFile,
  );
  assert.equal(spare.token, undefined, '--json with --output leaves the secret out');
  tokens.spare = readFileSync(spareFile, 'utf8').trim();
  await ok('ann', 'token', 'revoke', spare.id);
  const revoked = await nubis('spare', 'vm', 'list');
  assert.equal(revoked.code, 2);
  assert.match(revoked.err, /UNAUTHENTICATED: The token is not valid/);
  assert.ok(
    !revoked.err.includes(tokens.spare!) && !revoked.out.includes(tokens.spare!),
    'the token is never printed',
  );
});

test('credentials: --token is refused, a credentials file is used only when mode 0600 and only for its URL, nubis login writes one', async () => {
  const argv = await nubisEnv({ NUBIS_URL: url }, 'whoami', '--token', 'admin-tok');
  assert.equal(argv.code, 2);
  assert.match(argv.err, /TOKEN_ON_ARGV: --token was removed.*NUBIS_TOKEN.*nubis login/);
  assert.ok(!argv.err.includes('admin-tok'), 'the token is not echoed');
  // JSON and INI files; group- or world-readable ones are refused, saying chmod 600.
  const jsonFile = join(home, 'creds.json');
  writeFileSync(jsonFile, JSON.stringify({ url, token: 'admin-tok' }), { mode: 0o644 });
  chmodSync(jsonFile, 0o644);
  const open = await nubisEnv({ NUBIS_CREDENTIALS: jsonFile }, 'whoami', '--json');
  assert.equal(open.code, 2);
  assert.match(
    open.err,
    new RegExp(
      `INSECURE_CREDENTIALS: ${jsonFile} is readable by other users \\(mode 644\\); run "chmod 600 ${jsonFile}"`,
    ),
  );
  assert.ok(!open.err.includes('admin-tok'));
  chmodSync(jsonFile, 0o600);
  assert.equal(
    JSON.parse((await nubisEnv({ NUBIS_CREDENTIALS: jsonFile }, 'whoami', '--json')).out).role,
    'admin',
  );
  const iniFile = join(home, 'creds.ini');
  writeFileSync(iniFile, `[default]\n# ann\nurl = ${url}\ntoken = "${tokens.ann}"\n`, { mode: 0o600 });
  assert.equal(
    JSON.parse((await nubisEnv({ NUBIS_CREDENTIALS: iniFile }, 'whoami', '--json')).out).userName,
    'ann',
  );
  // The file's token is not sent to another server.
  const elsewhere = await nubisEnv({ NUBIS_CREDENTIALS: iniFile, NUBIS_URL: 'http://127.0.0.1:9' }, 'whoami');
  assert.equal(elsewhere.code, 2);
  assert.match(
    elsewhere.err,
    /CREDENTIALS_URL_MISMATCH: the token in .* is for http:\/\/127\.0\.0\.1:\d+, not http:\/\/127\.0\.0\.1:9/,
  );
  // nubis login: the token from stdin, checked, stored 0600 (in a folder created 0700).
  const loginFile = join(home, 'cfg', 'nubis', 'credentials');
  const bad = await nubisEnv({ NUBIS_CREDENTIALS: loginFile, STDIN: 'wrong\n' }, 'login', '--url', url);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /UNAUTHENTICATED/);
  const login = await nubisEnv(
    { NUBIS_CREDENTIALS: loginFile, STDIN: `${tokens.ann}\n` },
    'login',
    '--url',
    url,
  );
  assert.equal(login.code, 0, login.err);
  assert.match(
    login.out,
    new RegExp(`logged in to ${url} as ann \\(member\\); credentials in ${loginFile} \\(mode 0600\\)`),
  );
  assert.ok(!login.out.includes(tokens.ann!));
  assert.equal(statSync(loginFile).mode & 0o777, 0o600);
  assert.equal(statSync(join(home, 'cfg', 'nubis')).mode & 0o777, 0o700);
  assert.equal(
    JSON.parse((await nubisEnv({ NUBIS_CREDENTIALS: loginFile }, 'whoami', '--json')).out).userName,
    'ann',
  );
  // The security log (admins): the tokens made above, never their secret; members are refused.
  const made = await json('admin', 'security', 'events', '--kind', 'token.created');
  assert.ok(made.some((e: { detail: { name: string } }) => e.detail.name === 'ann-cli'));
  const table = await ok('admin', 'security', 'events', '--kind', 'login.failed');
  assert.match(table, /login\.failed/);
  assert.ok(!table.includes(tokens.ann!) && !JSON.stringify(made).includes(tokens.ann!));
  const refused = await nubis('ann', 'security', 'events');
  assert.equal(refused.code, 2);
  assert.match(refused.err, /FORBIDDEN: security-event:read/);
});

test('VMs by name: one in each tenant with the same name is ambiguous for the admin, not for the member', async () => {
  assert.equal(
    (await json('admin', 'server-group', 'create', 'g1', '--policy', 'anti-affinity')).policy,
    'anti-affinity',
  );
  assert.match(await ok('admin', 'server-group', 'list'), /^g1 +anti-affinity /m);
  const op = await json(
    'admin',
    'vm',
    'create',
    '--name',
    'web',
    '--flavor',
    'm1.small',
    '--image',
    'tiny',
    '--server-group',
    'g1',
  );
  assert.equal(op.kind, 'create', '--json prints the raw operation');
  assert.match(
    await ok('ann', 'vm', 'create', '--name', 'web', '--flavor', 'm1.small', '--image', 'tiny'),
    /^web: create succeeded: running \(id [0-9a-f-]{36}\)\n$/,
    'members are not told the host',
  );
  const mine = await json('ann', 'vm', 'show', 'web');
  assert.equal(mine.name, 'web');
  assert.notEqual(mine.id, op.vmId);
  const amb = await nubis('admin', 'vm', 'show', 'web');
  assert.equal(amb.code, 2);
  assert.equal(amb.err.split('\n').length, 2, 'one line');
  assert.match(amb.err, /AMBIGUOUS: "web" names 2 VMs: web \(id .*\), web \(id .*\); give the id/);
  assert.ok(amb.err.includes(op.vmId) && amb.err.includes(mine.id), 'both candidates listed');
  assert.equal((await json('admin', 'vm', 'show', op.vmId)).id, op.vmId, 'an exact id wins');
  // A VM named like another VM's id: the id still wins, the name is still found when it is no id.
  await ok('ann', 'vm', 'create', '--name', op.vmId, '--flavor', 'm1.small', '--image', 'tiny');
  assert.equal((await json('admin', 'vm', 'show', op.vmId)).id, op.vmId, 'an id wins over a name');
  assert.equal((await json('admin', 'vm', 'stop', op.vmId)).vmId, op.vmId, 'actions too');
  await ok('admin', 'vm', 'start', op.vmId);
  const named = await json('ann', 'vm', 'show', op.vmId);
  assert.equal(named.name, op.vmId, 'the member, who cannot see that id, gets her VM by its name');
  await ok('ann', 'vm', 'delete', named.id);
  const dry = await ok(
    'ann',
    'vm',
    'create',
    '--name',
    'x',
    '--flavor',
    'm1.small',
    '--image',
    'tiny',
    '--dry-run',
  );
  assert.match(dry, /^a host has room for 1 vCPUs \/ 2 GiB/, 'a member is told it fits, not where');
  assert.doesNotMatch(dry, /sim-00\d/);
  const missing = await nubis('ann', 'vm', 'create', '--name', 'x', '--flavor', 'nope', '--image', 'tiny');
  assert.equal(missing.code, 2);
  assert.match(missing.err, /^nubis: error: NOT_FOUND: No flavor "nope"/);

  // Lifecycle by name, each answer an operation.
  for (const args of [
    ['stop'],
    ['start'],
    ['reboot'],
    ['suspend'],
    ['resume'],
    ['snapshot', '--name', 's1'],
    ['restore', '--snapshot', 's1'],
  ])
    assert.match(await ok('ann', 'vm', args[0]!, 'web', ...args.slice(1)), /^web: \w+ succeeded/, args[0]);
  assert.match(await ok('ann', 'vm', 'clone', 'web', '--name', 'web2'), /succeeded \(new VM /);
  await ok('ann', 'vm', 'stop', 'web2', '--idempotency-key', 'stop-web2');
  assert.match(await ok('ann', 'vm', 'resize', 'web2', '--flavor', 'm1.medium'), /succeeded/);
  const first = await json('admin', 'vm', 'show', op.vmId);
  const to = first.hostName === 'sim-001' ? 'sim-002' : 'sim-001';
  assert.equal(
    (await json('admin', 'vm', 'migrate', op.vmId, '--to', to, '--idempotency-key', 'm-1')).status,
    'succeeded',
  );
  assert.deepEqual(
    (await json('admin', 'vm', 'list', '--host', to)).map((v: { name: string }) => v.name),
    ['web'],
    'vm list --host takes a host name',
  );
  const listed = await ok('ann', 'vm', 'list', '--state', 'running');
  assert.match(listed, /^id +name +state/);
  assert.equal((await json('admin', 'metrics', 'report', 'web2=0.5', `${op.vmId}=0.25`)).recorded, 2);
  const ev = await json('ann', 'event', 'list', '--vm', 'web', '--limit', '100');
  assert.ok(
    ev.some((e: { kind: string }) => e.kind === 'vm.created' || e.kind === 'vm.placed'),
    JSON.stringify(ev.map((e: { kind: string }) => e.kind)),
  );
  const start = await json('ann', 'vm', 'start', 'web2');
  assert.equal((await json('ann', 'operation', 'show', start.id)).status, 'succeeded');
});

test('hosts, catalog, plans and automation from the CLI', async () => {
  assert.match(await ok('admin', 'host', 'list'), /^name +state +zone/);
  assert.equal((await json('admin', 'host', 'show', 'sim-004')).name, 'sim-004');
  assert.match(
    await ok(
      'admin',
      'host',
      'create',
      'h9',
      '--vcpus',
      '8',
      '--memory-mib',
      '16384',
      '--zone',
      'z2',
      '--power-model',
      '{"type":"linear","idleW":90,"maxW":200}',
    ),
    /^host h9: /,
  );
  const jt = await json('admin', 'host', 'join-token', 'create', '--expires-in-s', '600', '--name', 'rack-2');
  assert.match(jt.token, /^nubis_join_/);
  assert.equal(jt.name, 'rack-2');
  assert.match(await ok('admin', 'host', 'set-state', 'h9', 'maintenance'), /h9: maintenance/);
  assert.match(await ok('admin', 'host', 'undrain', 'h9'), /h9: up/);
  assert.match(await ok('admin', 'host', 'drain', 'sim-004'), /sim-004: maintenance; moved \d+ VM/);
  await ok('admin', 'host', 'undrain', 'sim-004');
  assert.match(await ok('admin', 'host', 'power', 'h9', 'off', '--reason', 'test'), /h9: off/);
  assert.match(await ok('admin', 'host', 'power', 'h9', 'on'), /h9: /);
  const bad = await nubis('admin', 'host', 'set-state', 'h9', 'sideways');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /BAD_ARGUMENT: state must be one of up, maintenance, off, failed/);
  assert.equal(
    (await json('admin', 'flavor', 'create', 'f1', '--vcpus', '1', '--memory-mib', '512', '--disk-gib', '1'))
      .name,
    'f1',
  );
  assert.match(await ok('ann', 'flavor', 'list'), /^f1 +1 +512 +1$/m);
  assert.equal(
    (await json('admin', 'image', 'create', 'img1', '--format', 'raw', '--size-mib', '10')).format,
    'raw',
  );
  assert.match(await ok('ann', 'image', 'list'), /^img1 +raw +10 +public +active$/m);
  const plan = await json('admin', 'plan', 'audit', '--move', `web2=sim-003`);
  assert.equal(plan.status, 'proposed');
  const shown = await ok('admin', 'plan', 'show', plan.id);
  assert.match(shown, /0\.0 s +[\d.]+ s +migrate +web2 /);
  assert.match(shown, /makespan [\d.]+ s/);
  assert.match(await ok('admin', 'plan', 'list'), new RegExp(plan.id));
  assert.match(await ok('admin', 'plan', 'discard', plan.id), /: discarded/);
  const plan2 = await json('admin', 'plan', 'audit', '--move', `web2=sim-003`);
  assert.match(await ok('admin', 'plan', 'apply', plan2.id, '--max-migrations-per-host', '1'), /: applied/);
  assert.match(
    await ok('admin', 'automation', 'set', 'partial', '--zone', 'z2', '--policy', 'reservation'),
    /zone z2: partial/,
  );
  assert.match(await ok('admin', 'automation', 'show'), /zone z2 +partial +reservation/);
  await ok('admin', 'automation', 'round');
  assert.match(await ok('admin', 'settings', 'pue', '1.4'), /PUE 1.4/);
  assert.match(await ok('admin', 'settings', 'ha-failover-hosts', '0'), /0 host/);
  const sg = await json(
    'ann',
    'scaling-group',
    'create',
    'sg1',
    '--flavor',
    'm1.tiny',
    '--image',
    'tiny',
    '--min',
    '1',
    '--max',
    '3',
    '--scale-out-above',
    '70',
    '--scale-in-below',
    '20',
  );
  assert.equal(sg.members.length, 1);
  assert.match(await ok('ann', 'scaling-group', 'report-metric', 'sg1', '90'), /sg1: 2 member/);
  assert.match(await ok('ann', 'scaling-group', 'show', 'sg1'), /members: /);
  assert.match(await ok('admin', 'overview'), /vms/);
  const dc = await ok('admin', 'datacenter');
  assert.match(dc, /^VMs: \d+ \(/m);
  assert.match(dc, /^hosts: \d+ \(\d+ up/m);
  assert.match(dc, /^HOST +STATE +ZONE/m);
  assert.doesNotMatch(await ok('admin', 'datacenter', '--no-hosts'), /^hosts:/m);
  assert.doesNotMatch(await ok('ann', 'datacenter'), /^hosts:/m); // members see no hosts
});

test('inventory from the CLI: edit and delete hosts, catalog, tenants, users, groups, tariffs, snapshots, by name, --json', async () => {
  for (const h of ['inv1', 'inv2'])
    await ok('admin', 'host', 'create', h, '--vcpus', '8', '--memory-mib', '16384', '--zone', 'zi');
  assert.equal(
    (await json('admin', 'host', 'update', 'inv1', '--cpu-ratio', '2', '--rack', 'r5')).rack,
    'r5',
  );
  assert.deepEqual(await json('admin', 'host', 'retire', 'inv1'), {
    host: 'inv1',
    deleted: true,
    moved: [],
    stuck: [],
  });
  assert.match(await ok('admin', 'host', 'delete', 'inv2'), /^host inv2 deleted$/m);
  const gone = await nubis('admin', 'host', 'show', 'inv2');
  assert.match(gone.err, /NOT_FOUND: No host "inv2"/);

  await ok('admin', 'flavor', 'create', 'fx', '--vcpus', '1', '--memory-mib', '128', '--disk-gib', '1');
  assert.equal((await json('admin', 'flavor', 'update', 'fx', '--name', 'fy', '--vcpus', '2')).vcpus, 2);
  assert.match(await ok('admin', 'flavor', 'delete', 'fy'), /flavor fy deleted/);
  await ok('admin', 'image', 'create', 'ix', '--format', 'raw', '--size-mib', '4');
  assert.equal((await json('admin', 'image', 'update', 'ix', '--size-mib', '8')).sizeMiB, 8);
  assert.deepEqual(await json('admin', 'image', 'delete', 'ix'), { deleted: 'ix' });

  assert.equal((await json('ann', 'tenant', 'show')).name, 'acme');
  assert.match(await ok('ann', 'tenant', 'show', 'acme'), /^quotas: .*\nused: /m);
  await ok('admin', 'tenant', 'create', 'tmp-t');
  assert.equal(
    (await json('admin', 'tenant', 'update', 'tmp-t', '--name', 'tmp-u', '--vms', '2')).quotas.vms,
    2,
  );
  assert.match(await ok('admin', 'tenant', 'delete', 'tmp-u'), /tenant tmp-u deleted/);

  const u = await json('admin', 'user', 'create', 'tmp-user', '--tenant', 'acme', '--role', 'reader');
  assert.ok(
    (await json('admin', 'user', 'list', '--tenant', 'acme')).some(
      (x: { name: string }) => x.name === 'tmp-user',
    ),
  );
  assert.deepEqual(
    (await json('ann', 'user', 'list')).map((x: { name: string }) => x.name),
    ['ann'],
  );
  assert.match(await ok('admin', 'user', 'set-role', u.id, 'member'), /tmp-user: member/);
  await ok('admin', 'user', 'delete', u.id);
  const mine = await json('ann', 'token', 'list');
  assert.ok(mine.length >= 1 && !JSON.stringify(mine).includes(tokens.ann!), 'no secret listed');

  await ok('admin', 'server-group', 'create', 'g-inv', '--policy', 'affinity');
  assert.deepEqual((await json('admin', 'server-group', 'show', 'g-inv')).members, []);
  await ok('admin', 'server-group', 'delete', 'g-inv');

  await ok(
    'admin',
    'scaling-group',
    'create',
    'sg-inv',
    '--flavor',
    'm1.tiny',
    '--image',
    'tiny',
    '--min',
    '0',
    '--max',
    '2',
    '--scale-out-above',
    '80',
    '--scale-in-below',
    '20',
  );
  assert.ok(
    (await json('admin', 'scaling-group', 'list')).some((g: { name: string }) => g.name === 'sg-inv'),
  );
  assert.equal(
    (await json('admin', 'scaling-group', 'update', 'sg-inv', '--desired', '1')).members.length,
    1,
  );
  assert.equal((await json('admin', 'scaling-group', 'delete', 'sg-inv')).members.length, 1);

  await ok('admin', 'vm', 'create', '--name', 'snapvm', '--flavor', 'm1.tiny', '--image', 'tiny');
  await ok('admin', 'vm', 'snapshot', 'snapvm', '--name', 's1');
  assert.deepEqual((await json('admin', 'vm', 'snapshots', 'snapvm')).snapshots, [{ name: 's1' }]);
  // The serial console log: the simulated boot log, its last bytes with --tail.
  assert.match(await ok('admin', 'vm', 'console', 'snapvm'), /nubis-ready/);
  const tail = await json('admin', 'vm', 'console', 'snapvm', '--tail', '20');
  assert.equal(Buffer.byteLength(tail.text), 20);
  assert.equal(tail.truncated, true);
  // The interactive console with standard input from a pipe: the session ends with it.
  const inter = await nubisEnv(
    { NUBIS_URL: url, NUBIS_TOKEN: tokens.admin!, STDIN: '' },
    'vm',
    'console',
    'snapvm',
    '-i',
  );
  assert.equal(inter.code, 0, inter.err);
  await ok('admin', 'vm', 'delete-snapshot', 'snapvm', 's1');
  assert.match(await ok('admin', 'vm', 'snapshots', 'snapvm'), /has no snapshots/);
  await ok('admin', 'vm', 'delete', 'snapvm');

  const t = await json(
    'admin',
    'tariff',
    'create',
    'old',
    '--valid-from',
    '2020-01-01',
    '--valid-to',
    '2021-01-01',
    '--vcpu-hour',
    '0.01',
    '--memory-gib-hour',
    '0',
    '--disk-gib-hour',
    '0',
    '--kwh',
    '0',
  );
  assert.equal((await json('admin', 'tariff', 'update', t.id, '--kwh', '0.2')).kWh, 0.2);
  await ok('admin', 'tariff', 'delete', t.id);
});

test('placement constraints from the CLI: create, join at vm create, a refused migrate names it, list, show, delete', async () => {
  const args = ['--flavor', 'm1.small', '--image', 'tiny'];
  await json('admin', 'vm', 'create', '--name', 'apart-1', ...args);
  const c = await json(
    'admin',
    'constraint',
    'create',
    'apart',
    '--type',
    'anti-affinity',
    '--vm',
    'apart-1',
  );
  assert.equal(c.type, 'anti-affinity');
  assert.deepEqual(
    c.vms.map((v: { name: string }) => v.name),
    ['apart-1'],
  );
  await json('admin', 'vm', 'create', '--name', 'apart-2', ...args, '--constraint', 'apart');
  const one = await json('admin', 'vm', 'show', 'apart-1');
  const two = await json('admin', 'vm', 'show', 'apart-2');
  assert.notEqual(one.hostId, two.hostId, 'the new VM joined the constraint');
  const refused = await nubis('admin', 'vm', 'migrate', 'apart-2', '--to', one.hostName);
  assert.equal(refused.code, 2);
  assert.match(
    refused.err,
    /CONSTRAINT_VIOLATED: apart-2 may not run on sim-00\d: anti-affinity "apart": apart-2 may not share/,
  );
  assert.match(
    await ok('admin', 'constraint', 'list'),
    /^apart +anti-affinity +yes +apart-1, apart-2 +- *$/m,
  );
  assert.match(await ok('admin', 'constraint', 'show', 'apart'), /holds now/);
  const bad = await nubis('admin', 'constraint', 'create', 'x', '--type', 'spread', '--over', 'shelf');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--over must be one of rack, zone, datacenter, got "shelf"/);
  assert.match(await ok('admin', 'constraint', 'delete', 'apart'), /constraint apart deleted/);
  assert.equal((await json('admin', 'constraint', 'list')).length, 0);
});

test('the constraint catalog from the CLI: VM groups, host groups, resources, a host rule, errors', async () => {
  const args = ['--flavor', 'm1.small', '--image', 'tiny'];
  for (const n of ['cat-1', 'cat-2', 'cat-3']) await json('admin', 'vm', 'create', '--name', n, ...args);
  const split = await json(
    'admin',
    'constraint',
    'create',
    'cat-split',
    '--type',
    'splitAmong',
    '--vm-group',
    'cat-1',
    '--vm-group',
    'cat-2,cat-3',
    '--host-group',
    'sim-001,sim-002',
    '--host-group',
    'sim-003,sim-004',
    '--continuous',
  );
  assert.deepEqual(split.vmGroups, [['cat-1'], ['cat-2', 'cat-3']]);
  assert.deepEqual(split.hostGroups, [{ hosts: ['sim-001', 'sim-002'] }, { hosts: ['sim-003', 'sim-004'] }]);
  assert.equal(split.continuous, true);
  assert.match(
    await ok('admin', 'constraint', 'show', 'cat-split'),
    /VM groups: cat-1 \| cat-2, cat-3\nhost groups: sim-001, sim-002 \| sim-003, sim-004/,
  );
  const ob = await json(
    'admin',
    'constraint',
    'create',
    'cat-ob',
    '--type',
    'overbook',
    '--host',
    'sim-001',
    '--resource',
    'vcpus',
    '--ratio',
    '2.5',
  );
  assert.equal(ob.ratio, 2.5);
  assert.deepEqual(ob.vms, []);
  const bad = await nubis(
    'admin',
    'constraint',
    'create',
    'x',
    '--type',
    'preserve',
    '--vm',
    'cat-1',
    '--resource',
    'vcpus',
  );
  assert.equal(bad.code, 2);
  assert.match(bad.err, /A preserve needs amount/);
  for (const n of ['cat-split', 'cat-ob']) await ok('admin', 'constraint', 'delete', n);
});

test('networks from the CLI: network, security group and rule, key pair, VM with --network --key --user-data, port, floating IP', async () => {
  const pub = join(home, 'id_ed25519.pub');
  writeFileSync(
    pub,
    'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@laptop\n',
  );
  const ud = join(home, 'user-data');
  writeFileSync(ud, '#!/bin/sh\necho hello\n');
  assert.match(
    await ok('admin', 'network', 'create', 'app-net', '--cidr', '10.20.0.0/24'),
    /app-net: 10\.20\.0\.0\/24, gateway 10\.20\.0\.1/,
  );
  await ok(
    'admin',
    'network',
    'create',
    'public',
    '--external',
    '--cidr',
    '203.0.113.0/24',
    '--pool',
    '203.0.113.10-203.0.113.20',
  );
  assert.match(await ok('admin', 'network', 'list'), /app-net/);
  assert.match(await ok('admin', 'network', 'show', 'app-net'), /gateway: 10\.20\.0\.1/);
  await ok('admin', 'security-group', 'create', 'web');
  await ok(
    'admin',
    'security-group',
    'rule',
    'add',
    'web',
    '--proto',
    'tcp',
    '--port',
    '22',
    '--from',
    '0.0.0.0/0',
  );
  const web = await json('admin', 'security-group', 'show', 'web');
  // A new group allows all egress; the rule added is its one ingress rule.
  assert.deepEqual(
    web.rules.map((r: { direction: string; portMin: number }) => [r.direction, r.portMin]).sort(),
    [
      ['egress', null],
      ['ingress', 22],
    ],
  );
  assert.match(await ok('admin', 'security-group', 'list'), /web/);
  assert.match(await ok('admin', 'keypair', 'create', 'mykey', '--public-key', pub), /SHA256:/);
  assert.match(await ok('admin', 'keypair', 'list'), /mykey/);
  assert.match(await ok('admin', 'keypair', 'show', 'mykey'), /ssh-ed25519/);
  const big = join(home, 'big');
  writeFileSync(big, 'x'.repeat(65537));
  const refused = await nubis(
    'admin',
    'vm',
    'create',
    '--name',
    'w0',
    '--flavor',
    'm1.small',
    '--image',
    'tiny',
    '--user-data',
    big,
  );
  assert.equal(refused.code, 2);
  assert.match(refused.err, /at most 65536/);
  const op = await json(
    'admin',
    'vm',
    'create',
    '--name',
    'web-1',
    '--flavor',
    'm1.small',
    '--image',
    'tiny',
    '--network',
    'app-net',
    '--security-group',
    'web',
    '--key',
    'mykey',
    '--user-data',
    ud,
  );
  const ports = await json('admin', 'port', 'list', '--vm', op.vmId);
  assert.equal(ports.length, 1);
  assert.match(await ok('admin', 'port', 'show', ports[0].id), /ips: 10\.20\.0\.2/);
  await ok('admin', 'port', 'update', ports[0].id, '--security-group', 'web', '--security-group', 'default');
  const fip = await json('admin', 'floating-ip', 'create');
  assert.match(await ok('admin', 'floating-ip', 'attach', fip.id, 'web-1'), /203\.0\.113\.10 → 10\.20\.0\.2/);
  assert.match(await ok('admin', 'floating-ip', 'list'), /203\.0\.113\.10/);
  assert.match(await ok('admin', 'floating-ip', 'show', fip.id), /fixed ip: 10\.20\.0\.2/);
  await ok('admin', 'floating-ip', 'detach', fip.id);
  await ok('admin', 'floating-ip', 'delete', fip.id);
  const free = await json('admin', 'port', 'create', '--network', 'app-net');
  await ok('admin', 'port', 'delete', free.id);
  const rule = web.rules[0].id;
  await ok('admin', 'security-group', 'rule', 'delete', 'web', rule);
  await ok('admin', 'keypair', 'delete', 'mykey');
  await ok('admin', 'security-group', 'create', 'tmp');
  await ok('admin', 'security-group', 'delete', 'tmp');
  await ok('admin', 'network', 'create', 'tmp-net', '--cidr', '10.99.0.0/24');
  await ok('admin', 'network', 'delete', 'tmp-net');
});

test('storage from the CLI: image upload/show/download, storage pool, volume create/attach/snapshot/detach/delete, vm create --volume', async () => {
  const disk = join(home, 'disk.qcow2');
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '16M']);
  const up = await json('admin', 'image', 'upload', 'cli-img', disk, '--public');
  assert.equal(up.format, 'qcow2');
  assert.equal(up.visibility, 'public');
  assert.match(await ok('admin', 'image', 'update', 'cli-img', '--private'), /updated: private$/m);
  assert.equal((await json('admin', 'image', 'update', 'cli-img', '--public')).visibility, 'public');
  assert.match(await ok('admin', 'image', 'show', 'cli-img'), /sha256/);
  const back = join(home, 'back.qcow2');
  assert.match(await ok('admin', 'image', 'download', 'cli-img', back), new RegExp(`sha256 ${up.sha256}`));
  assert.ok(readFileSync(back).equals(readFileSync(disk)));
  const notes = join(home, 'notes.txt');
  writeFileSync(notes, 'not a disk\n');
  const bad = await nubis('admin', 'image', 'upload', 'notes', notes);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /not a disk image/);
  assert.match(
    await ok('admin', 'storage-pool', 'create', 'nas', '--kind', 'shared'),
    /storage pool nas: shared/,
  );
  assert.match(await ok('admin', 'storage-pool', 'list'), /nas/);
  assert.match(await ok('admin', 'volume', 'create', 'data-1', '--size', '2', '--pool', 'nas'), /available/);
  await ok('admin', 'volume', 'create', 'data-2', '--size', '1', '--pool', 'nas');
  assert.match(
    await ok(
      'admin',
      'vm',
      'create',
      '--name',
      'db-1',
      '--flavor',
      'm1.small',
      '--image',
      'cli-img',
      '--volume',
      'data-1',
    ),
    /succeeded/,
  );
  assert.match(
    await ok('admin', 'volume', 'attach', 'data-2', 'db-1'),
    /in-use on VM db-1 .*; the guest sees/,
  );
  assert.match(
    await ok('admin', 'volume', 'snapshot', 'data-1', '--name', 'before-upgrade'),
    /before-upgrade/,
  );
  assert.match(await ok('admin', 'volume', 'snapshots', 'data-1'), /before-upgrade/);
  assert.match(await ok('admin', 'volume', 'delete-snapshot', 'data-1', 'before-upgrade'), /deleted/);
  assert.match(await ok('admin', 'volume', 'list'), /data-2\s+1\s+nas\s+in-use\s+db-1/);
  await ok('admin', 'volume', 'create', 'spare', '--size', '1', '--pool', 'nas');
  assert.deepEqual(
    ((await json('admin', 'volume', 'list', '--vm', 'db-1')) as { name: string }[]).map((v) => v.name),
    ['data-1', 'data-2'],
  );
  await ok('admin', 'volume', 'delete', 'spare');
  assert.match(await ok('admin', 'volume', 'detach', 'data-2'), /available/);
  assert.match(await ok('admin', 'volume', 'show', 'data-2'), /state +available/);
  assert.match(await ok('admin', 'volume', 'delete', 'data-2'), /deleted/);
  assert.match(await ok('admin', 'vm', 'delete', 'db-1'), /delete succeeded/);
  await ok('admin', 'volume', 'delete', 'data-1');
});

test('billing, energy, simulations from the CLI; every API operation has a command', async () => {
  const t = await json(
    'admin',
    'tariff',
    'create',
    'std',
    '--valid-from',
    '2026-01-01',
    '--currency',
    'EUR',
    '--vcpu-hour',
    '0.01',
    '--memory-gib-hour',
    '0.005',
    '--disk-gib-hour',
    '0.0001',
    '--kwh',
    '0.3',
  );
  assert.equal(t.validFrom, '2026-01-01T00:00:00.000Z', 'YYYY-MM-DD is midnight UTC');
  assert.match(await ok('ann', 'tariff', 'list'), /^std /m);
  assert.match(await ok('ann', 'usage', 'show', '--from', '2026-11-01', '--to', '2026-11-03'), /^total /m);
  assert.ok(
    Array.isArray((await json('ann', 'usage', 'daily', '--from', '2026-11-01', '--to', '2026-11-03')).rows),
  );
  assert.match(
    await ok('admin', 'invoice', '--from', '2026-11-01', '--to', '2026-11-03', '--tenant', 'acme'),
    /^total .*0\.00/m,
  );
  assert.match(
    await ok('ann', 'invoice', '--from', '2026-11-01', '--to', '2026-11-03', '--csv'),
    /^flavor,tariff,currency/,
  );
  assert.match(
    await ok('admin', 'energy', '--from', '2026-11-02', '--to', '2026-11-02', '--by', 'host'),
    /^total /m,
  );
  assert.match(
    await ok('admin', 'usage', 'energy', '--from', '2026-11-02', '--to', '2026-11-02'),
    /^total /m,
  );
  assert.deepEqual(await json('admin', 'simulation', 'list'), []);
  const nope = await nubis('admin', 'simulation', 'show', 'nope');
  assert.match(nope.err, /^nubis: error: NOT_FOUND: No simulation run "nope"\n$/);
  const badStart = await nubis(
    'admin',
    'simulation',
    'start',
    '--scenario',
    'synthetic',
    '--policy',
    'thr-mmt',
    '--mode',
    'warp',
  );
  assert.match(badStart.err, /BAD_REQUEST: Invalid request: body.mode/);
  // Memory: a host's demand (admins and operators) and a VM's summary (its tenant), never hashes.
  const hm = await json('admin', 'host', 'memory', 'sim-001');
  assert.equal(hm.policy, 'static');
  assert.ok(hm.demand.configuredMiB >= 0 && Array.isArray(hm.vms));
  const vm = await json('ann', 'vm', 'memory', 'web2');
  assert.equal(vm.memorySharing, 'shared');
  assert.ok(!JSON.stringify(vm).includes('hashes'));
  assert.match((await nubis('ann', 'host', 'memory', 'sim-001')).err, /FORBIDDEN|NOT_FOUND/);
  await ok('admin', 'openapi');
  assert.match(await ok('ann', 'vm', 'delete', 'web2'), /^web2: delete succeeded/);

  const doc = await json('admin', 'openapi');
  const all = Object.entries(doc.paths as Record<string, object>).flatMap(([p, ops]) =>
    Object.keys(ops).map((m) => `${m.toUpperCase()} ${p.replace(/\{(\w+)\}/g, ':$1')}`),
  );
  const missing = all.filter((op) => !seen.has(op) && !NOT_CLI.has(op));
  assert.deepEqual(missing, [], 'operations no CLI command reached');
});
