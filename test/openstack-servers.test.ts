import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { controlPlane, storeBackends } from './helpers/control.ts';
import { TEMPEST_SKIP, tempestCheck } from './helpers/tempest-schema.ts';

type T = Awaited<ReturnType<typeof controlPlane>>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read fields of any answer
type J = any;
type Answer = { status: number; body: J; headers: Record<string, J> };

const API = '/openstack/compute/v2.1';

/** A Nova call with X-Auth-Token and a microversion (none: 2.1). */
async function nova(
  t: T,
  token: string,
  method: string,
  url: string,
  body?: unknown,
  mv?: string,
): Promise<Answer> {
  const r = await t.app.inject({
    method: method as 'GET',
    url: `${API}${url}`,
    headers: { 'x-auth-token': token, ...(mv ? { 'x-openstack-nova-api-version': mv } : {}) },
    ...(body !== undefined ? { payload: body as object } : {}),
  });
  return { status: r.statusCode, body: r.body ? JSON.parse(r.body) : undefined, headers: r.headers };
}

/** Poll a server until `done` holds (bounded; no time assertion). */
async function until(t: T, token: string, id: string, done: (s: J) => boolean): Promise<J> {
  for (let i = 0; i < 400; i++) {
    const r = await nova(t, token, 'GET', `/servers/${id}`, undefined, '2.30');
    if (r.status === 200 && done(r.body.server)) return r.body.server;
    if (r.status === 404 && done(null)) return null;
    await new Promise((res) => setTimeout(res, 10));
  }
  assert.fail(`server ${id} never reached the awaited state`);
}

/** Schema checks, run together at the end of each test (one Python run). */
const pending: { schema: string; r: Answer }[] = [];
const check = (schema: string, r: Answer) => void pending.push({ schema, r });
function flush() {
  const got = tempestCheck(
    pending.map(({ schema, r }) => ({ schema, status: r.status, body: r.body, headers: r.headers })),
  );
  const failed = pending.map((c, i) => [c.schema, got[i]]).filter(([, e]) => e !== null);
  pending.length = 0;
  assert.deepEqual(failed, []);
}

