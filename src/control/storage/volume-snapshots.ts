/**
 * Volume snapshots: named, taken by the volume's host (a qcow2 internal snapshot on real hosts),
 * counted against the tenant's snapshot quota, cloned into new volumes (`fromSnapshot`).
 *
 * Uses: `cp.volumes`, `cp.volumeOps`.
 */
import { authorize, tenantFilter } from '../authz.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import { checkStorageQuota } from './storage-quotas.ts';

/** Volume snapshots. */
export class VolumeSnapshots extends Service {
  /** Snapshot a volume (available or in use). */
  async create(p: Principal, ref: string, name: string) {
    const v = await this.cp.volumes.find(this.db, p, ref, 'volume:write');
    if (v.state !== 'available' && v.state !== 'in-use')
      throw new ControlError(
        'INVALID_STATE',
        `Volume "${v.name}" is ${v.state}: it cannot be snapshotted now`,
      );
    const taken = await this.db
      .selectFrom('volume_snapshots')
      .select('id')
      .where('volume_id', '=', v.id)
      .where('name', '=', name)
      .executeTakeFirst();
    if (taken)
      throw new ControlError('ALREADY_EXISTS', `Volume "${v.name}" already has a snapshot "${name}"`);
    const id = this.ctx.ids.uuid();
    await this.cp.volumeOps.run(
      p,
      { volumeId: v.id, action: 'snapshot', snapshot: { id, name } },
      async (trx) => {
        await checkStorageQuota(trx, v.tenant_id, 'volumeSnapshots', 1);
        return v.tenant_id;
      },
    );
    return this.view(
      (await this.db.selectFrom('volume_snapshots').selectAll().where('id', '=', id).executeTakeFirst())!,
    );
  }

  /** The snapshots of one volume, or of every volume the caller reaches. */
  async list(p: Principal, ref?: string) {
    authorize(p, 'volume:read');
    let q = this.db.selectFrom('volume_snapshots').selectAll().orderBy('created_at').orderBy('name');
    if (ref !== undefined)
      q = q.where('volume_id', '=', (await this.cp.volumes.find(this.db, p, ref, 'volume:read')).id);
    const t = tenantFilter(p, 'volume:read');
    if (t) q = q.where('tenant_id', '=', t);
    return (await q.execute()).map((s) => this.view(s));
  }

  /** Delete a snapshot (by id). */
  async delete(p: Principal, id: string) {
    const s = await this.cp.volumes.snapshotRow(p, id, 'volume:write');
    await this.cp.volumeOps.run(
      p,
      { volumeId: s.volume_id, action: 'delete-snapshot', snapshot: { id: s.id, name: s.name } },
      async () => s.tenant_id,
    );
  }

  private view(s: { id: string; volume_id: string; name: string; size_gib: number; created_at: string }) {
    return { id: s.id, volumeId: s.volume_id, name: s.name, sizeGiB: s.size_gib, createdAt: s.created_at };
  }
}
