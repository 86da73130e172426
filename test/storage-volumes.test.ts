/**
 * Volumes through the API on simulated hosts (issue 13): lifecycle (create, attach to a running VM,
 * which its simulated host sees, detach, snapshot, clone, delete), quotas, placement by pool (a
 * shared pool some hosts see, a local volume's host), and migration: the mirror flag for local
 * volumes and the volume's host moving with the VM.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { controlPlane, storeBackends } from './helpers/control.ts';

type Api = Awaited<ReturnType<typeof controlPlane>>;

for (const backend of storeBackends()) {
  describe(`volumes through the API on ${backend.name}`, () => {
    if (backend.skip) return void test(`every test on ${backend.name}`, { skip: backend.skip });
    const open: { close: () => Promise<void> }[] = [];
    after(async () => {
      for (const x of open) await x.close();
    });

    /** Two simulated hosts (h1 in zone-a, h2 in zone-b) and two tenants (acme: ann, globex: bob). */
    const world = async () => {
      const s = await backend.url();
      const t: Api = await controlPlane(s.url, 0);
      open.push({ close: async () => (await t.close(), await s.drop()) });
      const a = t.adminToken;
      const hosts: Record<string, string> = {};
      for (const [name, zone] of [
        ['h1', 'zone-a'],
        ['h2', 'zone-b'],
      ]) {
        const r = await t.call(a, 'POST', '/v1/hosts', {
          name,
          zone,
          vcpus: 16,
          memoryMiB: 32768,
          diskGiB: 500,
        });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        hosts[name!] = r.body.id;
      }
      const tok: Record<string, string> = { admin: a };
      for (const [tenant, user] of [
        ['acme', 'ann'],
        ['globex', 'bob'],
      ] as const) {
        await t.call(a, 'POST', '/v1/tenants', { name: tenant });
        const u = await t.call(a, 'POST', '/v1/users', { tenant, name: user, role: 'member' });
        tok[user] = (await t.call(a, 'POST', '/v1/tokens', { name: 'tk', userId: u.body.id })).body.token;
      }
      const ok = async (who: string, method: string, url: string, body?: unknown) => {
        const r = await t.call(tok[who] ?? who, method, url, body);
        assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${JSON.stringify(r.body)}`);
        return r.body;
      };
      const vm = async (who: string, name: string, body: Record<string, unknown> = {}) => {
        const op = await ok(who, 'POST', '/v1/vms', { name, flavor: 'm1.small', image: 'tiny', ...body });
        assert.equal(op.status, 'succeeded', JSON.stringify(op));
        return op.vmId as string;
      };
      const hostOf = async (vmId: string) => (await ok(a, 'GET', `/v1/vms/${vmId}`)).hostId as string;
      /** A volume as an operator sees it (members are not shown hosts). */
      const volHost = async (ref: string) =>
        (await ok(a, 'GET', `/v1/volumes/${ref}`)).hostId as string | null;
      return { t, a, tok, hosts, ok, vm, hostOf, volHost };
    };

    test('a volume is created, hot-plugged into a running VM (its host sees the disk), detached, snapshotted, cloned and deleted', async () => {
      const w = await world();
      const v = await w.ok('ann', 'POST', '/v1/volumes', { name: 'data-1', sizeGiB: 2 });
      assert.equal(v.state, 'available');
      assert.equal(v.pool, 'local', 'a local pool is made when none exists');
      const vmId = await w.vm('ann', 'db-1');
      // The local volume lives on one host: attach it to a VM there.
      assert.equal(v.hostId, undefined, 'members are not shown hosts');
      const vHost = await w.volHost(v.id);
      assert.equal(vHost, await w.hostOf(vmId), 'both land on the emptiest host');
      const att = await w.ok('ann', 'POST', '/v1/volumes/data-1/attach', { vm: 'db-1' });
      assert.equal(att.state, 'in-use');
      assert.equal(att.vm, 'db-1');
      const g = await w.t.sim.get(vmId);
      assert.deepEqual(
        g?.spec.disks?.map((d) => [d.volumeId, d.sizeGiB, d.pool.kind, d.serial]),
        [[v.id, 2, 'local', v.id.replace(/[^a-zA-Z0-9_.-]/g, '').slice(0, 20)]],
      );
      const del = await w.t.call(w.tok.ann, 'DELETE', '/v1/volumes/data-1');
      assert.equal(del.status, 409, 'an attached volume is not deleted');
      assert.match(del.body.message, /db-1/);
      const snap = await w.ok('ann', 'POST', '/v1/volumes/data-1/snapshots', { name: 'before-upgrade' });
      assert.deepEqual(
        (await w.ok('ann', 'GET', '/v1/volumes/data-1/snapshots')).map((s: { name: string }) => s.name),
        ['before-upgrade'],
      );
      const fromSnap = await w.ok('ann', 'POST', '/v1/volumes', {
        name: 'data-1b',
        sizeGiB: 3,
        fromSnapshot: snap.id,
      });
      assert.equal(await w.volHost(fromSnap.id), vHost, 'a clone stays with its source');
      const det = await w.ok('ann', 'POST', '/v1/volumes/data-1/detach');
      assert.equal(det.state, 'available');
      assert.deepEqual((await w.t.sim.get(vmId))?.spec.disks, []);
      await w.ok('ann', 'DELETE', `/v1/volume-snapshots/${snap.id}`);
      await w.ok('ann', 'DELETE', '/v1/volumes/data-1');
      assert.equal((await w.t.call(w.tok.ann, 'GET', '/v1/volumes/data-1')).status, 404);
      const hostVolumes = await w.t.cp.ctx.hostDrivers
        .forHost({ id: vHost!, name: 'h', driver: 'sim', agentUrl: null, powerAddress: null })
        .listVolumes('local');
      assert.deepEqual(
        hostVolumes.map((x) => x.id),
        [fromSnap.id],
      );
      // Operations record every step.
      const ops = await w.t.db
        .selectFrom('operations')
        .select(['kind', 'status'])
        .where('kind', 'like', 'volume-%')
        .execute();
      assert.ok(ops.length >= 6 && ops.every((o) => o.status === 'succeeded'), JSON.stringify(ops));
    });

    test("another tenant's volume is 404 and cannot be attached to its VMs", async () => {
      const w = await world();
      const v = await w.ok('ann', 'POST', '/v1/volumes', { name: 'secret', sizeGiB: 1 });
      await w.vm('bob', 'b1');
      assert.equal((await w.t.call(w.tok.bob, 'GET', `/v1/volumes/${v.id}`)).status, 404);
      assert.equal(
        (await w.t.call(w.tok.bob, 'POST', `/v1/volumes/${v.id}/attach`, { vm: 'b1' })).status,
        404,
      );
      assert.equal((await w.t.call(w.tok.bob, 'DELETE', `/v1/volumes/${v.id}`)).status, 404);
      assert.deepEqual(await w.ok('bob', 'GET', '/v1/volumes'), []);
    });

    test('quotas: volumes, gigabytes and snapshots', async () => {
      const w = await world();
      await w.ok('admin', 'PATCH', '/v1/tenants/acme', {
        quotas: { volumes: 2, volumeGiB: 5, volumeSnapshots: 1 },
      });
      await w.ok('ann', 'POST', '/v1/volumes', { name: 'a', sizeGiB: 3 });
      const big = await w.t.call(w.tok.ann, 'POST', '/v1/volumes', { name: 'b', sizeGiB: 3 });
      assert.equal(big.status, 403, JSON.stringify(big.body));
      assert.match(big.body.message, /volumeGiB: used 3 of 5/);
      await w.ok('ann', 'POST', '/v1/volumes', { name: 'b', sizeGiB: 2 });
      const third = await w.t.call(w.tok.ann, 'POST', '/v1/volumes', { name: 'c', sizeGiB: 0 + 1 });
      assert.match(third.body.message, /volumes: used 2 of 2/);
      await w.ok('ann', 'POST', '/v1/volumes/a/snapshots', { name: 's1' });
      const s2 = await w.t.call(w.tok.ann, 'POST', '/v1/volumes/a/snapshots', { name: 's2' });
      assert.match(s2.body.message, /volumeSnapshots: used 1 of 1/);
      assert.equal(
        (await w.t.db.selectFrom('volumes').select('id').execute()).length,
        2,
        'nothing left behind',
      );
    });

    test('placement by pool: a shared pool fences VMs to the hosts that see it; a local volume pins its VM', async () => {
      const w = await world();
      await w.ok('admin', 'POST', '/v1/storage-pools', { name: 'nas-b', kind: 'shared', zone: 'zone-b' });
      await w.ok('admin', 'POST', '/v1/storage-pools', { name: 'disk', kind: 'local' });
      const shared = await w.ok('ann', 'POST', '/v1/volumes', { name: 's', sizeGiB: 1, pool: 'nas-b' });
      assert.equal(await w.volHost(shared.id), null);
      const vmId = await w.vm('ann', 'v-shared', { volumes: ['s'] });
      assert.equal(await w.hostOf(vmId), w.hosts.h2, 'only h2 (zone-b) sees nas-b');
      assert.equal((await w.t.sim.get(vmId))?.spec.disks?.[0]?.pool.kind, 'shared');
      // A local volume made on h1 pins the VM created with it to h1.
      await w.t.call(w.a, 'PATCH', `/v1/hosts/${w.hosts.h2}`, { state: 'maintenance' });
      const local = await w.ok('ann', 'POST', '/v1/volumes', { name: 'l', sizeGiB: 1, pool: 'disk' });
      assert.equal(await w.volHost(local.id), w.hosts.h1);
      await w.t.call(w.a, 'PATCH', `/v1/hosts/${w.hosts.h2}`, { state: 'up' });
      for (let i = 0; i < 3; i++) {
        const id = await w.vm('ann', `filler-${i}`);
        assert.ok(id);
      }
      const pinned = await w.vm('ann', 'v-local', { volumes: ['l'] });
      assert.equal(await w.hostOf(pinned), w.hosts.h1);
      // A real host sees a pool only when it lists it.
      const h = await w.ok('admin', 'PATCH', `/v1/hosts/${w.hosts.h1}`, { pools: ['nas-b'] });
      assert.deepEqual(h.pools, ['nas-b']);
    });

    test('migration: local volumes are mirrored (the flag and the disk bytes) and their host moves with the VM; shared ones are not', async () => {
      const w = await world();
      await w.ok('admin', 'POST', '/v1/storage-pools', { name: 'nas', kind: 'shared' });
      await w.ok('admin', 'POST', '/v1/storage-pools', { name: 'disk', kind: 'local' });
      const vmId = await w.vm('ann', 'mover');
      const src = await w.hostOf(vmId);
      const dst = src === w.hosts.h1 ? w.hosts.h2 : w.hosts.h1;
      // Make the local volume on the VM's host (the other host is in maintenance meanwhile).
      await w.t.call(w.a, 'PATCH', `/v1/hosts/${dst}`, { state: 'maintenance' });
      await w.ok('ann', 'POST', '/v1/volumes', { name: 'l', sizeGiB: 4, pool: 'disk' });
      await w.t.call(w.a, 'PATCH', `/v1/hosts/${dst}`, { state: 'up' });
      await w.ok('ann', 'POST', '/v1/volumes/l/attach', { vm: 'mover' });
      // The request the source host's driver is given (the factory hands the control plane the same instance).
      const seenDisks: (string | undefined)[] = [];
      for (const id of [src, dst]) {
        const name = Object.keys(w.hosts).find((n) => w.hosts[n] === id)!;
        const d = w.t.cp.ctx.hostDrivers.forHost({
          id: id!,
          name,
          driver: 'sim',
          agentUrl: null,
          powerAddress: null,
        });
        const migrate = d.migrate.bind(d);
        d.migrate = (g, target, req) => (seenDisks.push(req.disks), migrate(g, target, req));
      }
      const before = await w.ok('admin', 'POST', `/v1/vms/${vmId}/migrate`, { toHost: dst });
      assert.deepEqual(seenDisks, ['mirror'], 'a VM with a local volume is block-migrated');
      assert.equal(before.status, 'succeeded', JSON.stringify(before));
      const r = before.result as { diskBytes: number; bytes: number };
      assert.ok(r.diskBytes >= 4 * 2 ** 30, `the mirror sent the 4 GiB disk: ${r.diskBytes}`);
      const l = await w.ok('ann', 'GET', '/v1/volumes/l');
      assert.equal(await w.volHost(l.id), dst, "the local volume's host moved with the VM");
      const seen = await w.t.cp.ctx.hostDrivers
        .forHost({ id: dst!, name: 'dst', driver: 'sim', agentUrl: null, powerAddress: null })
        .listVolumes('disk');
      assert.deepEqual(
        seen.map((x) => x.id),
        [l.id],
      );
      // Shared only: memory moves, no disk bytes.
      await w.ok('ann', 'POST', '/v1/volumes/l/detach');
      await w.ok('ann', 'POST', '/v1/volumes', { name: 's', sizeGiB: 8, pool: 'nas' });
      await w.ok('ann', 'POST', '/v1/volumes/s/attach', { vm: 'mover' });
      const back = await w.ok('admin', 'POST', `/v1/vms/${vmId}/migrate`, { toHost: src });
      assert.equal(back.status, 'succeeded', JSON.stringify(back));
      // needsBlockMigration: the root disk of a VM is local, so it still mirrors, but no volume bytes.
      assert.equal((back.result as { diskBytes?: number }).diskBytes ?? 0, 0);
    });

    test("volumes are metered in GiB-hours from creation to deletion and billed at the tariff's volumeGiBHour", async () => {
      const w = await world();
      await w.ok('admin', 'POST', '/v1/tariffs', {
        name: 'std',
        validFrom: '2020-01-01',
        vcpuHour: 0,
        memoryGiBHour: 0,
        diskGiBHour: 0,
        kWh: 0,
        volumeGiBHour: 0.01,
      });
      const from = new Date(w.t.clock.now() * 1000).toISOString();
      await w.ok('ann', 'POST', '/v1/volumes', { name: 'billed', sizeGiB: 2 });
      w.t.clock.advanceBy(10 * 3600);
      await w.ok('ann', 'DELETE', '/v1/volumes/billed');
      w.t.clock.advanceBy(5 * 3600); // deleted: no longer metered
      const to = new Date(w.t.clock.now() * 1000).toISOString();
      const inv = await w.ok(
        'ann',
        'GET',
        `/v1/invoices?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`,
      );
      // 2 GiB × 10 h = 20 GiB-hours at 0.01 = 0.20.
      assert.deepEqual(
        inv.volumeLines.map((l: { volume: string; gibHours: number; amount: number }) => [
          l.volume,
          l.gibHours,
          l.amount,
        ]),
        [['billed', 20, 0.2]],
      );
    });

    test('an interrupted volume create and attach are finished by the reconciler (the driver calls are idempotent)', async () => {
      const w = await world();
      const vmId = await w.vm('ann', 'r1');
      await w.ok('admin', 'POST', '/v1/storage-pools', { name: 'nas', kind: 'shared' });
      const pool = await w.t.db
        .selectFrom('storage_pools')
        .select('id')
        .where('name', '=', 'nas')
        .executeTakeFirstOrThrow();
      const tenant = await w.t.db
        .selectFrom('vms')
        .select('tenant_id')
        .where('id', '=', vmId)
        .executeTakeFirstOrThrow();
      // The records a crash right after "recorded" leaves: a creating volume and its running operation.
      const at = new Date(w.t.clock.now() * 1000).toISOString();
      const spec = { id: 'vol-crash', pool: { name: 'nas', kind: 'shared' }, sizeGiB: 1 };
      await w.t.db
        .insertInto('volumes')
        .values({
          id: 'vol-crash',
          tenant_id: tenant.tenant_id,
          name: 'crashed',
          pool_id: pool.id,
          host_id: null,
          size_gib: 1,
          state: 'creating',
          vm_id: null,
          image_id: null,
          source_volume_id: null,
          created_at: at,
          updated_at: at,
          deleted_at: null,
        })
        .execute();
      const op = (id: string, kind: string, detail: unknown, vm: string | null) =>
        w.t.db
          .insertInto('operations')
          .values({
            id,
            tenant_id: tenant.tenant_id,
            vm_id: vm,
            kind,
            status: 'running',
            idempotency_key: null,
            result: null,
            error: null,
            created_at: at,
            finished_at: null,
            step: 'recorded',
            detail: JSON.stringify(detail),
          })
          .execute();
      await op('op-create', 'volume-create', { volumeId: 'vol-crash', action: 'create', spec }, null);
      await w.t.cp.reconcile();
      assert.equal((await w.ok('ann', 'GET', '/v1/volumes/crashed')).state, 'available');
      // An attach interrupted after its record: the reconciler plugs it in.
      await w.t.db
        .updateTable('volumes')
        .set({ state: 'attaching', vm_id: vmId })
        .where('id', '=', 'vol-crash')
        .execute();
      await op('op-attach', 'volume-attach', { volumeId: 'vol-crash', action: 'attach', vmId }, vmId);
      await w.t.cp.reconcile();
      assert.equal((await w.ok('ann', 'GET', '/v1/volumes/crashed')).state, 'in-use');
      assert.deepEqual(
        (await w.t.sim.get(vmId))?.spec.disks?.map((d) => d.volumeId),
        ['vol-crash'],
      );
      const ops = await w.t.db
        .selectFrom('operations')
        .select(['id', 'status'])
        .where('id', 'like', 'op-%')
        .orderBy('id')
        .execute();
      assert.deepEqual(ops, [
        { id: 'op-attach', status: 'succeeded' },
        { id: 'op-create', status: 'succeeded' },
      ]);
    });

    test("vm clone copies the VM's volumes (copy-on-write clones in the same pool) and attaches them to the clone", async () => {
      const w = await world();
      await w.ok('admin', 'POST', '/v1/storage-pools', { name: 'nas', kind: 'shared' });
      await w.ok('ann', 'POST', '/v1/volumes', { name: 'data', sizeGiB: 3, pool: 'nas' });
      const vmId = await w.vm('ann', 'orig', { volumes: ['data'] });
      const op = await w.ok('ann', 'POST', `/v1/vms/${vmId}/actions`, { action: 'clone', name: 'copy' });
      assert.equal(op.status, 'succeeded', JSON.stringify(op));
      const vols = (await w.ok('ann', 'GET', '/v1/volumes')) as {
        id: string;
        name: string;
        vm: string;
        sourceVolumeId: string | null;
        pool: string;
        sizeGiB: number;
      }[];
      const copy = vols.find((v) => v.name === 'copy-data')!;
      assert.equal(copy.vm, 'copy');
      assert.equal(copy.pool, 'nas');
      assert.equal(copy.sizeGiB, 3);
      assert.equal(copy.sourceVolumeId, vols.find((v) => v.name === 'data')!.id);
      assert.deepEqual(
        (await w.t.sim.get(op.vmId))?.spec.disks?.map((d) => d.sizeGiB),
        [3],
      );
    });
  });
}
