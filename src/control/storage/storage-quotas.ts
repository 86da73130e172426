/**
 * Storage quotas of a tenant: volumes (count), their gigabytes, and volume snapshots (count). Checked
 * in the transaction that creates, with the tenant's row locked (as the network quotas are).
 */
import { ControlError } from '../errors.ts';
import type { Db } from '../store/open-store.ts';

/** What a storage quota limits. */
export type StorageQuotaKind = 'volumes' | 'volumeGiB' | 'volumeSnapshots';

const COLUMN = {
  volumes: 'quota_volumes',
  volumeGiB: 'quota_volume_gib',
  volumeSnapshots: 'quota_volume_snapshots',
} as const;

/** How much of `kind` the tenant uses (live volumes, their GiB, their snapshots). */
export async function storageUsed(trx: Db, tenantId: string, kind: StorageQuotaKind): Promise<number> {
  if (kind === 'volumeSnapshots') {
    const r = await trx
      .selectFrom('volume_snapshots')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('tenant_id', '=', tenantId)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
  const r = await trx
    .selectFrom('volumes')
    .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.sum<number>('size_gib').as('gib')])
    .where('tenant_id', '=', tenantId)
    .where('deleted_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(kind === 'volumes' ? r.n : (r.gib ?? 0));
}

/** @throws QUOTA_EXCEEDED when `want` more of `kind` would pass the tenant's quota. */
export async function checkStorageQuota(trx: Db, tenantId: string, kind: StorageQuotaKind, want: number) {
  // Lock the tenant's row (PostgreSQL), so two concurrent creates cannot both take the last unit.
  await trx
    .updateTable('tenants')
    .set((eb) => ({ quota_volumes: eb.ref('quota_volumes') }))
    .where('id', '=', tenantId)
    .execute();
  const t = await trx
    .selectFrom('tenants')
    .select(COLUMN[kind])
    .where('id', '=', tenantId)
    .executeTakeFirstOrThrow();
  const limit = Number((t as Record<string, unknown>)[COLUMN[kind]]);
  const used = await storageUsed(trx, tenantId, kind);
  if (used + want > limit)
    throw new ControlError(
      'QUOTA_EXCEEDED',
      `Quota exceeded for ${kind}: used ${used} of ${limit}, requested ${want}, left ${Math.max(0, limit - used)}`,
      { resource: kind, used, limit, requested: want },
    );
}

/** A new tenant's storage quotas (the column defaults of migration 0800). */
export const DEFAULT_STORAGE_QUOTAS: Record<StorageQuotaKind, number> = {
  volumes: 10,
  volumeGiB: 100,
  volumeSnapshots: 20,
};

/** The storage quota kinds, in the order the API shows them. */
export const STORAGE_QUOTA_KINDS = Object.keys(COLUMN) as StorageQuotaKind[];

/** Storage quotas as the API sets them (each optional). */
export type StorageQuotaInput = Partial<Record<StorageQuotaKind, number>>;

/** The tenant columns to write for the storage quotas given. */
export function storageQuotaColumns(q: StorageQuotaInput): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of STORAGE_QUOTA_KINDS) if (q[k] !== undefined) out[COLUMN[k]] = q[k];
  return out;
}

/** A tenant row's storage quotas. */
export function storageQuotasOf(t: Record<string, unknown>): Record<StorageQuotaKind, number> {
  return Object.fromEntries(STORAGE_QUOTA_KINDS.map((k) => [k, Number(t[COLUMN[k]])])) as Record<
    StorageQuotaKind,
    number
  >;
}
