import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { sql } from 'kysely';
import { controlPlane } from './helpers/control.ts';

const PATHS = [
  '/v1/vms',
  '/v1/vms/%ID%',
  '/v1/vms/%ID%/actions',
  '/v1/hosts',
  '/v1/hosts/%ID%',
  '/v1/tenants',
  '/v1/users',
  '/v1/tokens',
  '/v1/tokens/%ID%',
  '/v1/flavors',
  '/v1/images',
  '/v1/server-groups',
  '/v1/operations/%ID%',
  '/v1/events',
  '/v1/me',
  '/openapi.json',
  '/nope',
  '/v1/vms?state=%ID%',
  '/v1/events?limit=%ID%',
];

test('thousands of random and malformed requests: no 5xx, no crash, a consistent database', async () => {
  const t = await controlPlane(':memory:', 3);
  const ok = await t.call(t.adminToken, 'POST', '/v1/vms', {
    name: 'seed',
    flavor: 'm1.small',
    image: 'tiny',
  });
  const ids = [ok.body.vmId, 'x', '', '%00', '../../etc', 'a'.repeat(300), '1', '-1'];
  let n = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'),
      fc.constantFrom(...PATHS),
      fc.constantFrom(...ids),
      fc.oneof(
        fc.constant(undefined),
        fc.jsonValue(),
        fc.record(
          {
            name: fc.string(),
            flavor: fc.string(),
            image: fc.string(),
            action: fc.constantFrom('start', 'stop', 'delete', 'x'),
            state: fc.string(),
            dryRun: fc.boolean(),
          },
          { requiredKeys: [] },
        ),
      ),
      fc.constantFrom(t.adminToken, 'bogus', undefined),
      fc.option(fc.string({ maxLength: 30 })),
      async (method, path, id, body, token, idem) => {
        n++;
        const url = path.replace('%ID%', encodeURIComponent(id));
        const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
        if (idem) headers['idempotency-key'] = idem;
        const r = await t.app.inject({
          method: method as 'GET',
          url,
          headers,
          ...(body !== undefined && method !== 'GET'
            ? { payload: JSON.stringify(body), headers: { ...headers, 'content-type': 'application/json' } }
            : {}),
        });
        assert.ok(r.statusCode < 500, `${method} ${url} ${JSON.stringify(body)} → ${r.statusCode} ${r.body}`);
        if (r.statusCode >= 400)
          assert.ok(typeof JSON.parse(r.body).code === 'string', 'errors are JSON with a code');
      },
    ),
    { numRuns: 3000, seed: 99 },
  );
  assert.equal(n, 3000);
  // Consistency: foreign keys hold, every live VM sits on a host that exists, in a valid state.
  const fk = await sql`pragma foreign_key_check`.execute(t.db);
  assert.deepEqual(fk.rows, []);
  const vms = await t.db
    .selectFrom('vms')
    .leftJoin('hosts', 'hosts.id', 'vms.host_id')
    .select(['vms.id', 'vms.state', 'hosts.id as host', 'vms.deleted_at'])
    .execute();
  for (const v of vms) {
    assert.ok(['building', 'running', 'stopped', 'suspended', 'error', 'deleted'].includes(v.state), v.state);
    if (!v.deleted_at) assert.ok(v.host, `VM ${v.id} has a host`);
    if (v.state === 'running')
      assert.equal((await t.sim.get(v.id))?.state, 'running', 'the hypervisor agrees');
  }
  // The usage counters equal what the live VMs add up to.
  const hosts = await t.db.selectFrom('hosts').selectAll().execute();
  for (const h of hosts) {
    const live = await t.db
      .selectFrom('vms')
      .innerJoin('flavors', 'flavors.id', 'vms.flavor_id')
      .select(['flavors.vcpus', 'flavors.memory_mib'])
      .where('vms.host_id', '=', h.id)
      .where('vms.deleted_at', 'is', null)
      .execute();
    assert.equal(
      Number(h.used_vcpus),
      live.reduce((s, x) => s + x.vcpus, 0),
      `host ${h.name} vCPU counter`,
    );
    assert.equal(
      Number(h.used_memory_mib),
      live.reduce((s, x) => s + x.memory_mib, 0),
      `host ${h.name} memory counter`,
    );
    assert.equal(Number(h.vm_count), live.length);
  }
  await t.close();
});
