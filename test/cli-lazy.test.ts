import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

const root = new URL('..', import.meta.url).pathname;
const DAY = join(root, '../shared/data/planetlab/20110303');
const bin = join(root, 'bin/nubis.js');

// A loader hook that refuses the control plane's and the agent's packages: a command that loads one
// of them fails with "refused: NAME".
const HEAVY = ['fastify', '@fastify/rate-limit', 'kysely', 'better-sqlite3', 'pg', 'ws', 'highs'];
const hook = `export async function resolve(s, c, next) {
  if (${JSON.stringify(HEAVY)}.includes(s)) throw new Error('refused: ' + s);
  return next(s, c);
}`;
const register = `import { register } from 'node:module';
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});`;

function nubisWithoutServerPackages(...args: string[]) {
  const r = spawnSync(
    process.execPath,
    ['--import', `data:text/javascript,${encodeURIComponent(register)}`, bin, ...args],
    { encoding: 'utf8', cwd: root },
  );
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('nubis sim runs without loading the server, store or agent packages (each command loads only its own modules)', () => {
  const r = nubisWithoutServerPackages('sim', '--trace', DAY, '--limit-vms', '20', '--hosts', '10', '--json');
  assert.equal(r.code, 0, r.err);
  const rows = JSON.parse(r.out) as { day: string; policy: string }[];
  assert.ok(rows.length > 0 && rows.every((row) => row.day === '20110303'));
  assert.equal(nubisWithoutServerPackages('sim', '--help').code, 0);
  // The hook does refuse them: serve needs fastify and the stores.
  const serve = nubisWithoutServerPackages('serve', '--help');
  assert.notEqual(serve.code, 0);
  assert.match(serve.err, /refused: /);
});

test('nubis --help still lists every command group (help loads them all)', () => {
  const r = spawnSync(process.execPath, [bin, '--help'], { encoding: 'utf8', cwd: root });
  assert.equal(r.status, 0, r.stderr);
  for (const name of ['sim', 'agent', 'guest', 'serve', 'vm', 'host', 'plan', 'login'])
    assert.match(r.stdout, new RegExp(`^  ${name}\\b`, 'm'), `${name} missing from nubis --help`);
});
