import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildApi } from '../src/api/server.ts';
import { controlPlane } from './helpers/control.ts';

const json = (r: { body: string }) => JSON.parse(r.body);

test('a server fault is a 500 with a request id, logged once as that id; every answer carries its id', async () => {
  const t = await controlPlane(':memory:', 1);
  const lines: Record<string, unknown>[] = [];
  const app = buildApi(t.cp, { log: (l) => lines.push(l) });
  t.cp.listFlavors = async () => {
    throw new Error('disk on fire');
  };
  const auth = { authorization: `Bearer ${t.adminToken}` };
  const r = await app.inject({ method: 'GET', url: '/v1/flavors', headers: auth });
  assert.equal(r.statusCode, 500);
  const id = r.headers['x-request-id'];
  assert.ok(typeof id === 'string' && id.length > 0);
  assert.equal(json(r).requestId, id);
  assert.doesNotMatch(r.body, /disk on fire/, 'the fault itself stays in the log');
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.requestId, id);
  assert.equal(lines[0]!.error, 'disk on fire');
  assert.equal(lines[0]!.route, '/v1/flavors');
  // A client error is not logged, and has its own id.
  const bad = await app.inject({ method: 'GET', url: '/v1/vms/nope', headers: auth });
  assert.equal(bad.statusCode, 404);
  assert.ok(bad.headers['x-request-id'] && bad.headers['x-request-id'] !== id);
  assert.equal(lines.length, 1);
  await app.close();
  await t.close();
});

test('rate limits count per token: one token throttled (429, Retry-After) leaves another alone', async () => {
  const t = await controlPlane(':memory:', 1);
  const app = buildApi(t.cp, { rateLimit: { max: 3, windowMs: 60_000 } });
  const other = (await t.call(t.adminToken, 'POST', '/v1/tokens', { name: 'second' })).body.token as string;
  const get = (tok: string) =>
    app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${tok}` } });
  const codes = [];
  for (let i = 0; i < 4; i++) codes.push((await get(t.adminToken)).statusCode);
  assert.deepEqual(codes, [200, 200, 200, 429]);
  const limited = await get(t.adminToken);
  assert.equal(limited.statusCode, 429);
  assert.ok(Number(limited.headers['retry-after']) > 0);
  assert.equal(json(limited).code, 'TOO_MANY_REQUESTS');
  assert.equal((await get(other)).statusCode, 200);
  await app.close();
  await t.close();
});

test('simulations: named inputs only, at most N at once (429), capped size and time, no file contents in answers', async () => {
  const t = await controlPlane(':memory:', 1);
  const dir = mkdtempSync(join(tmpdir(), 'nubis-simlim-'));
  const traces = join(dir, 'traces');
  mkdirSync(join(traces, 'day1'), { recursive: true });
  mkdirSync(join(dir, 'runs', 'inputs'), { recursive: true });
  writeFileSync(join(dir, 'runs', 'inputs', 'mine.yaml'), 'secret: hunter2\n');
  writeFileSync(join(dir, 'secret.json'), '{"password":"hunter2"}');
  // A stand-in for bin/nubis.js that writes a log quoting its input and never ends (the time cap stops it).
  const bin = join(dir, 'fake-nubis.mjs');
  writeFileSync(bin, "process.stderr.write('secret: hunter2\\n'); setInterval(() => {}, 1000);\n");
  const app = buildApi(t.cp, {
    simulations: { dir: join(dir, 'runs'), bin, traces, maxRuns: 2, maxHosts: 100, maxVms: 50, timeoutS: 1 },
  });
  const start = (body: object) =>
    app.inject({
      method: 'POST',
      url: '/v1/simulations',
      headers: { authorization: `Bearer ${t.adminToken}` },
      payload: { policies: ['thr-mmt'], ...body },
    });
  // Paths, traversal and unknown names are refused without contents or folder listings.
  for (const bad of [
    { scenario: '../secret.json' },
    { scenario: join(dir, 'secret.json') },
    { scenario: 'nope' },
    { scenario: 'synthetic', trace: '..' },
    { scenario: 'synthetic', trace: '../../etc' },
    { scenario: 'synthetic', trace: 'missing' },
    { scenario: 'synthetic', hosts: 101 },
    { scenario: 'planetlab', limitVms: 51 },
    { scenario: 'synthetic', name: '../x' },
  ]) {
    const r = await start(bad);
    assert.equal(r.statusCode, 400, `${JSON.stringify(bad)} → ${r.body}`);
    assert.doesNotMatch(r.body, /hunter2|day1|mine|secret\.json|inputs\//, r.body);
  }
  // A named input file and a named trace run; a third run at once is refused with Retry-After.
  const a = await start({ name: 'a', scenario: 'mine', trace: 'day1' });
  assert.equal(a.statusCode, 202, a.body);
  assert.match(
    readFileSync(join(dir, 'runs', 'a.running'), 'utf8'),
    /inputs\/mine\.yaml.*--trace .*traces\/day1/,
  );
  assert.equal((await start({ name: 'b', scenario: 'synthetic' })).statusCode, 202);
  const c = await start({ name: 'c', scenario: 'synthetic' });
  assert.equal(c.statusCode, 429);
  assert.ok(Number(c.headers['retry-after']) > 0);
  assert.match(json(c).message, /at most 2 at once/);
  // The time cap stops them; the answer says so and does not echo their log.
  const get = async (name: string) =>
    json(
      await app.inject({
        method: 'GET',
        url: `/v1/simulations/${name}`,
        headers: { authorization: `Bearer ${t.adminToken}` },
      }),
    );
  for (let i = 0; i < 100 && (await get('a')).status === 'running'; i++)
    await new Promise((r) => setTimeout(r, 100));
  const done = await get('a');
  assert.equal(done.status, 'failed');
  assert.match(done.error, /^stopped after 1 s/);
  assert.doesNotMatch(JSON.stringify(done), /hunter2/);
  for (let i = 0; i < 100 && (await get('b')).status === 'running'; i++)
    await new Promise((r) => setTimeout(r, 100));
  assert.equal((await start({ name: 'c', scenario: 'synthetic' })).statusCode, 202, 'room again');
  for (let i = 0; i < 100 && (await get('c')).status === 'running'; i++)
    await new Promise((r) => setTimeout(r, 100));
  await app.close();
  await t.close();
});
