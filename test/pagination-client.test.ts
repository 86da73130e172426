/** The client over paginated lists: list() follows every page, page() gives one page and its cursor. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { NubisClient } from '../src/client/index.ts';
import { decodeCursor, encodeCursor, pageOf } from '../src/control/store/keyset.ts';
import { controlPlane } from './helpers/control.ts';

let t: Awaited<ReturnType<typeof controlPlane>>;
let client: NubisClient;
let requests: string[] = [];
before(async () => {
  t = await controlPlane(':memory:', 3);
  const url = await t.app.listen({ host: '127.0.0.1', port: 0 });
  client = new NubisClient({
    baseUrl: url,
    token: t.adminToken,
    fetch: (input, init) => {
      requests.push(String(input));
      return fetch(input, init);
    },
  });
  const flavor = await t.db
    .selectFrom('flavors')
    .select('id')
    .where('name', '=', 'm1.tiny')
    .executeTakeFirstOrThrow();
  const image = await t.db
    .selectFrom('images')
    .select('id')
    .where('name', '=', 'tiny')
    .executeTakeFirstOrThrow();
  // 2,345 VMs: more than two pages of the client's 1,000 rows.
  for (let i = 0; i < 2345; i += 500)
    await t.db
      .insertInto('vms')
      .values(
        Array.from({ length: Math.min(500, 2345 - i) }, (_, j) => ({
          id: `vm-${String(i + j).padStart(5, '0')}`,
          tenant_id: t.admin.tenantId,
          name: `n${i + j}`,
          flavor_id: flavor.id,
          image_id: image.id,
          host_id: null,
          server_group_id: null,
          state: (i + j) % 2 ? 'running' : 'stopped',
          created_at: '2027-01-01T00:00:00.000Z',
          updated_at: '2027-01-01T00:00:00.000Z',
          deleted_at: null,
        })),
      )
      .execute();
});
after(() => t.close());

test('vms.list() follows every page; limit stops after that many rows', async () => {
  requests = [];
  const all = await client.vms.list();
  assert.equal(all.length, 2345);
  assert.equal(new Set(all.map((v) => v.id)).size, 2345);
  assert.equal(requests.length, 3, 'three pages of 1,000');
  assert.equal((await client.vms.list({ limit: 1500 })).length, 1500);
  assert.equal((await client.vms.list({ state: 'stopped' })).length, 1173);
  assert.deepEqual((await client.vms.list({ name: 'n234' })).map((v) => v.name).sort(), [
    'n234',
    'n2340',
    'n2341',
    'n2342',
    'n2343',
    'n2344',
  ]);
});

test('vms.page() gives one page, its nextCursor, and the fields asked for', async () => {
  const p1 = await client.vms.page({ limit: 3, fields: 'name' });
  assert.deepEqual(p1.items, [
    { id: 'vm-00000', name: 'n0' },
    { id: 'vm-00001', name: 'n1' },
    { id: 'vm-00002', name: 'n2' },
  ]);
  assert.ok(p1.nextCursor);
  const p2 = await client.vms.page({ limit: 3, fields: 'name', cursor: p1.nextCursor });
  assert.deepEqual(
    p2.items.map((v) => v.id),
    ['vm-00003', 'vm-00004', 'vm-00005'],
  );
  const a = await client.vms.page({ limit: 1000 });
  const b = await client.vms.page({ limit: 345, cursor: a.nextCursor });
  const last = await client.vms.page({ limit: 1000, cursor: b.nextCursor });
  assert.equal(last.items.length, 1000);
  assert.equal(last.nextCursor, undefined);
  assert.equal((await client.hosts.page({ limit: 2 })).items.length, 2);
  // Events: the first 100 by default, any number with limit (several pages).
  assert.ok((await client.events.list()).length <= 100);
});

test('a cursor round-trips any keyset and refuses any other list or an edit', () => {
  const key = fc.oneof(fc.string(), fc.integer());
  fc.assert(
    fc.property(fc.array(key, { minLength: 1, maxLength: 3 }), fc.string({ minLength: 1 }), (k, list) => {
      const c = encodeCursor(list, k);
      assert.deepEqual(decodeCursor(list, c, k.length), k);
      assert.throws(() => decodeCursor(list + 'x', c, k.length), /invalid cursor/);
      assert.throws(() => decodeCursor(list, c, k.length + 1), /invalid cursor/);
    }),
  );
});

test('paging a list in memory gives every row once, in order, whatever the page size', () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.integer({ min: 0, max: 500 }), { maxLength: 60 }),
      fc.integer({ min: 1, max: 20 }),
      (ids, limit) => {
        const rows = ids.map((id) => ({ id: `r${id}` }));
        const out: { id: string }[] = [];
        let cursor: string | undefined;
        for (let i = 0; i < 100; i++) {
          const p = pageOf('t', rows, { limit, cursor });
          out.push(...p.items);
          if (!p.nextCursor) break;
          cursor = p.nextCursor;
        }
        assert.deepEqual(out, rows);
      },
    ),
  );
});

test('a keyset walk of VMs gives the plain scan, on random rows, filters and page sizes', async () => {
  const flavor = (
    await t.db.selectFrom('flavors').select('id').where('name', '=', 'm1.tiny').executeTakeFirstOrThrow()
  ).id;
  const image = (
    await t.db.selectFrom('images').select('id').where('name', '=', 'tiny').executeTakeFirstOrThrow()
  ).id;
  const row = fc.record({
    id: fc.stringMatching(/^[a-z0-9]{1,6}$/),
    second: fc.integer({ min: 0, max: 5 }),
    state: fc.constantFrom('running', 'stopped'),
    deleted: fc.boolean(),
  });
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(row, { selector: (r) => r.id, maxLength: 40 }),
      fc.integer({ min: 1, max: 7 }),
      fc.constantFrom(undefined, 'running', 'stopped'),
      async (rows, limit, state) => {
        await t.db.deleteFrom('vms').execute();
        for (const r of rows)
          await t.db
            .insertInto('vms')
            .values({
              id: r.id,
              tenant_id: t.admin.tenantId,
              name: `x${r.id}`,
              flavor_id: flavor,
              image_id: image,
              host_id: null,
              server_group_id: null,
              state: r.state,
              created_at: `2027-01-01T00:00:0${r.second}.000Z`,
              updated_at: '2027-01-01T00:00:00.000Z',
              deleted_at: r.deleted ? '2027-01-02T00:00:00.000Z' : null,
            })
            .execute();
        const plain = (await t.cp.listVms(t.admin, { state })).map((v) => v.id);
        const walked: string[] = [];
        let cursor: string | undefined;
        for (let i = 0; i < 100; i++) {
          const p = await t.cp.pageVms(t.admin, { state }, { limit, cursor });
          walked.push(...p.items.map((v) => v.id));
          if (!p.nextCursor) break;
          cursor = p.nextCursor;
        }
        assert.deepEqual(walked, plain);
      },
    ),
    { numRuns: 30 },
  );
});
