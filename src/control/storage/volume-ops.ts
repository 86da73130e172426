/**
 * Carrying out volume changes on hosts, as recoverable operations: the record (kind `volume-ACTION`,
 * with the volume, the VM and the spec in `detail`) is written with the state change, then the
 * driver call, then the outcome. Every driver call is idempotent, so the reconciler finishes an
 * interrupted operation by calling it again (`recover`).
 *
 * Uses: `cp.volumes`, `cp.pools`, `cp.drivers`, `cp.opRecords`, `cp.operations`.
 */
import type { HostDriver } from '../../core/host-driver.ts';
import type { VolumeSpec } from '../../core/storage/host-storage.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { oneAtATime } from '../operations/operation-records.ts';
import { Service } from '../service.ts';
import type { Db } from '../store/open-store.ts';
import { hostSeesPool } from './pools.ts';

/** What a volume operation does, as recorded in its `detail`. */
export interface VolumeOpDetail {
  volumeId: string;
  action: 'create' | 'delete' | 'attach' | 'detach' | 'snapshot' | 'delete-snapshot';
  /** The VM (attach, detach). */
  vmId?: string;
  /** The volume's spec (create). */
  spec?: VolumeSpec;
  /** The snapshot (snapshot, delete-snapshot). */
  snapshot?: { id: string; name: string };
}

/** Volume operations: record, carry out, finish (or roll back), recover. */
export class VolumeOps extends Service {
  /**
   * Record the operation with the state change `before` makes (in one transaction; it returns the
   * tenant the operation is filed under), then carry it out. @throws what the driver threw, after
   * the volume was put back (or in `error` for a failed create or delete).
   */
  async run(p: Principal, d: VolumeOpDetail, before: (trx: Db) => Promise<string>) {
    const opId = this.ctx.ids.uuid();
    this.cp.opRecords.track(opId);
    await this.db.transaction().execute(async (trx) => {
      const tenantId = await before(trx);
      const at = this.now();
      const insert = trx.insertInto('operations').values({
        id: opId,
        tenant_id: tenantId,
        vm_id: d.vmId ?? null,
        kind: `volume-${d.action}`,
        status: 'running',
        idempotency_key: null,
        result: null,
        error: null,
        created_at: at,
        finished_at: null,
        ...this.cp.opRecords.fields({ detail: d as unknown as Record<string, unknown> }),
      });
      await (d.vmId ? oneAtATime(d.vmId, () => insert.execute()) : insert.execute());
    });
    await this.carryOut(p.userName, opId, d, true);
    return opId;
  }

  /** Finish an operation a crash interrupted (the reconciler calls this for kinds `volume-*`). */
  async recover(op: { id: string; detail: string | null }) {
    const d = JSON.parse(op.detail ?? '{}') as VolumeOpDetail;
    if (!d.volumeId || !d.action) {
      await this.end(this.db, op.id, false, 'interrupted by a restart; nothing recorded to finish it');
      return { outcome: 'failed' as const, note: 'no detail' };
    }
    const ok = await this.carryOut('reconciler', op.id, d, false);
    return { outcome: ok ? ('completed' as const) : ('failed' as const), note: `volume ${d.action}` };
  }

  /** The driver of the host that acts for the volume: its host (local pool), the VM's, or any up host that sees the pool. */
  private async driverFor(d: VolumeOpDetail): Promise<HostDriver | undefined> {
    const v = await this.db
      .selectFrom('volumes')
      .selectAll()
      .where('id', '=', d.volumeId)
      .executeTakeFirstOrThrow();
    const pool = await this.cp.pools.find(this.db, v.pool_id);
    let hostId: string | null = null;
    if (d.action === 'attach' || d.action === 'detach') {
      const vm = await this.db
        .selectFrom('vms')
        .select('host_id')
        .where('id', '=', d.vmId!)
        .executeTakeFirst();
      hostId = vm?.host_id ?? null;
      if (!hostId) return undefined; // no guest yet: the disk is in its spec when it is built
    } else if (pool.kind !== 'shared') hostId = v.host_id;
    const hosts = await this.db.selectFrom('hosts').selectAll().where('deleted_at', 'is', null).execute();
    const h = hostId
      ? hosts.find((x) => x.id === hostId)
      : hosts
          .filter((x) => x.state === 'up' && hostSeesPool(x, pool))
          .sort((a, b) => a.name.localeCompare(b.name))[0];
    if (!h) throw new ControlError('INVALID_STATE', `No host that is up sees storage pool "${pool.name}"`);
    return this.cp.drivers.driverFor(h);
  }

