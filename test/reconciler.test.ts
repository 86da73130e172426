/**
 * The reconciler, in process: crash states are built by hand (the records of an operation written
 * before its side effect, the hosts in one state or the other), and one round must finish or roll
 * them back from what the simulated hosts really run, release orphan claims and repair usage.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostRef } from '../src/core/host-driver.ts';
import { assertRecoveredDb } from './helpers/recovery.ts';
import { controlPlane, storeBackends } from './helpers/control.ts';

type T = Awaited<ReturnType<typeof controlPlane>>;

async function vmOn(t: T, name: string) {
  const r = await t.call(t.adminToken, 'POST', '/v1/vms', { name, flavor: 'm1.small', image: 'tiny' });
  assert.equal(r.body.status, 'succeeded', JSON.stringify(r.body));
  const v = await t.db.selectFrom('vms').selectAll().where('id', '=', r.body.vmId).executeTakeFirstOrThrow();
  const host = await t.db
    .selectFrom('hosts')
    .selectAll()
    .where('id', '=', v.host_id!)
    .executeTakeFirstOrThrow();
  const other = await t.db
    .selectFrom('hosts')
    .selectAll()
    .where('id', '!=', host.id)
    .orderBy('name')
    .executeTakeFirstOrThrow();
  return { v, host, other };
}

/** An operation as the service writes it before its side effect. */
async function runningOp(
  t: T,
  o: { vmId: string | null; kind: string; hostId?: string; targetHostId?: string; detail?: unknown },
) {
  const id = `op-${o.kind}-${Math.round(t.clock.now())}-${o.vmId ?? o.hostId}`;
  const tenant = await t.db.selectFrom('tenants').select('id').executeTakeFirstOrThrow();
  await t.db
    .insertInto('operations')
    .values({
      id,
      tenant_id: tenant.id,
      vm_id: o.vmId,
      kind: o.kind,
      status: 'running',
      idempotency_key: null,
      result: null,
      error: null,
      created_at: new Date(t.clock.now() * 1000).toISOString(),
      finished_at: null,
      step: 'recorded',
      host_id: o.hostId ?? null,
      target_host_id: o.targetHostId ?? null,
      detail: o.detail ? JSON.stringify(o.detail) : null,
    })
    .execute();
  return id;
}

/** A migration recorded (VM migrating, capacity claimed on the target) but not finished. */
async function recordedMigration(t: T, name: string) {
  const { v, host, other } = await vmOn(t, name);
  await t.db.updateTable('vms').set({ state: 'migrating' }).where('id', '=', v.id).execute();
  await t.db
    .updateTable('hosts')
    .set((eb) => ({
      used_vcpus: eb('used_vcpus', '+', 1),
      used_memory_mib: eb('used_memory_mib', '+', 2048),
      used_disk_gib: eb('used_disk_gib', '+', 20),
      vm_count: eb('vm_count', '+', 1),
    }))
    .where('id', '=', other.id)
    .execute();
  const op = await runningOp(t, { vmId: v.id, kind: 'migrate', hostId: host.id, targetHostId: other.id });
  return { v, host, other, op };
}

async function opStatus(t: T, id: string) {
  return await t.db
    .selectFrom('operations')
    .select(['status', 'step'])
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
}