for (const backend of storeBackends())
  describe(`Nova servers (${backend.name})`, { skip: TEMPEST_SKIP ?? backend.skip }, () => {
    let drop: () => Promise<void>;
    let t: T;
    let mia: string, bob: string;
    let flavor: string, image: string;

    before(async () => {
      const db = await backend.url();
      drop = db.drop;
      t = await controlPlane(db.url, 3);
      const a = t.adminToken;
      const tokens: Record<string, string> = {};
      for (const [tenant, name] of [
        ['acme', 'mia'],
        ['globex', 'bob'],
      ] as const) {
        await t.call(a, 'POST', '/v1/tenants', {
          name: tenant,
          quotas: { vcpus: 64, memoryMiB: 262144, vms: 20 },
        });
        const u = await t.call(a, 'POST', '/v1/users', { tenant, name, role: 'member' });
        tokens[name] = (await t.call(a, 'POST', '/v1/tokens', { name, userId: u.body.id })).body.token;
      }
      mia = tokens.mia!;
      bob = tokens.bob!;
      const net = await t.call(mia, 'POST', '/v1/networks', { name: 'app-net', cidr: '10.20.0.0/24' });
      assert.equal(net.status, 201, JSON.stringify(net.body));
      flavor = (await t.call(a, 'GET', '/v1/flavors')).body.find((f: J) => f.name === 'm1.small').id;
      image = (await t.call(a, 'GET', '/v1/images')).body.find((i: J) => i.name === 'tiny').id;
    });
    afterEach(flush);
    after(async () => {
      await t.close();
      await drop();
    });

    const create = async (token: string, extra: Record<string, unknown> = {}) => {
      const r = await nova(t, token, 'POST', '/servers', {
        server: { name: 'web 1', imageRef: image, flavorRef: `http://x/compute/flavors/${flavor}`, ...extra },
      });
      return r;
    };

    test("create answers 202 with exactly Nova's keys, the server builds then is ACTIVE, and reads match the schemas", async () => {
      const r = await create(mia, { metadata: { role: 'web' }, min_count: 1, max_count: 1 });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      check('compute.v2_1.servers.create_server_with_admin_pass', r);
      assert.ok(r.headers['x-openstack-request-id']);
      const id = r.body.server.id as string;
      const s = await until(t, mia, id, (x) => x.status === 'ACTIVE');
      assert.equal(s['OS-EXT-STS:task_state'], null);
      assert.equal(s['OS-EXT-STS:power_state'], 1);
      assert.deepEqual(s.metadata, { role: 'web' });
      assert.equal(s.addresses['app-net'].length, 1);
      assert.equal(s['OS-EXT-SRV-ATTR:host'], undefined, 'a member sees no host');
      for (const [mv, mod] of [
        [undefined, 'v2_1'],
        ['2.30', 'v2_26'],
      ] as const) {
        for (const token of [mia, t.adminToken]) {
          check(
            `compute.${mod}.servers.get_server`,
            await nova(t, token, 'GET', `/servers/${id}`, undefined, mv),
          );
          const list = await nova(t, token, 'GET', '/servers/detail?all_tenants=1', undefined, mv);
          check(`compute.${mod}.servers.list_servers_detail`, list);
          assert.ok(list.body.servers.some((x: J) => x.id === id));
          check(
            `compute.${mod}.servers.list_servers`,
            await nova(t, token, 'GET', '/servers', undefined, mv),
          );
        }
      }
      const admin = (await nova(t, t.adminToken, 'GET', `/servers/${id}`, undefined, '2.30')).body.server;
      assert.match(admin['OS-EXT-SRV-ATTR:host'], /^sim-/);
      assert.equal(admin.host_status, 'UP');
      assert.equal(admin.hostId.length, 56);
      // The update answer is the narrower view.
      const u = await nova(
        t,
        mia,
        'PUT',
        `/servers/${id}`,
        { server: { name: 'web-2', description: 'front' } },
        '2.30',
      );
      check('compute.v2_26.servers.update_server', u);
      assert.equal(u.body.server.description, 'front');
      // nubis's own API reads the same record.
      const mine = (await t.call(mia, 'GET', `/v1/vms/${id}`)).body;
      assert.equal(mine.name, 'web-2');
      assert.equal(mine.description, 'front');
      assert.deepEqual(mine.metadata, { role: 'web' });
      check(
        'compute.v2_1.servers.update_server',
        await nova(t, mia, 'PUT', `/servers/${id}`, { server: { accessIPv4: '10.0.0.9' } }),
      );
      assert.equal(
        (await nova(t, mia, 'PUT', `/servers/${id}`, { server: { description: 'x' } })).status,
        400,
      );
      // IPs.
      const ips = await nova(t, mia, 'GET', `/servers/${id}/ips`);
      check('compute.v2_1.servers.list_addresses', ips);
      const byNet = await nova(t, mia, 'GET', `/servers/${id}/ips/app-net`);
      check('compute.v2_1.servers.list_addresses_by_network', byNet);
      assert.equal((await nova(t, mia, 'GET', `/servers/${id}/ips/nope`)).status, 404);
      // Another project's server is 404, in reads and writes.
      assert.equal((await nova(t, bob, 'GET', `/servers/${id}`)).status, 404);
      assert.equal((await nova(t, bob, 'DELETE', `/servers/${id}`)).status, 404);
      assert.equal((await nova(t, bob, 'GET', '/servers')).body.servers.length, 0);
      // Delete: 204, then 404.
      const d = await nova(t, mia, 'DELETE', `/servers/${id}`);
      assert.equal(d.status, 204);
      assert.equal(d.body, undefined);
      assert.equal((await nova(t, mia, 'GET', `/servers/${id}`)).status, 404);
    });

    test('invalid references and values are 400; a second network makes the default ambiguous (409)', async () => {
      assert.equal(
        (
          await nova(t, mia, 'POST', '/servers', {
            server: { name: 'x', imageRef: image, flavorRef: 'nope' },
          })
        ).status,
        400,
      );
      assert.equal(
        (
          await nova(t, mia, 'POST', '/servers', {
            server: { name: 'x', imageRef: 'nope', flavorRef: flavor },
          })
        ).status,
        400,
      );
      assert.equal((await create(mia, { networks: [{ uuid: 'nope' }] })).status, 400);
      assert.equal((await create(mia, { security_groups: [{ name: 'nope' }] })).status, 400);
      assert.equal((await create(mia, { accessIPv4: 'not-an-ip' })).status, 400);
      // The image's min_ram / min_disk above the flavor's (Nova: 400).
      await t.db
        .updateTable('images')
        .set({ min_ram: 1 << 20 })
        .where('id', '=', image)
        .execute();
      const low = await create(mia);
      assert.equal(low.status, 400);
      assert.match(low.body.badRequest.message, /needs at least 1048576 MiB/);
      await t.db
        .updateTable('images')
        .set({ min_ram: 0, min_disk: 100_000 })
        .where('id', '=', image)
        .execute();
      assert.equal((await create(mia)).status, 400);
      await t.db.updateTable('images').set({ min_disk: 0 }).where('id', '=', image).execute();
      // More metadata items than maxServerMeta: Nova's 403 (quota).
      const many = Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`k${i}`, 'v']));
      assert.equal((await create(mia, { metadata: many })).status, 403);
      assert.equal((await create(mia, { max_count: 0 })).status, 400);
      const bdm = [{ source_type: 'volume', uuid: 'x', destination_type: 'invalid' }];
      assert.equal((await create(mia, { block_device_mapping_v2: bdm })).status, 400);
      assert.equal((await create(mia, { min_count: 2.5 })).status, 400);
      assert.equal((await create(mia, { min_count: 3, max_count: 2 })).status, 400);
      assert.equal((await create(mia, { availability_zone: 'atlantis' })).status, 400);
      assert.equal((await create(mia, { key_name: 'no-such-key' })).status, 400);
      assert.equal((await create(mia, { name: 12345 })).status, 400);
      assert.equal((await nova(t, mia, 'GET', '/servers/web-missing')).status, 404);
      await t.call(bob, 'POST', '/v1/networks', { name: 'a', cidr: '10.30.0.0/24' });
      await t.call(bob, 'POST', '/v1/networks', { name: 'b', cidr: '10.31.0.0/24' });
      assert.equal((await create(bob)).status, 409);
    });

    test('min_count/max_count create NAME-1, NAME-2...; return_reservation_id answers the reservation only', async () => {
      const r = await nova(t, mia, 'POST', '/servers', {
        server: { name: 'many', imageRef: image, flavorRef: flavor, min_count: 2 },
      });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      check('compute.v2_1.servers.create_server_with_admin_pass', r);
      const names = async () =>
        ((await nova(t, mia, 'GET', '/servers')).body.servers as { name: string }[])
          .map((x) => x.name)
          .filter((n) => n.startsWith('many'))
          .sort();
      assert.deepEqual(await names(), ['many-1', 'many-2']);
      const rr = await nova(t, mia, 'POST', '/servers', {
        server: {
          name: 'res',
          imageRef: image,
          flavorRef: flavor,
          max_count: 2,
          return_reservation_id: true,
        },
      });
      assert.equal(rr.status, 202, JSON.stringify(rr.body));
      assert.deepEqual(Object.keys(rr.body), ['reservation_id']);
      const all = (await nova(t, mia, 'GET', '/servers')).body.servers as { id: string; name: string }[];
      assert.deepEqual(
        all
          .map((x) => x.name)
          .filter((n) => n.startsWith('res'))
          .sort(),
        ['res-1', 'res-2'],
      );
      for (const x of all) {
        await until(t, mia, x.id, (y) => y.status === 'ACTIVE');
        assert.equal((await nova(t, mia, 'DELETE', `/servers/${x.id}`)).status, 204);
      }
    });

    test('os:scheduler_hints beside "server" put it in the server group', async () => {
      const g = await nova(t, mia, 'POST', '/os-server-groups', {
        server_group: { name: 'hinted', policies: ['affinity'] },
      });
      assert.equal(g.status, 200, JSON.stringify(g.body));
      const r = await nova(t, mia, 'POST', '/servers', {
        server: { name: 'grouped', imageRef: image, flavorRef: flavor },
        'os:scheduler_hints': { group: g.body.server_group.id },
      });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      const shown = await nova(t, mia, 'GET', `/os-server-groups/${g.body.server_group.id}`);
      assert.deepEqual(shown.body.server_group.members, [r.body.server.id]);
      await until(t, mia, r.body.server.id, (y) => y.status === 'ACTIVE');
      assert.equal((await nova(t, mia, 'DELETE', `/servers/${r.body.server.id}`)).status, 204);
    });

    test('tags (2.26): add one (201, then 204), check, replace all, delete one and all; below 2.26 404; the empty password', async () => {
      const id = (await create(mia)).body.server.id as string;
      const tags = (method: string, path = '', body?: unknown, mv = '2.26') =>
        nova(t, mia, method, `/servers/${id}/tags${path}`, body, mv);
      assert.equal((await tags('GET', '', undefined, '2.25')).status, 404);
      const empty = await tags('GET');
      check('compute.v2_26.servers.list_tags', empty);
      assert.deepEqual(empty.body.tags, []);
      const added = await tags('PUT', '/blue');
      assert.equal(added.status, 201);
      check('compute.v2_26.servers.update_tag', { ...added, body: null });
      assert.match(String(added.headers.location), /\/compute\/v2\.1\/servers\/.+\/tags\/blue$/);
      assert.equal((await tags('PUT', '/blue')).status, 204);
      assert.equal((await tags('GET', '/blue')).status, 204);
      assert.equal((await tags('GET', '/red')).status, 404);
      assert.equal((await tags('PUT', '/a,b')).status, 400);
      const all = await tags('PUT', '', { tags: ['x', 'y'] });
      check('compute.v2_26.servers.update_all_tags', all);
      assert.deepEqual(all.body.tags, ['x', 'y']);
      assert.deepEqual((await tags('GET')).body.tags, ['x', 'y']);
      const shown = await nova(t, mia, 'GET', `/servers/${id}`, undefined, '2.26');
      assert.deepEqual(shown.body.server.tags, ['x', 'y']);
      assert.equal((await tags('DELETE', '/x')).status, 204);
      assert.equal((await tags('DELETE', '/x')).status, 404);
      assert.deepEqual((await tags('GET')).body.tags, ['y']);
      assert.equal(
        (await tags('PUT', '', { tags: Array.from({ length: 51 }, (_, i) => `t${i}`) })).status,
        400,
      );
      // No metadata-service password in nubis: the empty one, as Nova shows when none was set.
      const pw = await nova(t, mia, 'GET', `/servers/${id}/os-server-password`);
      check('compute.v2_1.servers.show_password', pw);
      assert.equal(pw.body.password, '');
      assert.equal((await nova(t, mia, 'DELETE', `/servers/${id}/os-server-password`)).status, 204);
      assert.equal((await nova(t, bob, 'GET', `/servers/${id}/os-server-password`)).status, 404);
      assert.equal((await tags('DELETE')).status, 204);
      assert.deepEqual((await tags('GET')).body.tags, []);
      await until(t, mia, id, (x) => x.status === 'ACTIVE');
      assert.equal((await nova(t, mia, 'DELETE', `/servers/${id}`)).status, 204);
    });

    test('actions: stop/start, pause vs suspend, reboot, lock; a wrong state is 409', async () => {
      const id = (await create(mia)).body.server.id as string;
      await until(t, mia, id, (x) => x.status === 'ACTIVE' && x['OS-EXT-STS:task_state'] === null);
      const act = (body: unknown, token = mia) => nova(t, token, 'POST', `/servers/${id}/action`, body);
      assert.equal((await act({ unpause: null })).status, 409);
      assert.equal((await act({ 'os-start': null })).status, 409);
      assert.equal((await act({ restore: null })).status, 409, 'only a soft-deleted server is restored');
      assert.equal((await act({ 'os-stop': null })).status, 202);
      let s = await until(t, mia, id, (x) => x.status === 'SHUTOFF');
      assert.equal(s['OS-EXT-STS:power_state'], 4);
      assert.equal((await act({ suspend: null })).status, 409);
      assert.equal((await act({ 'os-start': null })).status, 202);
      await until(t, mia, id, (x) => x.status === 'ACTIVE');
      assert.equal((await act({ pause: null })).status, 202);
      s = await until(t, mia, id, (x) => x.status === 'PAUSED');
      assert.equal(s['OS-EXT-STS:vm_state'], 'paused');
      assert.equal((await act({ pause: null })).status, 409);
      assert.equal((await act({ resume: null })).status, 409, 'a paused server is unpaused, not resumed');
      assert.equal((await act({ unpause: null })).status, 202);
      await until(t, mia, id, (x) => x.status === 'ACTIVE');
      assert.equal((await act({ suspend: null })).status, 202);
      s = await until(t, mia, id, (x) => x.status === 'SUSPENDED');
      assert.equal(s['OS-EXT-STS:power_state'], 7);
      assert.equal((await act({ unpause: null })).status, 409);
      assert.equal((await act({ resume: null })).status, 202);
      await until(t, mia, id, (x) => x.status === 'ACTIVE');
      assert.equal((await act({ reboot: { type: 'WRONG' } })).status, 400);
      assert.equal((await act({ reboot: { type: 'HARD' } })).status, 202);
      await until(t, mia, id, (x) => x.status === 'ACTIVE' && x['OS-EXT-STS:task_state'] === null);
      // Lock: the owner may no longer stop or delete it; an admin may.
      assert.equal((await act({ lock: null })).status, 202);
      assert.equal((await nova(t, mia, 'GET', `/servers/${id}`, undefined, '2.9')).body.server.locked, true);
      assert.equal((await act({ 'os-stop': null })).status, 409);
      assert.equal((await nova(t, mia, 'DELETE', `/servers/${id}`)).status, 409);
      assert.equal((await act({ unlock: null })).status, 202);
      assert.equal((await act({ 'os-migrateLive': { host: null, block_migration: 'auto' } })).status, 403);
      // os-resetState: an admin's repair of the recorded state.
      assert.equal((await act({ 'os-resetState': { state: 'error' } })).status, 403);
      assert.equal((await act({ 'os-resetState': { state: 'error' } }, bob)).status, 404);
      assert.equal((await act({ 'os-resetState': { state: 'stopped' } }, t.adminToken)).status, 400);
      assert.equal((await act({ 'os-resetState': { state: 'error' } }, t.adminToken)).status, 202);
      const errored = await nova(t, mia, 'GET', `/servers?status=ERROR`);
      assert.ok((errored.body.servers as J[]).some((x) => x.id === id));
      assert.equal((await act({ 'os-resetState': { state: 'active' } }, t.adminToken)).status, 202);
      await until(t, mia, id, (x) => x.status === 'ACTIVE');
      await act({ 'os-resetState': { state: 'error' } }, t.adminToken);
      assert.equal((await nova(t, mia, 'DELETE', `/servers/${id}`)).status, 204);
    });

    test('live migration (admin) moves the server to the named host; an unknown host is 400 and it stays', async () => {
      const id = (await create(mia)).body.server.id as string;
      const admin = t.adminToken;
      let s = await until(t, admin, id, (x) => x.status === 'ACTIVE');
      const from = s['OS-EXT-SRV-ATTR:host'] as string;
      const hosts = (await t.call(admin, 'GET', '/v1/hosts')).body as { name: string }[];
      const to = hosts.find((h) => h.name !== from)!.name;
      const mig = (body: unknown, mv: string) =>
        nova(t, admin, 'POST', `/servers/${id}/action`, { 'os-migrateLive': body }, mv);
      assert.equal((await mig({ host: 'no-such-host', block_migration: 'auto' }, '2.25')).status, 400);
      assert.equal((await nova(t, admin, 'GET', `/servers/${id}`)).body.server.status, 'ACTIVE');
      assert.equal(
        (await mig({ host: to, block_migration: 'auto', disk_over_commit: false }, '2.25')).status,
        400,
      );
      assert.equal((await mig({ host: to, block_migration: 'auto', force: false }, '2.30')).status, 202);
      s = await until(t, admin, id, (x) => x.status === 'ACTIVE' && x['OS-EXT-STS:task_state'] === null);
      assert.equal(s['OS-EXT-SRV-ATTR:host'], to);
      // An admin's `host` filter.
      const onHost = async (h: string) =>
        ((await nova(t, admin, 'GET', `/servers?all_tenants=1&host=${h}`)).body.servers as J[]).map(
          (x) => x.id,
        );
      assert.ok((await onHost(to)).includes(id));
      assert.ok(!(await onHost(from)).includes(id));
      assert.deepEqual(await onHost('nonexistent_host'), []);
      // 2.1 form, host chosen by nubis.
      assert.equal(
        (await mig({ host: null, block_migration: false, disk_over_commit: false }, '2.1')).status,
        202,
      );
      s = await until(t, admin, id, (x) => x.status === 'ACTIVE' && x['OS-EXT-STS:task_state'] === null);
      assert.notEqual(s['OS-EXT-SRV-ATTR:host'], to);
      const pause = await nova(t, admin, 'POST', `/servers/${id}/action`, { suspend: null });
      assert.equal(pause.status, 202);
      await until(t, admin, id, (x) => x.status === 'SUSPENDED');
      assert.equal((await mig({ host: null, block_migration: 'auto' }, '2.25')).status, 409);
      // A paused server migrates (Nova: ACTIVE or PAUSED) and is PAUSED on the new host.
      await nova(t, admin, 'POST', `/servers/${id}/action`, { resume: null });
      await until(t, admin, id, (x) => x.status === 'ACTIVE' && x['OS-EXT-STS:task_state'] === null);
      await nova(t, admin, 'POST', `/servers/${id}/action`, { pause: null });
      s = await until(t, admin, id, (x) => x.status === 'PAUSED' && x['OS-EXT-STS:task_state'] === null);
      const was = s['OS-EXT-SRV-ATTR:host'];
      assert.equal((await mig({ host: null, block_migration: 'auto' }, '2.25')).status, 202);
      s = await until(t, admin, id, (x) => x.status === 'PAUSED' && x['OS-EXT-SRV-ATTR:host'] !== was);
      assert.equal(s['OS-EXT-STS:task_state'], null);
      assert.equal((await nova(t, admin, 'POST', `/servers/${id}/action`, { unpause: null })).status, 202);
      await until(t, admin, id, (x) => x.status === 'ACTIVE');
    });

    test("volume attachments go through nubis's attach and detach; an in-use volume is 400", async () => {
      const pool = await t.call(t.adminToken, 'POST', '/v1/storage-pools', {
        name: 'shared-1',
        kind: 'shared',
      });
      const vol = await t.call(mia, 'POST', '/v1/volumes', { name: 'data', sizeGiB: 1, pool: pool.body.id });
      assert.equal(vol.status, 201, JSON.stringify(vol.body));
      const a = (await create(mia)).body.server.id as string;
      const b = (await create(mia)).body.server.id as string;
      await until(t, mia, a, (x) => x.status === 'ACTIVE');
      await until(t, mia, b, (x) => x.status === 'ACTIVE');
      const att = await nova(t, mia, 'POST', `/servers/${a}/os-volume_attachments`, {
        volumeAttachment: { volumeId: vol.body.id, device: null },
      });
      check('compute.v2_1.servers.attach_volume', att);
      assert.equal(att.body.volumeAttachment.serverId, a);
      assert.equal(
        (
          await nova(t, mia, 'POST', `/servers/${b}/os-volume_attachments`, {
            volumeAttachment: { volumeId: vol.body.id },
          })
        ).status,
        400,
      );
      check(
        'compute.v2_1.servers.list_volume_attachments',
        await nova(t, mia, 'GET', `/servers/${a}/os-volume_attachments`),
      );
      check(
        'compute.v2_1.servers.show_volume_attachment',
        await nova(t, mia, 'GET', `/servers/${a}/os-volume_attachments/${vol.body.id}`),
      );
      const s = await nova(t, mia, 'GET', `/servers/${a}`);
      assert.deepEqual(s.body.server['os-extended-volumes:volumes_attached'], [{ id: vol.body.id }]);
      assert.equal(
        (await nova(t, mia, 'DELETE', `/servers/${a}/os-volume_attachments/${vol.body.id}`)).status,
        202,
      );
      assert.equal((await t.call(mia, 'GET', `/v1/volumes/${vol.body.id}`)).body.state, 'available');
      assert.equal(
        (await nova(t, mia, 'GET', `/servers/${a}/os-volume_attachments/${vol.body.id}`)).status,
        404,
      );
    });

    test('a server being built can be deleted at once (the delete waits for the build); an ERROR server shows its fault', async () => {
      const id = (await create(mia)).body.server.id as string;
      const s = (await nova(t, mia, 'GET', `/servers/${id}`)).body.server;
      assert.ok(['BUILD', 'ACTIVE'].includes(s.status), s.status);
      assert.equal(s['OS-EXT-STS:task_state'], s.status === 'BUILD' ? 'spawning' : null);
      assert.equal((await nova(t, mia, 'DELETE', `/servers/${id}`)).status, 204);
      assert.equal((await nova(t, mia, 'GET', `/servers/${id}`)).status, 404);
      assert.ok(!(await nova(t, mia, 'GET', '/servers')).body.servers.some((x: J) => x.id === id));
      // A VM nubis recorded in error (its last operation failed): ERROR with Nova's fault.
      const e = (await create(mia)).body.server.id as string;
      await until(t, mia, e, (x) => x.status === 'ACTIVE');
      await t.db.updateTable('vms').set({ state: 'error' }).where('id', '=', e).execute();
      await t.db
        .insertInto('operations')
        .values({
          id: 'op-failed-1',
          tenant_id: s.tenant_id,
          vm_id: e,
          kind: 'reboot',
          status: 'failed',
          idempotency_key: null,
          result: null,
          error: 'the guest did not come back',
          created_at: '2027-01-15T08:00:00.000Z',
          finished_at: '2027-01-15T08:00:01.000Z',
        })
        .execute();
      const shown = await nova(t, mia, 'GET', `/servers/${e}`, undefined, '2.30');
      check('compute.v2_26.servers.get_server', shown);
      assert.equal(shown.body.server.status, 'ERROR');
      assert.deepEqual(shown.body.server.fault, {
        code: 500,
        created: '2027-01-15T08:00:01Z',
        message: 'the guest did not come back',
      });
      assert.equal((await nova(t, mia, 'DELETE', `/servers/${e}`)).status, 204);
    });

    test('lists are newest first, filtered like Nova, paged by limit and marker with a next link', async () => {
      const a = (await create(mia, { name: 'page-a' })).body.server.id as string;
      t.clock.advanceBy(1); // b is a second newer (Nova lists newest first)
      const b = (await create(mia, { name: 'page-b' })).body.server.id as string;
      await until(t, mia, a, (x) => x.status === 'ACTIVE');
      await until(t, mia, b, (x) => x.status === 'ACTIVE');
      const names = async (q: string) =>
        (await nova(t, mia, 'GET', `/servers${q}`)).body.servers.map((x: J) => x.name) as string[];
      assert.deepEqual(await names('?name=^page-'), ['page-b', 'page-a']);
      assert.deepEqual(await names('?name=page-a'), ['page-a']);
      assert.deepEqual(await names('?name=page&status=SHUTOFF'), []);
      assert.deepEqual(await names('?name=page&limit=0'), []);
      const first = await nova(t, mia, 'GET', '/servers/detail?name=page&limit=1');
      check('compute.v2_1.servers.list_servers_detail', first);
      assert.deepEqual(
        first.body.servers.map((x: J) => x.id),
        [b],
      );
      const next = new URL(first.body.servers_links[0].href);
      assert.equal(next.searchParams.get('marker'), b);
      const second = await nova(t, mia, 'GET', `/servers/detail${next.search}`);
      assert.deepEqual(
        second.body.servers.map((x: J) => x.id),
        [a],
      );
      assert.equal((await nova(t, mia, 'GET', '/servers?limit=x')).status, 400);
      assert.equal((await nova(t, mia, 'GET', '/servers?changes-since=2011/01/01')).status, 400);
      assert.deepEqual(await names('?name=page&changes-since=2051-01-01T12:34:00Z'), []);
      for (const id of [a, b]) assert.equal((await nova(t, mia, 'DELETE', `/servers/${id}`)).status, 204);
    });

    test('metadata: set, merge, one key, delete', async () => {
      const id = (await create(mia, { metadata: { a: '1' } })).body.server.id as string;
      await until(t, mia, id, (x) => x.status === 'ACTIVE');
      assert.deepEqual(
        (await nova(t, mia, 'POST', `/servers/${id}/metadata`, { metadata: { b: '2' } })).body,
        {
          metadata: { a: '1', b: '2' },
        },
      );
      assert.deepEqual(
        (await nova(t, mia, 'PUT', `/servers/${id}/metadata`, { metadata: { c: '3' } })).body,
        {
          metadata: { c: '3' },
        },
      );
      assert.deepEqual((await nova(t, mia, 'PUT', `/servers/${id}/metadata/d`, { meta: { d: '4' } })).body, {
        meta: { d: '4' },
      });
      assert.deepEqual((await nova(t, mia, 'GET', `/servers/${id}/metadata/d`)).body, { meta: { d: '4' } });
      assert.equal((await nova(t, mia, 'DELETE', `/servers/${id}/metadata/c`)).status, 204);
      assert.deepEqual((await nova(t, mia, 'GET', `/servers/${id}/metadata`)).body, { metadata: { d: '4' } });
      assert.equal((await nova(t, bob, 'GET', `/servers/${id}/metadata`)).status, 404);
    });
  });