  /** Call the driver, then record the outcome. Returns whether it succeeded (throws it when `rethrow`). */
  private async carryOut(actor: string, opId: string, d: VolumeOpDetail, rethrow: boolean): Promise<boolean> {
    const v = await this.db
      .selectFrom('volumes')
      .selectAll()
      .where('id', '=', d.volumeId)
      .executeTakeFirstOrThrow();
    const pool = await this.cp.pools.find(this.db, v.pool_id);
    try {
      const drv = await this.driverFor(d);
      if (drv) {
        if (d.action === 'create') await drv.createVolume(d.spec!);
        if (d.action === 'delete') await drv.deleteVolume(pool.name, v.id);
        if (d.action === 'snapshot') await drv.snapshotVolume(pool.name, v.id, d.snapshot!.name);
        if (d.action === 'delete-snapshot') await drv.deleteVolumeSnapshot(pool.name, v.id, d.snapshot!.name);
        if (d.action === 'attach') {
          const g = await drv.get(d.vmId!);
          if (g) await drv.attachVolume(d.vmId!, await this.cp.volumes.diskOf(this.db, v));
        }
        if (d.action === 'detach') {
          const g = await drv.get(d.vmId!);
          if (g) await drv.detachVolume(d.vmId!, v.id);
        }
      }
      await this.cp.opRecords.step(opId, 'driver-done', `volume-${d.action}`);
      await this.db.transaction().execute(async (trx) => {
        const at = this.now();
        const set = (state: string, more: Record<string, unknown> = {}) =>
          trx
            .updateTable('volumes')
            .set({ state, updated_at: at, ...more })
            .where('id', '=', v.id)
            .execute();
        if (d.action === 'create') await set('available');
        if (d.action === 'attach') await set('in-use');
        if (d.action === 'detach') await set('available', { vm_id: null });
        if (d.action === 'delete') {
          await set('deleted', { deleted_at: at });
          await trx.deleteFrom('volume_snapshots').where('volume_id', '=', v.id).execute();
          await trx
            .updateTable('volume_usage')
            .set({ end_at: at })
            .where('volume_id', '=', v.id)
            .where('end_at', 'is', null)
            .execute();
        }
        if (d.action === 'snapshot')
          await trx
            .insertInto('volume_snapshots')
            .values({
              id: d.snapshot!.id,
              volume_id: v.id,
              tenant_id: v.tenant_id,
              name: d.snapshot!.name,
              size_gib: v.size_gib,
              created_at: at,
            })
            .onConflict((oc) => oc.doNothing())
            .execute();
        if (d.action === 'delete-snapshot')
          await trx.deleteFrom('volume_snapshots').where('id', '=', d.snapshot!.id).execute();
        await this.end(trx, opId, true);
        await this.event(trx, {
          tenantId: v.tenant_id,
          vmId: d.vmId ?? null,
          actor,
          kind: `volume.${d.action === 'create' ? 'created' : d.action === 'delete' ? 'deleted' : d.action}`,
          detail: { volume: v.name, id: v.id, ...(d.snapshot ? { snapshot: d.snapshot.name } : {}) },
        });
      });
      return true;
    } catch (e) {
      await this.db.transaction().execute(async (trx) => {
        const at = this.now();
        const set = (state: string, more: Record<string, unknown> = {}) =>
          trx
            .updateTable('volumes')
            .set({ state, updated_at: at, ...more })
            .where('id', '=', v.id)
            .execute();
        if (d.action === 'create' || d.action === 'delete') await set('error');
        if (d.action === 'attach') await set('available', { vm_id: null });
        if (d.action === 'detach') await set('in-use');
        await this.end(trx, opId, false, (e as Error).message);
        await this.event(trx, {
          tenantId: v.tenant_id,
          vmId: d.vmId ?? null,
          actor,
          kind: 'volume.error',
          detail: { volume: v.name, id: v.id, action: d.action, error: (e as Error).message },
        });
      });
      if (rethrow) throw e;
      return false;
    }
  }

  private async end(db: Db, opId: string, ok: boolean, error?: string) {
    await db
      .updateTable('operations')
      .set({
        status: ok ? 'succeeded' : 'failed',
        finished_at: this.now(),
        updated_at: this.now(),
        error: ok ? null : (error ?? 'failed'),
        result: ok ? JSON.stringify({ ok: true }) : null,
      })
      .where('id', '=', opId)
      .where('status', '=', 'running')
      .execute();
  }
}
