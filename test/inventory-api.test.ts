/**
 * Editing and deleting inventory through the API: each capability, and each refusal (in use → 409
 * naming the user; another tenant's object → 404; a role without the rule → 403).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { controlPlane, storeBackends } from './helpers/control.ts';

type Api = Awaited<ReturnType<typeof controlPlane>>;

for (const backend of storeBackends()) {
  describe(`inventory edits and deletes on ${backend.name}`, () => {
    if (backend.skip) return void test(`every test on ${backend.name}`, { skip: backend.skip });
    let t: Api;
    let drop: () => Promise<void>;
    type Who = 'admin' | 'ann' | 'rita' | 'otto' | 'bob';
    const tok = {} as Record<Who, string>;
    const ids = {} as Record<Who | 'acme' | 'globex', string>;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const ok = async (token: string, method: string, url: string, body?: unknown): Promise<any> => {
      const r = await t.call(token, method, url, body);
      assert.ok(r.status >= 200 && r.status < 300, `${method} ${url}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    };
    const vm = async (token: string, name: string, extra: Record<string, unknown> = {}) =>
      (await ok(token, 'POST', '/v1/vms', { name, flavor: 'm1.tiny', image: 'tiny', ...extra }))
        .vmId as string;

    before(async () => {
      const s = await backend.url();
      drop = s.drop;
      t = await controlPlane(s.url, 2);
      tok.admin = t.adminToken;
      for (const name of ['acme', 'globex'] as const)
        ids[name] = (await ok(tok.admin, 'POST', '/v1/tenants', { name })).id;
      for (const [tenant, user, role] of [
        ['acme', 'ann', 'member'],
        ['acme', 'rita', 'reader'],
        ['acme', 'otto', 'operator'],
        ['globex', 'bob', 'member'],
      ] as const) {
        const u = await ok(tok.admin, 'POST', '/v1/users', { tenant, name: user, role });
        ids[user] = u.id;
        tok[user] = (await ok(tok.admin, 'POST', '/v1/tokens', { name: 'cli', userId: u.id })).token;
      }
    });
    after(async () => {
      await t?.close();
      await drop?.();
    });

    test('a host edit changes ratios and labels; one that would leave its VMs over capacity is 409 naming the host', async () => {
      const h = await ok(tok.admin, 'POST', '/v1/hosts', {
        name: 'edit-1',
        vcpus: 2,
        memoryMiB: 4096,
        diskGiB: 10,
        zone: 'z9',
      });
      const e = await ok(tok.admin, 'PATCH', `/v1/hosts/${h.id}`, { cpuRatio: 2, rack: 'r7', tier: 'gold' });
      assert.equal(e.overcommit.cpu, 2);
      assert.equal(e.rack, 'r7');
      assert.equal(e.tier, 'gold');
      for (let i = 0; i < 4; i++) await vm(tok.ann, `pin-${i}`, { zone: 'z9' });
      const r = await t.call(tok.admin, 'PATCH', `/v1/hosts/${h.id}`, { cpuRatio: 1 });
      assert.equal(r.status, 409, JSON.stringify(r.body));
      assert.match(r.body.message, /Host "edit-1" would be over capacity/);
      const bad = await t.call(tok.admin, 'PATCH', `/v1/hosts/${h.id}`, { reservedMemoryMiB: 4096 });
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /below the host's capacity/);
      assert.equal((await t.call(tok.otto, 'PATCH', `/v1/hosts/${h.id}`, { rack: 'r1' })).status, 403);
      // A host with VMs is not deleted (409 naming them); retire drains it first.
      const d = await t.call(tok.admin, 'DELETE', `/v1/hosts/${h.id}`);
      assert.equal(d.status, 409);
      assert.match(d.body.message, /pin-0/);
    });

    test('an empty host is deleted, hidden from lists, and its name can be reused; retire drains then deletes', async () => {
      const h = await ok(tok.admin, 'POST', '/v1/hosts', {
        name: 'gone-1',
        vcpus: 8,
        memoryMiB: 16384,
        diskGiB: 100,
      });
      assert.equal((await t.call(tok.admin, 'DELETE', `/v1/hosts/${h.id}`)).status, 204);
      assert.equal((await t.call(tok.admin, 'GET', `/v1/hosts/${h.id}`)).status, 404);
      assert.ok(!(await ok(tok.admin, 'GET', '/v1/hosts')).some((x: { id: string }) => x.id === h.id));
      await ok(tok.admin, 'POST', '/v1/hosts', { name: 'gone-1', vcpus: 8, memoryMiB: 16384, diskGiB: 100 });
      const r = await ok(tok.admin, 'POST', '/v1/hosts', {
        name: 'retire-1',
        vcpus: 8,
        memoryMiB: 16384,
        diskGiB: 100,
        zone: 'zr',
      });
      await ok(tok.admin, 'POST', '/v1/hosts', {
        name: 'retire-2',
        vcpus: 8,
        memoryMiB: 16384,
        diskGiB: 100,
        zone: 'zr',
      });
      await ok(tok.admin, 'PATCH', '/v1/hosts/retire-2', { state: 'maintenance' });
      const v = await vm(tok.ann, 'mover', { zone: 'zr' });
      await ok(tok.admin, 'PATCH', '/v1/hosts/retire-2', { state: 'up' });
      const out = await ok(tok.admin, 'POST', `/v1/hosts/${r.id}/retire`);
      assert.deepEqual(out, { host: 'retire-1', deleted: true, moved: ['mover'], stuck: [] });
      assert.notEqual((await ok(tok.ann, 'GET', `/v1/vms/${v}`)).hostName, 'retire-1');
    });

    test('flavors and images: renamed; sizes and deletion refused while a VM uses them (409 naming it)', async () => {
      const f = await ok(tok.admin, 'POST', '/v1/flavors', {
        name: 'x1',
        vcpus: 1,
        memoryMiB: 128,
        diskGiB: 1,
      });
      assert.equal((await ok(tok.admin, 'PATCH', `/v1/flavors/${f.id}`, { vcpus: 2 })).vcpus, 2);
      await vm(tok.bob, 'uses-x1', { flavor: 'x1' });
      const sizes = await t.call(tok.admin, 'PATCH', '/v1/flavors/x1', { vcpus: 1 });
      assert.equal(sizes.status, 409);
      assert.match(sizes.body.message, /uses-x1/);
      assert.equal((await ok(tok.admin, 'PATCH', '/v1/flavors/x1', { name: 'x1b' })).name, 'x1b');
      const del = await t.call(tok.admin, 'DELETE', '/v1/flavors/x1b');
      assert.equal(del.status, 409);
      assert.match(del.body.message, /in use by VM\(s\) uses-x1/);
      assert.equal((await t.call(tok.ann, 'DELETE', '/v1/flavors/x1b')).status, 403);
      const i = await ok(tok.admin, 'POST', '/v1/images', { name: 'img-a', format: 'raw', sizeMiB: 5 });
      assert.equal((await t.call(tok.admin, 'DELETE', `/v1/images/${i.id}`)).status, 204);
      assert.ok(!(await ok(tok.ann, 'GET', '/v1/images')).some((x: { id: string }) => x.id === i.id));
      await ok(tok.admin, 'POST', '/v1/images', { name: 'img-a', format: 'raw', sizeMiB: 5 });
    });

    test("members read their own tenant and quotas with usage; another tenant's is 404; tenant delete refuses VMs and revokes tokens", async () => {
      await vm(tok.ann, 'quota-probe');
      const q = await ok(tok.rita, 'GET', '/v1/quotas');
      assert.equal(q.name, 'acme');
      assert.ok(q.usage.vms >= 1);
      assert.equal((await ok(tok.ann, 'GET', `/v1/tenants/${ids.acme}`)).id, ids.acme);
      assert.equal((await t.call(tok.ann, 'GET', `/v1/tenants/${ids.globex}`)).status, 404);
      const used = await t.call(tok.admin, 'DELETE', `/v1/tenants/${ids.acme}`);
      assert.equal(used.status, 409);
      assert.match(used.body.message, /Tenant "acme" still has \d+ VM\(s\): /);
      const tn = await ok(tok.admin, 'POST', '/v1/tenants', { name: 'short' });
      assert.equal(
        (await ok(tok.admin, 'PATCH', `/v1/tenants/${tn.id}`, { name: 'brief', quotas: { vms: 3 } })).quotas
          .vms,
        3,
      );
      const u = await ok(tok.admin, 'POST', '/v1/users', { tenant: 'brief', name: 'sam', role: 'member' });
      const sam = (await ok(tok.admin, 'POST', '/v1/tokens', { name: 'cli', userId: u.id })).token;
      assert.equal((await t.call(sam, 'GET', '/v1/me')).status, 200);
      assert.equal((await t.call(tok.admin, 'DELETE', `/v1/tenants/${tn.id}`)).status, 204);
      assert.equal((await t.call(sam, 'GET', '/v1/me')).status, 401);
      await ok(tok.admin, 'POST', '/v1/tenants', { name: 'brief' });
    });

    test('users: admins list all or one tenant, others themselves; role change; the last admin stays', async () => {
      const all = await ok(tok.admin, 'GET', '/v1/users');
      assert.ok(all.some((u: { name: string }) => u.name === 'bob'));
      const acme = await ok(tok.admin, 'GET', '/v1/users?tenant=acme');
      assert.deepEqual(acme.map((u: { name: string }) => u.name).sort(), ['ann', 'otto', 'rita']);
      assert.deepEqual(
        (await ok(tok.ann, 'GET', '/v1/users')).map((u: { name: string }) => u.name),
        ['ann'],
      );
      const u = await ok(tok.admin, 'POST', '/v1/users', { tenant: 'acme', name: 'temp', role: 'reader' });
      assert.equal((await ok(tok.admin, 'PATCH', `/v1/users/${u.id}`, { role: 'member' })).role, 'member');
      const tk = (await ok(tok.admin, 'POST', '/v1/tokens', { name: 'cli', userId: u.id })).token;
      assert.equal((await t.call(tok.admin, 'DELETE', `/v1/users/${u.id}`)).status, 204);
      assert.equal((await t.call(tk, 'GET', '/v1/me')).status, 401);
      const last = await t.call(tok.admin, 'PATCH', `/v1/users/${t.admin.userId}`, { role: 'member' });
      assert.equal(last.status, 409);
      assert.match(last.body.message, /last admin/);
      assert.equal((await t.call(tok.ann, 'PATCH', `/v1/users/${ids.rita}`, { role: 'admin' })).status, 403);
    });

    test('tokens: own listed without secret or hash; admins see all; another user is 404 for others', async () => {
      const mine = await ok(tok.ann, 'GET', '/v1/tokens');
      assert.ok(mine.length >= 1 && mine.every((x: { userId: string }) => x.userId === ids.ann));
      assert.ok(!JSON.stringify(mine).includes(tok.ann));
      assert.ok(!('hash' in mine[0]) && !('token' in mine[0]));
      assert.ok((await ok(tok.admin, 'GET', `/v1/tokens?user=${ids.bob}`)).length >= 1);
      assert.equal((await t.call(tok.ann, 'GET', `/v1/tokens?user=${ids.bob}`)).status, 404);
    });

    test('server groups: read one with members; delete refused while it has VMs (409 naming them)', async () => {
      const g = await ok(tok.ann, 'POST', '/v1/server-groups', {
        name: 'apart',
        policy: 'soft-anti-affinity',
      });
      await vm(tok.ann, 'in-group', { serverGroup: 'apart' });
      const got = await ok(tok.ann, 'GET', '/v1/server-groups/apart');
      assert.deepEqual(
        got.members.map((m: { name: string }) => m.name),
        ['in-group'],
      );
      assert.equal((await t.call(tok.bob, 'GET', `/v1/server-groups/${g.id}`)).status, 404);
      const r = await t.call(tok.ann, 'DELETE', `/v1/server-groups/${g.id}`);
      assert.equal(r.status, 409);
      assert.match(r.body.message, /in-group/);
      await ok(tok.ann, 'DELETE', '/v1/vms/in-group');
      assert.equal((await t.call(tok.ann, 'DELETE', `/v1/server-groups/${g.id}`)).status, 204);
      await ok(tok.ann, 'POST', '/v1/server-groups', { name: 'apart', policy: 'affinity' });
    });

    test('scaling groups: listed, resized by PATCH, deleted with their members', async () => {
      const policy = {
        scaleOutAbove: 0.8,
        scaleInBelow: 0.2,
        adjustmentType: 'change',
        adjustment: 1,
        cooldownS: 0,
      };
      const g = await ok(tok.ann, 'POST', '/v1/scaling-groups', {
        name: 'web',
        flavor: 'm1.tiny',
        image: 'tiny',
        min: 0,
        max: 3,
        desired: 1,
        policy,
      });
      assert.ok((await ok(tok.otto, 'GET', '/v1/scaling-groups')).some((x: { id: string }) => x.id === g.id));
      assert.ok(!(await ok(tok.bob, 'GET', '/v1/scaling-groups')).some((x: { id: string }) => x.id === g.id));
      const up = await ok(tok.ann, 'PATCH', `/v1/scaling-groups/${g.id}`, { desired: 3 });
      assert.equal(up.members.length, 3);
      assert.equal(
        (await t.call(tok.rita, 'PATCH', `/v1/scaling-groups/${g.id}`, { desired: 0 })).status,
        403,
      );
      assert.equal((await t.call(tok.bob, 'DELETE', `/v1/scaling-groups/${g.id}`)).status, 404);
      const del = await ok(tok.ann, 'DELETE', `/v1/scaling-groups/${g.id}`);
      assert.equal(del.members.length, 3);
      for (const id of del.members) assert.equal((await t.call(tok.ann, 'GET', `/v1/vms/${id}`)).status, 404);
    });

    test('tariffs: edited and deleted; an edit that overlaps another tariff is 409 naming it', async () => {
      const body = (name: string, from: string, to: string) => ({
        name,
        validFrom: from,
        validTo: to,
        vcpuHour: 0.01,
        memoryGiBHour: 0.01,
        diskGiBHour: 0,
        kWh: 0.2,
      });
      const a = await ok(
        tok.admin,
        'POST',
        '/v1/tariffs',
        body('t-a', '2090-01-01T00:00:00Z', '2091-01-01T00:00:00Z'),
      );
      const b = await ok(
        tok.admin,
        'POST',
        '/v1/tariffs',
        body('t-b', '2091-01-01T00:00:00Z', '2092-01-01T00:00:00Z'),
      );
      assert.equal((await ok(tok.admin, 'PATCH', `/v1/tariffs/${a.id}`, { kWh: 0.3 })).kWh, 0.3);
      const clash = await t.call(tok.admin, 'PATCH', `/v1/tariffs/${b.id}`, {
        validFrom: '2090-06-01T00:00:00Z',
      });
      assert.equal(clash.status, 409);
      assert.match(clash.body.message, /t-a/);
      assert.equal((await t.call(tok.admin, 'DELETE', `/v1/tariffs/${a.id}`)).status, 204);
      assert.equal((await t.call(tok.ann, 'DELETE', `/v1/tariffs/${b.id}`)).status, 403);
    });

    test("snapshots listed and deleted; VMs by name; an ambiguous name is 409 listing the ids; another tenant's is 404", async () => {
      const id = await vm(tok.ann, 'snappy');
      await ok(tok.ann, 'POST', '/v1/vms/snappy/actions', { action: 'snapshot', snapshotName: 's1' });
      assert.deepEqual((await ok(tok.rita, 'GET', '/v1/vms/snappy/snapshots')).snapshots, [{ name: 's1' }]);
      assert.equal((await t.call(tok.bob, 'GET', `/v1/vms/${id}/snapshots`)).status, 404);
      assert.equal((await t.call(tok.rita, 'DELETE', '/v1/vms/snappy/snapshots/s1')).status, 403);
      assert.equal((await t.call(tok.ann, 'DELETE', '/v1/vms/snappy/snapshots/s1')).status, 204);
      const gone = await t.call(tok.ann, 'DELETE', '/v1/vms/snappy/snapshots/s1');
      assert.equal(gone.status, 404);
      assert.match(gone.body.message, /no snapshot "s1"/);
      const twin = await vm(tok.ann, 'snappy');
      const amb = await t.call(tok.ann, 'GET', '/v1/vms/snappy');
      assert.equal(amb.status, 409);
      assert.deepEqual([...(amb.body.details?.ids ?? amb.body.ids)].sort(), [id, twin].sort());
      assert.equal((await t.call(tok.bob, 'GET', '/v1/vms/snappy')).status, 404);
      assert.equal((await ok(tok.ann, 'GET', `/v1/vms/${twin}`)).id, twin);
    });
  });
}
