import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CompiledQuery, sql } from 'kysely';
import { controlPlane, storeBackends } from './helpers/control.ts';

/** Every GET list of /v1 (issue 15): each takes limit, cursor and fields. */
const LISTS = [
  '/v1/vms',
  '/v1/hosts',
  '/v1/events',
  '/v1/flavors',
  '/v1/images',
  '/v1/constraints',
  '/v1/floating-ips',
  '/v1/keypairs',
  '/v1/networks',
  '/v1/ports',
  '/v1/plans',
  '/v1/scaling-groups',
  '/v1/security-groups',
  '/v1/server-groups',
  '/v1/tenants',
  '/v1/users',
  '/v1/tokens',
  '/v1/storage-pools',
  '/v1/volumes',
  '/v1/tariffs',
];

type Row = { id: string; name?: string; tenantId?: string; [k: string]: unknown };

for (const backend of storeBackends())
  describe(`every list is paginated on ${backend.name}`, () => {
    if (backend.skip) return void test(`every test on ${backend.name}`, { skip: backend.skip });
    let t: Awaited<ReturnType<typeof controlPlane>>;
    let drop: () => Promise<void>;
    let ann = '';
    let acme = '';
    let zeta = '';
    let n = 0;
    let flavorId = '';
    let imageId = '';

    /** Writes a VM row directly (`at`: its creation second; equal ones tie and the id decides). */
    const addVm = async (tenantId: string, at: number, state = 'running') => {
      const id = `vm-${String(n).padStart(4, '0')}-${(n * 7919) % 1000}`;
      const time = new Date(Date.UTC(2027, 0, 1) + at * 1000).toISOString();
      await t.db
        .insertInto('vms')
        .values({
          id,
          tenant_id: tenantId,
          name: `v${n++}`,
          flavor_id: flavorId,
          image_id: imageId,
          host_id: null,
          server_group_id: null,
          state,
          created_at: time,
          updated_at: time,
          deleted_at: null,
        })
        .execute();
      return id;
    };

    /** Every page of a list, following X-Next-Cursor; checks the Link header on the way. */
    const walk = async (token: string, url: string, limit: number, between?: () => Promise<void>) => {
      const out: Row[] = [];
      let next: string | undefined = `${url}${url.includes('?') ? '&' : '?'}limit=${limit}`;
      for (let guard = 0; next && guard < 10000; guard++) {
        const r: { statusCode: number; body: string; headers: Record<string, unknown> } = await t.app.inject({
          method: 'GET',
          url: next,
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(r.statusCode, 200, `${next}: ${r.body}`);
        const rows = JSON.parse(r.body) as Row[];
        assert.ok(rows.length <= limit, `${next}: ${rows.length} rows > limit ${limit}`);
        out.push(...rows);
        const cursor = r.headers['x-next-cursor'] as string | undefined;
        if (cursor) {
          const link = String(r.headers.link);
          assert.match(link, /^<\/v1\/[^>]*>; rel="next"$/);
          const u = new URL(link.slice(1, link.indexOf('>')), 'http://x');
          assert.equal(u.searchParams.get('cursor'), cursor);
          assert.equal(u.searchParams.get('limit'), String(limit));
          // The filters and fields of the request are kept in the next link.
          for (const [k, v] of new URL(url, 'http://x').searchParams) assert.equal(u.searchParams.get(k), v);
          next = u.pathname + u.search;
        } else {
          assert.equal(r.headers.link, undefined, 'no Link header on the last page');
          next = undefined;
        }
        await between?.();
      }
      return out;
    };

    before(async () => {
      const s = await backend.url();
      drop = s.drop;
      t = await controlPlane(s.url, 6);
      acme = (await t.call(t.adminToken, 'POST', '/v1/tenants', { name: 'acme' })).body.id;
      zeta = (await t.call(t.adminToken, 'POST', '/v1/tenants', { name: 'zeta' })).body.id;
      const u = await t.call(t.adminToken, 'POST', '/v1/users', {
        tenant: 'acme',
        name: 'ann',
        role: 'member',
      });
      ann = (await t.call(t.adminToken, 'POST', '/v1/tokens', { name: 'ann', userId: u.body.id })).body.token;
      flavorId = (
        await t.db.selectFrom('flavors').select('id').where('name', '=', 'm1.tiny').executeTakeFirstOrThrow()
      ).id;
      imageId = (
        await t.db.selectFrom('images').select('id').where('name', '=', 'tiny').executeTakeFirstOrThrow()
      ).id;
      // 45 VMs in three tenants, creation times tied in threes (the id breaks ties).
      for (let i = 0; i < 45; i++)
        await addVm(
          [acme, zeta, t.admin.tenantId][i % 3]!,
          Math.floor(i / 3),
          i % 4 === 0 ? 'stopped' : 'running',
        );
    });
    after(async () => {
      await t.close();
      await drop();
    });

    test('walking every page of VMs gives the unpaginated list, in its order, once each', async () => {
      const all = (await t.cp.listVms(t.admin)).map((v) => v.id);
      for (const limit of [1, 7, 45, 100])
        assert.deepEqual(
          (await walk(t.adminToken, '/v1/vms', limit)).map((v) => v.id),
          all,
        );
      const stopped = (await t.cp.listVms(t.admin, { state: 'stopped' })).map((v) => v.id);
      assert.ok(stopped.length > 3);
      assert.deepEqual(
        (await walk(t.adminToken, '/v1/vms?state=stopped', 4)).map((v) => v.id),
        stopped,
      );
      // Without limit: 100 rows at most.
      const r = await t.call(t.adminToken, 'GET', '/v1/vms');
      assert.equal(r.body.length, Math.min(100, all.length));
    });

    test('rows inserted while walking: every row that existed comes once, none twice', async () => {
      const before = (await t.cp.listVms(t.admin)).map((v) => v.id);
      let k = 0;
      const seen = await walk(t.adminToken, '/v1/vms', 5, async () => {
        // One before every cursor (an old creation time) and one after it.
        await addVm(acme, 0);
        await addVm(zeta, 1000 + k++);
      });
      const ids = seen.map((v) => v.id);
      assert.equal(new Set(ids).size, ids.length, 'no VM twice');
      for (const id of before) assert.ok(ids.includes(id), `${id} is in the walk`);
    });

    test("a cursor never shows another tenant's VMs; members may not filter by tenant", async () => {
      const mine = (await walk(ann, '/v1/vms', 4)).map((v) => v.tenantId);
      assert.ok(mine.length > 0);
      assert.ok(mine.every((x) => x === acme));
      // A cursor taken by the admin in the middle of the list, replayed by a member: still only acme's.
      const r = await t.app.inject({
        method: 'GET',
        url: '/v1/vms?limit=3',
        headers: { authorization: `Bearer ${t.adminToken}` },
      });
      const c = r.headers['x-next-cursor'] as string;
      const page = (await t.call(ann, 'GET', `/v1/vms?limit=50&cursor=${c}`)).body as Row[];
      assert.ok(page.length > 0 && page.every((v) => v.tenantId === acme));
      assert.equal((await t.call(ann, 'GET', `/v1/vms?tenant=${zeta}`)).status, 403);
      assert.equal((await t.call(ann, 'GET', '/v1/vms?host=x')).status, 403);
      // Admin filters by tenant, by id or name.
      const z = (await walk(t.adminToken, '/v1/vms?tenant=zeta', 6)).map((v) => v.tenantId);
      assert.ok(z.length > 0 && z.every((x) => x === zeta));
    });

    test('bad limit, cursor or fields are a 400 naming what is accepted', async () => {
      for (const l of ['0', '1001', 'x', '2.5']) {
        const r = await t.call(t.adminToken, 'GET', `/v1/vms?limit=${l}`);
        assert.equal(r.status, 400, `limit=${l}`);
        assert.match(r.body.message, /limit/);
      }
      const r = await t.app.inject({
        method: 'GET',
        url: '/v1/vms?limit=2',
        headers: { authorization: `Bearer ${t.adminToken}` },
      });
      const good = r.headers['x-next-cursor'] as string;
      const decoded = JSON.parse(Buffer.from(good, 'base64url').toString()) as { k: string[] };
      decoded.k[1] = 'vm-9999';
      const tampered = Buffer.from(JSON.stringify(decoded)).toString('base64url');
      const hostCursor = (
        await t.app.inject({
          method: 'GET',
          url: '/v1/hosts?limit=1',
          headers: { authorization: `Bearer ${t.adminToken}` },
        })
      ).headers['x-next-cursor'] as string;
      assert.ok(hostCursor);
      for (const c of ['garbage', 'e30', tampered, hostCursor, good.slice(0, -3), '%%%']) {
        const b = await t.call(t.adminToken, 'GET', `/v1/vms?cursor=${encodeURIComponent(c)}`);
        assert.equal(b.status, 400, `cursor ${c}`);
        assert.match(b.body.message, /invalid cursor/);
      }
      const f = await t.call(t.adminToken, 'GET', '/v1/vms?fields=name,secret');
      assert.equal(f.status, 400);
      assert.match(f.body.message, /"secret".*accepted: .*name/);
      const h = await t.call(t.adminToken, 'GET', '/v1/flavors?fields=nope');
      assert.equal(h.status, 400);
      assert.match(h.body.message, /accepted: .*vcpus/);
    });

    test('fields returns those fields and the id', async () => {
      const rows = (await t.call(t.adminToken, 'GET', '/v1/vms?fields=name,state&limit=5')).body as Row[];
      assert.equal(rows.length, 5);
      for (const v of rows) assert.deepEqual(Object.keys(v).sort(), ['id', 'name', 'state']);
      const hosts = (await t.call(t.adminToken, 'GET', '/v1/hosts?fields=name')).body as Row[];
      for (const h of hosts) assert.deepEqual(Object.keys(h).sort(), ['id', 'name']);
    });

    test('every list endpoint honours limit, cursor and fields, and says so in the OpenAPI document', async () => {
      const doc = (await t.call(undefined, 'GET', '/openapi.json')).body as {
        paths: Record<string, { get?: { parameters?: { name: string }[] } }>;
      };
      for (const url of LISTS) {
        const names = (doc.paths[url]?.get?.parameters ?? []).map((p) => p.name);
        for (const q of ['limit', 'cursor', 'fields']) assert.ok(names.includes(q), `${url} documents ${q}`);
        const all = (await t.call(t.adminToken, 'GET', `${url}?limit=1000`)).body as Row[];
        assert.ok(Array.isArray(all), url);
        const paged = await walk(t.adminToken, url, 2);
        assert.deepEqual(paged, all, `${url}: pages of 2 give the whole list`);
        const ids = (await t.call(t.adminToken, 'GET', `${url}?limit=1000&fields=id`)).body as Row[];
        assert.deepEqual(
          ids,
          all.map((r) => ({ id: r.id })),
          `${url}: fields=id`,
        );
      }
    });

    test('events page newest first, and oldest first after an event', async () => {
      const all = (await t.cp.listEvents(t.admin, { limit: 1000 })).map((e) => e.id);
      assert.ok(all.length > 3);
      assert.deepEqual(
        (await walk(t.adminToken, '/v1/events', 2)).map((e) => e.id),
        all,
      );
      const since = all[all.length - 1]!;
      const forward = (await walk(t.adminToken, `/v1/events?after=${since}`, 2)).map((e) => e.id);
      assert.deepEqual(
        forward,
        [...all].reverse().filter((id) => Number(id) > Number(since)),
      );
    });

    test('hosts filter by state and zone', async () => {
      const hosts = (await t.cp.listHosts(t.admin)) as { id: string; zone: string; state: string }[];
      const zone = hosts[0]!.zone;
      const z = await walk(t.adminToken, `/v1/hosts?zone=${zone}`, 2);
      assert.deepEqual(
        z.map((h) => h.id),
        hosts.filter((h) => h.zone === zone).map((h) => h.id),
      );
      assert.equal((await t.call(t.adminToken, 'GET', '/v1/hosts?state=no-such')).body.length, 0);
    });

    test('a page of VMs is a range scan on the list index (no sort of the whole table)', async () => {
      const r = await t.app.inject({
        method: 'GET',
        url: '/v1/vms?limit=2',
        headers: { authorization: `Bearer ${t.adminToken}` },
      });
      const cursor = r.headers['x-next-cursor'] as string;
      for (const [f, index] of [
        [{}, 'vms_live_created'],
        [{ state: 'stopped' }, 'vms_live_state'],
      ] as const) {
        const c = t.cp.vmReads.vmPageQuery(t.admin, f, { limit: 100, cursor }).compile();
        const plan = await t.db.transaction().execute(async (trx) => {
          if (backend.name !== 'SQLite') await sql`set local enable_seqscan = off`.execute(trx);
          const prefix = backend.name === 'SQLite' ? 'EXPLAIN QUERY PLAN ' : 'EXPLAIN ';
          const rows = await trx.executeQuery<Record<string, string>>(
            CompiledQuery.raw(prefix + c.sql, [...c.parameters]),
          );
          return rows.rows.map((x) => x.detail ?? x['QUERY PLAN']).join('\n');
        });
        assert.match(plan, new RegExp(index), plan);
        assert.doesNotMatch(plan, /TEMP B-TREE|Sort Key/, plan);
      }
    });
  });
