/**
 * Cinder v3 on nubis (issue 16): every answer checked with Tempest's own schemas; volumes are nubis's
 * volumes (created, attached to a nubis VM on a simulated host, detached and deleted through the
 * same services as /v1), another project's volume is 404, `all_tenants` is ignored for members.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { controlPlane, storeBackends } from './helpers/control.ts';
import { TEMPEST_SKIP, tempestCheck, type SchemaCheck } from './helpers/tempest-schema.ts';

type Api = Awaited<ReturnType<typeof controlPlane>>;
const V = '/openstack/volume/v3';

/** Assert that each answer passes its Tempest schema. */
function schemaOk(...checks: SchemaCheck[]) {
  if (TEMPEST_SKIP) return;
  const out = tempestCheck(checks);
  checks.forEach((c, i) => assert.equal(out[i], null, `${c.schema}: ${out[i]}\n${JSON.stringify(c.body)}`));
}

for (const backend of storeBackends()) {
  describe(`Cinder v3 on ${backend.name}`, () => {
    if (backend.skip) return void test(`every test on ${backend.name}`, { skip: backend.skip });
    const open: { close: () => Promise<void> }[] = [];
    after(async () => {
      for (const x of open) await x.close();
    });

    /** Two simulated hosts, a shared pool, tenants acme (ann) and globex (bob), members. */
    const world = async () => {
      const s = await backend.url();
      const t: Api = await controlPlane(s.url, 2);
      open.push({ close: async () => (await t.close(), await s.drop()) });
      const a = t.adminToken;
      assert.equal(
        (await t.call(a, 'POST', '/v1/storage-pools', { name: 'san', kind: 'shared' })).status,
        201,
      );
      const tok: Record<string, string> = { admin: a };
      const tenant: Record<string, string> = { admin: t.admin.tenantId };
      for (const [name, user] of [
        ['acme', 'ann'],
        ['globex', 'bob'],
      ] as const) {
        tenant[user] = (await t.call(a, 'POST', '/v1/tenants', { name })).body.id;
        const u = await t.call(a, 'POST', '/v1/users', { tenant: name, name: user, role: 'member' });
        tok[user] = (await t.call(a, 'POST', '/v1/tokens', { name: 'tk', userId: u.body.id })).body.token;
      }
      /** A Cinder call as `who`. */
      const os = async (
        who: string,
        method: string,
        url: string,
        body?: unknown,
        h: Record<string, string> = {},
      ) => {
        const r = await t.app.inject({
          method: method as 'GET',
          url: url.startsWith('/openstack') ? url : `${V}${url}`,
          headers: { 'x-auth-token': tok[who]!, ...h },
          ...(body !== undefined ? { payload: body as object } : {}),
        });
        return { status: r.statusCode, headers: r.headers, body: r.body ? JSON.parse(r.body) : undefined };
      };
      const vm = async (who: string, name: string) => {
        const r = await t.call(tok[who], 'POST', '/v1/vms', { name, flavor: 'm1.small', image: 'tiny' });
        assert.equal(r.body.status, 'succeeded', JSON.stringify(r.body));
        return r.body.vmId as string;
      };
      const create = async (who: string, volume: Record<string, unknown>) => {
        const r = await os(who, 'POST', '/volumes', { volume });
        assert.equal(r.status, 202, JSON.stringify(r.body));
        schemaOk({ schema: 'volume.volumes.create_volume', status: r.status, body: r.body });
        return r.body.volume;
      };
      return { t, os, vm, create, tenant };
    };

    test('the version documents: 300 at the root, 200 at /v3/, the microversion echoed and bounded', async () => {
      const { os } = await world();
      const root = await os('ann', 'GET', '/openstack/volume/');
      assert.equal(root.status, 300);
      assert.equal(root.body.versions[0].id, 'v3.0');
      assert.match(
        root.body.versions[0].links.find((l: { rel: string }) => l.rel === 'self').href,
        /\/openstack\/volume\/v3\/$/,
      );
      const v3 = await os('ann', 'GET', '/openstack/volume/v3/', undefined, {
        'openstack-api-version': 'volume 3.0',
      });
      assert.equal(v3.status, 200);
      assert.equal(v3.headers['openstack-api-version'], 'volume 3.0');
      assert.ok(v3.headers['x-openstack-request-id']);
      schemaOk(
        { schema: 'volume.versions.list_versions', status: root.status, body: root.body },
        { schema: 'volume.versions.volume_api_version_details', status: v3.status, body: v3.body },
      );
      const high = await os('ann', 'GET', '/volumes', undefined, { 'openstack-api-version': 'volume 3.70' });
      assert.equal(high.status, 406);
    });

    test("a volume is created available, shown, listed, updated and deleted with exactly Cinder's fields", async () => {
      const { t, os, create, tenant } = await world();
      const v = await create('ann', {
        size: 1,
        name: 'data',
        description: null,
        metadata: { Type: 'Test' },
        imageRef: null,
        volume_type: null,
        availability_zone: null,
        snapshot_id: null,
        source_volid: null,
        consistencygroup_id: null,
        backup_id: null,
      });
      assert.equal(v.status, 'available');
      assert.equal(v.name, 'data');
      assert.equal(v.bootable, 'false');
      assert.deepEqual(v.metadata, { Type: 'Test' });
      assert.equal(v['os-vol-tenant-attr:tenant_id'], undefined);

      // The same volume through nubis's own API (one model): its label, metadata and pool.
      const own = await t.call(t.adminToken, 'GET', `/v1/volumes/${v.id}`);
      assert.equal(own.body.name, 'data');
      assert.equal(own.body.pool, 'san');
      assert.deepEqual(own.body.metadata, { Type: 'Test' });

      const show = await os('ann', 'GET', `/volumes/${v.id}`);
      assert.equal(show.status, 200);
      assert.equal(show.body.volume['os-vol-tenant-attr:tenant_id'], tenant.ann);
      assert.equal(show.body.volume['os-vol-host-attr:host'], undefined);
      const list = await os('ann', 'GET', '/volumes');
      const detail = await os('ann', 'GET', '/volumes/detail');
      assert.deepEqual(
        list.body.volumes.map((x: { id: string }) => x.id),
        [v.id],
      );
      const asAdmin = await os('admin', 'GET', `/volumes/${v.id}`);
      assert.match(asAdmin.body.volume['os-vol-host-attr:host'], /.+@.+#.+/);
      const upd = await os('ann', 'PUT', `/volumes/${v.id}`, {
        volume: { name: 'Data volume (new)', description: '@#$%^* text' },
      });
      assert.equal(upd.status, 200);
      assert.equal(upd.body.volume.name, 'Data volume (new)');
      assert.equal(upd.body.volume.description, '@#$%^* text');
      schemaOk(
        { schema: 'volume.volumes.show_volume', status: show.status, body: show.body },
        { schema: 'volume.volumes.show_volume', status: asAdmin.status, body: asAdmin.body },
        { schema: 'volume.volumes.list_volumes_no_detail', status: list.status, body: list.body },
        { schema: 'volume.volumes.list_volumes_with_detail', status: detail.status, body: detail.body },
        { schema: 'volume.volumes.update_volume', status: upd.status, body: upd.body },
      );

      // Cinder names are labels: a second volume may take the same one, or none.
      const twin = await create('ann', { size: 1, name: 'Data volume (new)' });
      const anon = await create('ann', { size: 1 });
      assert.equal(anon.name, null);
      const byName = await os(
        'ann',
        'GET',
        `/volumes/detail?name=${encodeURIComponent('Data volume (new)')}`,
      );
      assert.deepEqual(byName.body.volumes.map((x: { id: string }) => x.id).sort(), [v.id, twin.id].sort());

      const del = await os('ann', 'DELETE', `/volumes/${v.id}`);
      assert.equal(del.status, 202);
      assert.equal(del.body, undefined);
      assert.equal((await os('ann', 'GET', `/volumes/${v.id}`)).status, 404);
    });

    test('attach and detach through the action reach the nubis VM; attached volumes cannot be deleted', async () => {
      const { t, os, vm, create } = await world();
      const server = await vm('ann', 'web');
      const other = await vm('ann', 'db');
      const v = await create('ann', { size: 1, name: 'disk' });
      const at = await os('ann', 'POST', `/volumes/${v.id}/action`, {
        'os-attach': { instance_uuid: server, mountpoint: '/dev/vdb' },
      });
      assert.equal(at.status, 202, JSON.stringify(at.body));
      const show = await os('ann', 'GET', `/volumes/${v.id}`);
      assert.equal(show.body.volume.status, 'in-use');
      const [a] = show.body.volume.attachments;
      assert.equal(a.server_id, server);
      assert.equal(a.id, v.id);
      assert.equal(a.volume_id, v.id);
      assert.equal(a.device, '/dev/vdb');
      assert.ok(a.host_name);
      schemaOk({ schema: 'volume.volumes.show_volume', status: show.status, body: show.body });
      // nubis's own view and the simulated guest see the same attachment.
      assert.equal((await t.call(t.adminToken, 'GET', `/v1/volumes/${v.id}`)).body.vmId, server);
      const guest = await t.sim.get(server);
      assert.ok(
        guest?.spec.disks?.some((d) => d.volumeId === v.id),
        'the guest has the disk',
      );

      // Without a mountpoint nubis gives the VM's next free device.
      const w = await create('ann', { size: 1, name: 'disk2' });
      await os('ann', 'POST', `/volumes/${w.id}/action`, { 'os-attach': { instance_uuid: server } });
      assert.equal(
        (await os('ann', 'GET', `/volumes/${w.id}`)).body.volume.attachments[0].device,
        '/dev/vdc',
      );
      assert.equal((await os('ann', 'DELETE', `/volumes/${v.id}`)).status, 400);
      const again = await os('ann', 'POST', `/volumes/${v.id}/action`, {
        'os-attach': { instance_uuid: other },
      });
      assert.equal(again.status, 400);
      assert.ok(again.body.badRequest.message);

      assert.equal((await os('ann', 'POST', `/volumes/${v.id}/action`, { 'os-detach': {} })).status, 202);
      const after = await os('ann', 'GET', `/volumes/${v.id}`);
      assert.equal(after.body.volume.status, 'available');
      assert.deepEqual(after.body.volume.attachments, []);
      assert.equal((await os('ann', 'DELETE', `/volumes/${v.id}`)).status, 202);
    });

    test('bootable, read-only, reserve and metadata actions', async () => {
      const { os, create } = await world();
      const v = await create('ann', { size: 1, name: 'flags' });
      for (const bootable of [true, false]) {
        const r = await os('ann', 'POST', `/volumes/${v.id}/action`, { 'os-set_bootable': { bootable } });
        assert.equal(r.status, 200);
        assert.equal((await os('ann', 'GET', `/volumes/${v.id}`)).body.volume.bootable, String(bootable));
      }
      await os('ann', 'POST', `/volumes/${v.id}/action`, { 'os-update_readonly_flag': { readonly: true } });
      assert.equal((await os('ann', 'GET', `/volumes/${v.id}`)).body.volume.metadata.readonly, 'True');

      assert.equal((await os('ann', 'POST', `/volumes/${v.id}/action`, { 'os-reserve': {} })).status, 202);
      assert.equal((await os('ann', 'GET', `/volumes/${v.id}`)).body.volume.status, 'attaching');
      assert.equal((await os('ann', 'POST', `/volumes/${v.id}/action`, { 'os-reserve': {} })).status, 400);
      assert.equal((await os('ann', 'POST', `/volumes/${v.id}/action`, { 'os-unreserve': {} })).status, 202);
      assert.equal((await os('ann', 'GET', `/volumes/${v.id}`)).body.volume.status, 'available');
      assert.equal(
        (await os('ann', 'POST', `/volumes/${v.id}/action`, { 'os-extend': { new_size: 0 } })).status,
        400,
      );

      const md = `/volumes/${v.id}/metadata`;
      const c = await os('ann', 'POST', md, { metadata: { key1: 'value1', key2: '<value&special>' } });
      const u = await os('ann', 'PUT', md, { metadata: { key1: 'value1_update' } });
      assert.deepEqual(u.body.metadata, { key1: 'value1_update' });
      const item = await os('ann', 'PUT', `${md}/key3`, { meta: { key3: 'v3' } });
      const got = await os('ann', 'GET', `${md}/key3`);
      assert.deepEqual(got.body.meta, { key3: 'v3' });
      const all = await os('ann', 'GET', md);
      assert.deepEqual(all.body.metadata, { key1: 'value1_update', key3: 'v3' });
      assert.equal((await os('ann', 'DELETE', `${md}/key1`)).status, 200);
      assert.equal((await os('ann', 'GET', `${md}/key1`)).status, 404);
      schemaOk(
        { schema: 'volume.volumes.create_volume_metadata', status: c.status, body: c.body },
        { schema: 'volume.volumes.update_volume_metadata', status: u.status, body: u.body },
        { schema: 'volume.volumes.update_volume_metadata_item', status: item.status, body: item.body },
        { schema: 'volume.volumes.show_volume_metadata_item', status: got.status, body: got.body },
        { schema: 'volume.volumes.show_volume_metadata', status: all.status, body: all.body },
      );
    });

    test("another project's volume is 404 and members' all_tenants is ignored; an admin's is honoured", async () => {
      const { os, create, tenant } = await world();
      const mine = await create('ann', { size: 1, name: 'mine' });
      const theirs = await create('bob', { size: 1, name: 'theirs' });
      assert.equal((await os('ann', 'GET', `/volumes/${theirs.id}`)).status, 404);
      assert.equal((await os('ann', 'DELETE', `/volumes/${theirs.id}`)).status, 404);
      assert.equal((await os('ann', 'PUT', `/volumes/${theirs.id}`, { volume: { name: 'x' } })).status, 404);
      assert.equal(
        (await os('ann', 'POST', `/volumes/${theirs.id}/action`, { 'os-reserve': {} })).status,
        404,
      );
      assert.equal((await os('ann', 'GET', `/volumes/${theirs.id}/metadata`)).status, 404);
      const ids = async (who: string, q: string) =>
        (await os(who, 'GET', `/volumes/detail${q}`)).body.volumes.map((x: { id: string }) => x.id).sort();
      assert.deepEqual(await ids('ann', '?all_tenants=1'), [mine.id]);
      assert.deepEqual(await ids('admin', ''), []);
      assert.deepEqual(await ids('admin', '?all_tenants=1'), [mine.id, theirs.id].sort());
      // The project in the URL must be the token's.
      assert.equal((await os('ann', 'GET', `/${tenant.ann}/volumes/${mine.id}`)).status, 200);
      assert.equal((await os('ann', 'GET', `/${tenant.bob}/volumes`)).status, 404);
    });

    test('admins reset states, force-delete and force-detach; members may not', async () => {
      const { os, vm, create, tenant } = await world();
      const v = await create('ann', { size: 1, name: 'stuck' });
      const action = (who: string, id: string, body: unknown) =>
        os(who, 'POST', `/volumes/${id}/action`, body);
      const reset = (who: string, id: string, status: string) =>
        action(who, id, { 'os-reset_status': { status } });
      assert.equal((await reset('ann', v.id, 'error')).status, 403);
      for (const status of ['error', 'maintenance', 'available']) {
        assert.equal((await reset('admin', v.id, status)).status, 202);
        assert.equal((await os('admin', 'GET', `/volumes/${v.id}`)).body.volume.status, status);
      }
      assert.equal((await reset('admin', v.id, 'in-use')).status, 400);
      await reset('admin', v.id, 'creating');
      assert.equal((await os('ann', 'DELETE', `/volumes/${v.id}`)).status, 400);
      assert.equal((await action('admin', v.id, { 'os-force_delete': {} })).status, 202);
      assert.equal((await os('ann', 'GET', `/volumes/${v.id}`)).status, 404);

      // Attached, then recorded in error: force-detach unplugs it all the same.
      const w = await create('ann', { size: 1, name: 'held' });
      await action('ann', w.id, { 'os-attach': { instance_uuid: await vm('ann', 'app') } });
      assert.equal((await reset('admin', w.id, 'error')).status, 202);
      assert.equal((await action('admin', w.id, { 'os-force_delete': {} })).status, 400);
      assert.equal((await action('admin', w.id, { 'os-force_detach': {} })).status, 202);
      assert.equal((await os('ann', 'GET', `/volumes/${w.id}`)).body.volume.status, 'available');
      // A detach of a volume no VM has is Cinder's no-op (Tempest's clean-up after a force-detach).
      assert.equal((await action('ann', w.id, { 'os-detach': {} })).status, 202);
      const detached = await os('ann', 'GET', `/volumes/${w.id}`);
      assert.equal(detached.body.volume.status, 'available');
      assert.deepEqual(detached.body.volume.attachments, []);
      schemaOk({ schema: 'volume.volumes.show_volume', status: detached.status, body: detached.body });

      // An admin lists one project's volumes with all_tenants and project_id.
      await create('bob', { size: 1 });
      const listed = await os('admin', 'GET', `/volumes/detail?all_tenants=1&project_id=${tenant.ann}`);
      assert.deepEqual(
        listed.body.volumes.map((x: { id: string }) => x.id),
        [w.id],
      );
    });

    test('filters, sort, limit and marker pages with a next link', async () => {
      const { os, create } = await world();
      const made = [];
      for (const n of ['a', 'b', 'c'])
        made.push(await create('ann', { size: 1, name: `vol-${n}`, metadata: { n } }));
      const sorted = made.map((x) => x.id).sort();
      const page1 = await os(
        'ann',
        'GET',
        '/volumes/detail?limit=2&status=available&sort_key=id&sort_dir=asc',
      );
      assert.deepEqual(
        page1.body.volumes.map((x: { id: string }) => x.id),
        sorted.slice(0, 2),
      );
      const next = new URL(page1.body.volumes_links[0].href);
      assert.equal(next.searchParams.get('marker'), sorted[1]);
      assert.equal(next.pathname, '/openstack/volume/v3/volumes/detail');
      const page2 = await os('ann', 'GET', `/volumes/detail${next.search}`);
      assert.deepEqual(
        page2.body.volumes.map((x: { id: string }) => x.id),
        sorted.slice(2),
      );
      assert.equal(page2.body.volumes_links, undefined);
      schemaOk({ schema: 'volume.volumes.list_volumes_with_detail', status: page1.status, body: page1.body });
      const desc = await os('ann', 'GET', '/volumes?sort=name:desc');
      assert.deepEqual(
        desc.body.volumes.map((x: { name: string }) => x.name),
        ['vol-c', 'vol-b', 'vol-a'],
      );
      const byMd = await os('ann', 'GET', `/volumes?metadata=${encodeURIComponent("{'n': 'b'}")}`);
      assert.deepEqual(
        byMd.body.volumes.map((x: { name: string }) => x.name),
        ['vol-b'],
      );
      assert.deepEqual((await os('ann', 'GET', '/volumes?bootable=true')).body.volumes, []);
      assert.equal((await os('ann', 'GET', '/volumes?availability_zone=nova')).body.volumes.length, 3);
      assert.equal((await os('ann', 'GET', '/volumes?marker=nope')).status, 404);
    });

    test("bad creates: size, type, sources, zone; quotas are nubis's (413 past them)", async () => {
      const { t, os, create } = await world();
      for (const volume of [{ size: 0 }, { size: -1 }, { size: '#$%' }, { name: 'no-size' }])
        assert.equal((await os('ann', 'POST', '/volumes', { volume })).status, 400, JSON.stringify(volume));
      assert.equal(
        (await os('ann', 'POST', '/volumes', { volume: { size: 1, volume_type: 'gold' } })).status,
        404,
      );
      const missing = '9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d';
      assert.equal(
        (await os('ann', 'POST', '/volumes', { volume: { size: 1, snapshot_id: missing } })).status,
        404,
      );
      assert.equal(
        (await os('ann', 'POST', '/volumes', { volume: { size: 1, source_volid: missing } })).status,
        404,
      );
      assert.equal(
        (await os('ann', 'POST', '/volumes', { volume: { size: 1, availability_zone: 'mars' } })).status,
        400,
      );
      assert.equal((await os('ann', 'GET', `/volumes/${missing}`)).status, 404);
      await t.call(t.adminToken, 'PATCH', '/v1/tenants/acme', { quotas: { volumes: 1 } });
      await create('ann', { size: 1 });
      const over = await os('ann', 'POST', '/volumes', { volume: { size: 1 } });
      assert.equal(over.status, 413, JSON.stringify(over.body));
      const limits = await os('ann', 'GET', '/limits');
      assert.equal(limits.body.limits.absolute.maxTotalVolumes, 1);
      assert.equal(limits.body.limits.absolute.totalVolumesUsed, 1);
      schemaOk({ schema: 'volume.limits.show_limits', status: limits.status, body: limits.body });
    });

    test('types, zones and quota sets', async () => {
      const { os, tenant } = await world();
      const ext = await os('ann', 'GET', '/extensions');
      assert.ok(ext.body.extensions.some((x: { alias: string }) => x.alias === 'os-availability-zone'));
      const types = await os('ann', 'GET', '/types');
      const type = await os('ann', 'GET', `/types/${types.body.volume_types[0].id}`);
      assert.equal((await os('ann', 'GET', '/types/gold')).status, 404);
      const zones = await os('ann', 'GET', '/os-availability-zone');
      assert.deepEqual(zones.body.availabilityZoneInfo, [
        { zoneName: 'nova', zoneState: { available: true } },
      ]);
      const q = await os('ann', 'GET', `/os-quota-sets/${tenant.ann}`);
      assert.equal(q.body.quota_set.id, tenant.ann);
      assert.equal((await os('ann', 'GET', `/os-quota-sets/${tenant.bob}`)).status, 404);
      // Admins set and reset a project's quotas (nubis's tenant quotas; -1 is no limit).
      assert.equal(
        (await os('ann', 'PUT', `/os-quota-sets/${tenant.ann}`, { quota_set: { volumes: 3 } })).status,
        403,
      );
      const set = await os('admin', 'PUT', `/os-quota-sets/${tenant.ann}`, {
        quota_set: { volumes: 3, gigabytes: -1, backups: 5 },
      });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      assert.equal(set.body.quota_set.volumes, 3);
      assert.equal(set.body.quota_set.gigabytes, -1);
      const used = await os('admin', 'GET', `/os-quota-sets/${tenant.ann}?usage=true`);
      assert.deepEqual(used.body.quota_set.volumes, { limit: 3, in_use: 0, reserved: 0 });
      assert.equal((await os('admin', 'DELETE', `/os-quota-sets/${tenant.ann}`)).status, 200);
      const defaults = await os('admin', 'GET', `/os-quota-sets/${tenant.ann}/defaults`);
      assert.equal(
        (await os('admin', 'GET', `/os-quota-sets/${tenant.ann}`)).body.quota_set.volumes,
        defaults.body.quota_set.volumes,
      );
      schemaOk(
        { schema: 'volume.extensions.list_extensions', status: ext.status, body: ext.body },
        { schema: 'volume.volume_types.list_volume_types', status: types.status, body: types.body },
        { schema: 'volume.volume_types.show_volume_type', status: type.status, body: type.body },
        { schema: 'volume.quotas.show_quota_set', status: q.status, body: q.body },
        { schema: 'volume.quotas.update_quota_set', status: set.status, body: set.body },
        { schema: 'volume.quotas.show_quota_set_usage', status: used.status, body: used.body },
        { schema: 'volume.quotas.show_quota_set', status: defaults.status, body: defaults.body },
      );
    });
  });
}
