/**
 * A volume's details besides its disk (migration 0970): its label, description, metadata, bootable
 * flag, and a reservation (available ⇄ attaching with no VM: Cinder's os-reserve, which a client
 * takes before attaching). None of these reach a host, so they are plain writes, audited as
 * `volume.updated`.
 *
 * Uses: `cp.volumes`.
 */
import { authorize } from '../authz.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import type { VolumeTable } from '../store/schema.ts';
import { parseMetadata } from './volume-view.ts';

/** What a volume update may change (absent: unchanged). */
export interface VolumeUpdate {
  displayName?: string | null;
  description?: string | null;
}

/** The states an admin may set (nubis's, and Cinder's `maintenance`: nothing may change it meanwhile). */
export const RESETTABLE_STATES = [
  'available',
  'error',
  'creating',
  'attaching',
  'in-use',
  'detaching',
  'deleting',
  'maintenance',
] as const;
export type ResettableState = (typeof RESETTABLE_STATES)[number];

/** At most this many metadata keys per volume (Cinder's keys and values are at most 255 characters). */
export const MAX_VOLUME_METADATA = 128;

/** Volume labels, metadata, bootable flag and reservations. */
export class VolumeDetails extends Service {
  /** Change the label and/or description. */
  async update(p: Principal, ref: string, o: VolumeUpdate) {
    const v = await this.cp.volumes.find(this.db, p, ref, 'volume:write');
    const set: Partial<Record<keyof VolumeTable, unknown>> = {};
    if (o.displayName !== undefined) set.display_name = o.displayName;
    if (o.description !== undefined) set.description = o.description;
    await this.write(p, v.id, v.tenant_id, set, { volume: v.name, changed: Object.keys(set) });
    return this.cp.volumes.get(p, v.id);
  }

  /** The metadata. */
  async metadata(p: Principal, ref: string): Promise<Record<string, string>> {
    return parseMetadata((await this.cp.volumes.find(this.db, p, ref, 'volume:read')).metadata);
  }

  /** Merge `md` into the metadata (`replace`: it becomes `md`); returns the new metadata. */
  async setMetadata(p: Principal, ref: string, md: Record<string, string>, replace = false) {
    return this.db.transaction().execute(async (trx) => {
      const v = await this.cp.volumes.find(trx, p, ref, 'volume:write');
      const next = replace ? { ...md } : { ...parseMetadata(v.metadata), ...md };
      if (Object.keys(next).length > MAX_VOLUME_METADATA)
        throw new ControlError('BAD_REQUEST', `A volume has at most ${MAX_VOLUME_METADATA} metadata keys`);
      await trx
        .updateTable('volumes')
        .set({ metadata: JSON.stringify(next), updated_at: this.now() })
        .where('id', '=', v.id)
        .execute();
      await this.event(trx, {
        tenantId: v.tenant_id,
        actor: p.userName,
        kind: 'volume.updated',
        detail: { volume: v.name, id: v.id, metadata: Object.keys(md) },
      });
      return next;
    });
  }

  /** Remove one metadata key. @throws NOT_FOUND when the volume has no such key. */
  async deleteMetadataKey(p: Principal, ref: string, key: string) {
    await this.db.transaction().execute(async (trx) => {
      const v = await this.cp.volumes.find(trx, p, ref, 'volume:write');
      const md = parseMetadata(v.metadata);
      if (!(key in md))
        throw new ControlError('NOT_FOUND', `Volume "${v.name}" has no metadata key "${key}"`);
      delete md[key];
      await trx
        .updateTable('volumes')
        .set({ metadata: JSON.stringify(md), updated_at: this.now() })
        .where('id', '=', v.id)
        .execute();
    });
  }

  /** Mark a volume bootable or not. */
  async setBootable(p: Principal, ref: string, bootable: boolean) {
    const v = await this.cp.volumes.find(this.db, p, ref, 'volume:write');
    await this.write(p, v.id, v.tenant_id, { bootable: bootable ? 1 : 0 }, { volume: v.name, bootable });
  }

  /** Reserve an available volume for an attachment (available → attaching, no VM), or release it. */
  async reserve(p: Principal, ref: string, reserved: boolean) {
    const v = await this.cp.volumes.find(this.db, p, ref, 'volume:write');
    if (!reserved && (v.state !== 'attaching' || v.vm_id))
      throw new ControlError('INVALID_STATE', `Volume "${v.name}" is ${v.state}: it is not reserved`);
    if (reserved && v.state !== 'available')
      throw new ControlError(
        'INVALID_STATE',
        `Volume "${v.name}" is ${v.state}: only an available volume is reserved`,
      );
    await this.db.transaction().execute(async (trx) => {
      await this.cp.volumes.transition(trx, v, [v.state], reserved ? 'attaching' : 'available');
      await this.event(trx, {
        tenantId: v.tenant_id,
        actor: p.userName,
        kind: 'volume.updated',
        detail: { volume: v.name, id: v.id, reserved },
      });
    });
  }

  /**
   * Set a volume's recorded state without touching a host (admin repairs, Cinder's os-reset_status);
   * `in-use` needs an attached VM.
   */
  async resetState(p: Principal, ref: string, state: ResettableState) {
    authorize(p, 'volume:reset');
    const v = await this.cp.volumes.find(this.db, p, ref, 'volume:write');
    if (state === 'in-use' && !v.vm_id)
      throw new ControlError('INVALID_STATE', `Volume "${v.name}" is not attached: it cannot be in-use`);
    await this.write(
      p,
      v.id,
      v.tenant_id,
      { state },
      { volume: v.name, reset: { from: v.state, to: state } },
    );
  }

  private async write(p: Principal, id: string, tenantId: string, set: object, detail: object) {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('volumes')
        .set({ ...set, updated_at: this.now() })
        .where('id', '=', id)
        .execute();
      await this.event(trx, {
        tenantId,
        actor: p.userName,
        kind: 'volume.updated',
        detail: { id, ...detail },
      });
    });
  }
}
