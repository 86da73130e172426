/** How a volume is shown (nubis's API; Cinder's view translates it): its row with its pool, VM and attachment. */
import type { Selectable } from 'kysely';
import { diskSerial } from '../../core/storage/host-storage.ts';
import type { Db } from '../store/open-store.ts';
import type { VolumeTable } from '../store/schema.ts';

/** A volume with its pool (name, kind, zone), its VM and host names, and its details (migration 0970). */
export async function volumeView(db: Db, v: Selectable<VolumeTable>) {
  const pool = await db
    .selectFrom('storage_pools')
    .select(['name', 'kind', 'zone'])
    .where('id', '=', v.pool_id)
    .executeTakeFirst();
  const vm = v.vm_id
    ? await db
        .selectFrom('vms')
        .leftJoin('hosts', 'hosts.id', 'vms.host_id')
        .select(['vms.name as name', 'hosts.name as host'])
        .where('vms.id', '=', v.vm_id)
        .executeTakeFirst()
    : undefined;
  const host = v.host_id
    ? await db.selectFrom('hosts').select('name').where('id', '=', v.host_id).executeTakeFirst()
    : undefined;
  return {
    id: v.id,
    name: v.name,
    displayName: v.display_name,
    description: v.description,
    tenantId: v.tenant_id,
    userId: v.user_id,
    sizeGiB: v.size_gib,
    state: v.state,
    pool: pool?.name ?? null,
    poolKind: pool?.kind ?? null,
    zone: pool?.zone ?? null,
    hostId: v.host_id,
    host: host?.name ?? null,
    vmId: v.vm_id,
    vm: vm?.name ?? null,
    attachment: v.vm_id
      ? {
          id: v.attachment_id ?? v.id,
          device: v.attach_device,
          attachedAt: v.attached_at,
          host: vm?.host ?? null,
        }
      : null,
    metadata: parseMetadata(v.metadata),
    bootable: v.bootable === 1,
    imageId: v.image_id,
    sourceVolumeId: v.source_volume_id,
    serial: diskSerial(v.id),
    createdAt: v.created_at,
    updatedAt: v.updated_at,
  };
}

/** The view's type. */
export type VolumeView = Awaited<ReturnType<typeof volumeView>>;

/** Stored metadata (JSON text) as an object of strings; anything else reads as empty. */
export function parseMetadata(text: string | null | undefined): Record<string, string> {
  try {
    const m = JSON.parse(text ?? '{}') as unknown;
    return m && typeof m === 'object' && !Array.isArray(m) ? (m as Record<string, string>) : {};
  } catch {
    return {};
  }
}
