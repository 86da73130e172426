/** The typed client against the in-process API over real HTTP: answers, errors, idempotency, text. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApiError, NubisClient } from '../src/client/index.ts';
import { controlPlane } from './helpers/control.ts';

let t: Awaited<ReturnType<typeof controlPlane>>;
let client: NubisClient;
before(async () => {
  t = await controlPlane(':memory:', 2);
  const url = await t.app.listen({ host: '127.0.0.1', port: 0 });
  client = new NubisClient({ baseUrl: url + '/', token: t.adminToken });
});
after(() => t.close());

test('NubisClient answers typed objects per resource, and the same Idempotency-Key gives the same operation', async () => {
  assert.equal((await client.meta.me()).role, 'admin');
  assert.deepEqual(
    (await client.hosts.list()).map((h) => h.name),
    ['sim-001', 'sim-002'],
  );
  const a = await client.vms.create(
    { name: 'c1', flavor: 'm1.tiny', image: 'tiny' },
    { idempotencyKey: 'k-1' },
  );
  const b = await client.vms.create(
    { name: 'c1', flavor: 'm1.tiny', image: 'tiny' },
    { idempotencyKey: 'k-1' },
  );
  assert.equal(b.id, a.id);
  assert.equal((await client.vms.get(a.vmId!)).state, 'running');
  assert.equal((await client.operations.get(a.id)).vmId, a.vmId);
  const stopped = await client.vms.action(a.vmId!, 'stop');
  assert.equal(stopped.status, 'succeeded');
  assert.deepEqual(
    (await client.vms.list({ state: 'stopped' })).map((v) => v.name),
    ['c1'],
  );
});

test('every failure is an ApiError with the status, the code, the message and the other fields as details', async () => {
  const err = await client.vms
    .create({ name: 'huge', flavor: 'm1.xlarge', image: 'tiny', zone: 'nowhere' })
    .catch((e: unknown) => e);
  assert.ok(err instanceof ApiError);
  assert.equal(err.status, 409);
  assert.equal(err.code, 'NO_HOST_FITS');
  assert.ok(
    Array.isArray(err.details.rejected) && err.details.rejected.length === 2,
    JSON.stringify(err.details),
  );
  const bad = await client.flavors.create({ name: '', vcpus: 0, memoryMiB: 1, diskGiB: 0 }).catch((e) => e);
  assert.equal(bad.status, 400);
  assert.equal(bad.code, 'BAD_REQUEST');
  assert.ok(Array.isArray(bad.details.issues));
  const anon = new NubisClient({ baseUrl: client.http.baseUrl });
  const unauth = await anon.vms.list().catch((e) => e);
  assert.equal(unauth.status, 401);
  assert.match(unauth.message, /NUBIS_TOKEN or the credentials file/);
  const down = await new NubisClient({ baseUrl: 'http://127.0.0.1:1' }).meta.health().catch((e) => e);
  assert.equal(down.status, 0);
  assert.equal(down.code, 'UNREACHABLE');
  assert.match(down.message, /Cannot reach the control plane at http:\/\/127.0.0.1:1/);
});

test('an invoice comes as JSON or as CSV text; the token is read on every call', async () => {
  const period = { from: '2020-01-01T00:00:00Z', to: '2030-01-01T00:00:00Z' };
  assert.ok(Array.isArray((await client.invoices.get(period)).totals));
  assert.match(await client.invoices.csv(period), /^flavor,tariff,currency,/);
  let token: string | null = null;
  const late = new NubisClient({ baseUrl: client.http.baseUrl, token: () => token });
  assert.equal((await late.meta.me().catch((e) => e)).status, 401);
  token = t.adminToken;
  assert.equal((await late.meta.me()).role, 'admin');
});

test('an empty id or name is refused before any call is made', async () => {
  let calls = 0;
  const c = new NubisClient({
    baseUrl: 'http://127.0.0.1:1',
    fetch: (async () => {
      calls++;
      throw new Error('no call expected');
    }) as typeof fetch,
  });
  await assert.rejects(
    async () => c.floatingIps.attach('', { vm: 'web-1' }),
    (e: unknown) => e instanceof ApiError && e.code === 'BAD_ARGUMENT' && /empty/.test(e.message),
  );
  assert.equal(calls, 0);
});