for (const backend of storeBackends()) {
  const opts = backend.skip ? { skip: backend.skip } : {};

  test(
    `reconciler on ${backend.name}: a suspended VM's migration completes with its guest paused on the target, and it stays suspended`,
    opts,
    async () => {
      const t = await controlPlane((await backend.url()).url, 3);
      try {
        const { v, host, other } = await vmOn(t, 'napper');
        const d = t.cp.drivers.driverFor(host);
        await d.pause(v.id);
        await t.db.updateTable('vms').set({ state: 'migrating' }).where('id', '=', v.id).execute();
        await t.db
          .updateTable('hosts')
          .set((eb) => ({
            used_vcpus: eb('used_vcpus', '+', 1),
            used_memory_mib: eb('used_memory_mib', '+', 2048),
            used_disk_gib: eb('used_disk_gib', '+', 20),
            vm_count: eb('vm_count', '+', 1),
          }))
          .where('id', '=', other.id)
          .execute();
        const op = await runningOp(t, {
          vmId: v.id,
          kind: 'migrate',
          hostId: host.id,
          targetHostId: other.id,
          detail: { from: 'suspended' },
        });
        await d.migrate(v.id, hostRef(other), {});
        const r = await t.cp.reconcile();
        assert.deepEqual(
          r.operations.map((o) => [o.kind, o.outcome]),
          [['migrate', 'completed']],
        );
        const after = await t.db
          .selectFrom('vms')
          .selectAll()
          .where('id', '=', v.id)
          .executeTakeFirstOrThrow();
        assert.deepEqual([after.state, after.host_id], ['suspended', other.id]);
        assert.equal((await t.cp.drivers.driverFor(other).get(v.id))?.state, 'paused');
        assert.equal((await opStatus(t, op)).status, 'succeeded');
        await assertRecoveredDb(t.db, 'after the round');
      } finally {
        await t.close();
      }
    },
  );

  test(
    `reconciler on ${backend.name}: a migration whose guest runs on the target completes there; one whose guest never left rolls back`,
    opts,
    async () => {
      const t = await controlPlane((await backend.url()).url, 3);
      try {
        const moved = await recordedMigration(t, 'moved');
        await t.cp.drivers.driverFor(moved.host).migrate(moved.v.id, hostRef(moved.other), {});
        const stayed = await recordedMigration(t, 'stayed');
        const r = await t.cp.reconcile();
        assert.deepEqual(r.operations.map((o) => [o.kind, o.outcome]).sort(), [
          ['migrate', 'completed'],
          ['migrate', 'rolled-back'],
        ]);
        const after = async (id: string) =>
          t.db.selectFrom('vms').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
        assert.deepEqual(
          [(await after(moved.v.id)).state, (await after(moved.v.id)).host_id],
          ['running', moved.other.id],
        );
        assert.deepEqual(
          [(await after(stayed.v.id)).state, (await after(stayed.v.id)).host_id],
          ['running', stayed.host.id],
        );
        assert.equal((await opStatus(t, moved.op)).status, 'succeeded');
        assert.equal((await opStatus(t, stayed.op)).status, 'failed');
        await assertRecoveredDb(t.db, 'after the round');
        assert.deepEqual((await t.cp.reconcile()).operations, [], 'a second round finds nothing to do');
      } finally {
        await t.close();
      }
    },
  );

  test(
    `reconciler on ${backend.name}: an interrupted create is finished (guest built and started), an interrupted delete is completed`,
    opts,
    async () => {
      const t = await controlPlane((await backend.url()).url, 2);
      try {
        // Create: recorded (building, claims taken), guest built but not started; another with no guest at all.
        const half = await vmOn(t, 'half');
        await t.sim.stop(half.v.id);
        const none = await vmOn(t, 'none');
        await t.sim.delete(none.v.id);
        for (const x of [half, none]) {
          await t.db.updateTable('vms').set({ state: 'building' }).where('id', '=', x.v.id).execute();
          await t.db
            .updateTable('usage')
            .set({ end_at: '2027-01-01T00:00:00.000Z' })
            .where('vm_id', '=', x.v.id)
            .execute();
          await runningOp(t, { vmId: x.v.id, kind: 'create', hostId: x.host.id });
        }
        // Delete: the guest is gone, the records not updated yet.
        const gone = await vmOn(t, 'gone');
        await t.sim.delete(gone.v.id);
        const delOp = await runningOp(t, { vmId: gone.v.id, kind: 'delete', hostId: gone.host.id });
        const r = await t.cp.reconcile();
        assert.equal(r.operations.length, 3);
        assert.ok(
          r.operations.every((o) => o.outcome === 'completed'),
          JSON.stringify(r.operations),
        );
        for (const x of [half, none]) assert.equal((await t.sim.get(x.v.id))?.state, 'running');
        const g = await t.db
          .selectFrom('vms')
          .selectAll()
          .where('id', '=', gone.v.id)
          .executeTakeFirstOrThrow();
        assert.equal(g.state, 'deleted');
        assert.equal((await opStatus(t, delOp)).status, 'succeeded');
        await assertRecoveredDb(t.db, 'after the round');
      } finally {
        await t.close();
      }
    },
  );

  test(
    `reconciler on ${backend.name}: orphan claims are released, usage is repaired, and operations this process runs are left alone`,
    opts,
    async () => {
      const t = await controlPlane((await backend.url()).url, 2);
      try {
        const a = await vmOn(t, 'a');
        const b = await vmOn(t, 'b');
        // A claim with no VM (a crash between the claim and the record of an older version).
        await t.db
          .updateTable('hosts')
          .set({ used_vcpus: 30, used_memory_mib: 99999, vm_count: 7 })
          .where('id', '=', a.other.id)
          .execute();
        await t.db.updateTable('tenants').set({ used_vms: 40 }).execute();
        // Running unbilled; billed twice.
        await t.db.deleteFrom('usage').where('vm_id', '=', a.v.id).execute();
        await t.db
          .insertInto('usage')
          .values({
            vm_id: b.v.id,
            tenant_id: b.v.tenant_id,
            host_id: b.v.host_id,
            flavor_id: b.v.flavor_id,
            class: 'running',
            start_at: '2027-01-01T00:00:00.000Z',
            end_at: null,
          })
          .execute();
        // An operation this process is executing: not the reconciler's business.
        const mine = await runningOp(t, { vmId: null, kind: 'power-off', hostId: a.other.id });
        t.cp.opRecords.track(mine);
        const r = await t.cp.reconcile();
        assert.deepEqual(r.operations, []);
        assert.ok(r.claimsRepaired.hosts.includes(a.other.name));
        assert.equal(r.claimsRepaired.tenants.length, 1);
        assert.deepEqual(r.usageRepaired.sort(), ['a', 'b']);
        assert.equal((await opStatus(t, mine)).status, 'running');
        await t.db.updateTable('operations').set({ status: 'failed' }).where('id', '=', mine).execute();
        await assertRecoveredDb(t.db, 'after the round');
        const ev = (await t.call(t.adminToken, 'GET', '/v1/events?limit=5')).body.find(
          (e: { kind: string }) => e.kind === 'reconciler.repaired',
        );
        assert.ok(ev, 'the repair is in the audit trail');
      } finally {
        await t.close();
      }
    },
  );
}
