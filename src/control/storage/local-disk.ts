/**
 * A host's local disk, one count for every path that puts something on it: VM root disks (the
 * host's `used_disk_gib` counter, claimed by the scheduler) plus the local volumes it holds. VM
 * placement, resize, migration (with the local volumes that are mirrored along) and volume placement
 * (new and cloned volumes) all read it here, so none can overfill a disk the other filled.
 * Volume snapshots are internal to their volume's file and are not counted (no path counts them).
 */
import type { Db } from '../store/open-store.ts';

/** One host's local disk use, in GiB. */
export interface LocalDiskUse {
  /** VM root disks (the host's claimed counter). */
  vmDisksGiB: number;
  /** Local volumes (not deleted) on the host. */
  volumesGiB: number;
  /** Their sum: what placement counts as used. */
  usedGiB: number;
}

/** A host row's disk fields. */
export interface HostDisk {
  id: string;
  disk_gib: number;
  disk_ratio: number;
  reserved_disk_gib: number;
  used_disk_gib: number | string | bigint;
}

/** GiB of local volumes per host (volumes of non-shared pools, not deleted), for `hostIds` or all hosts. */
export async function localVolumesGiB(db: Db, hostIds?: readonly string[]): Promise<Map<string, number>> {
  if (hostIds && !hostIds.length) return new Map();
  let q = db
    .selectFrom('volumes')
    .innerJoin('storage_pools', 'storage_pools.id', 'volumes.pool_id')
    .select(['volumes.host_id', (eb) => eb.fn.sum<number>('volumes.size_gib').as('gib')])
    .where('volumes.host_id', 'is not', null)
    .where('volumes.deleted_at', 'is', null)
    .where('storage_pools.kind', '!=', 'shared')
    .groupBy('volumes.host_id');
  if (hostIds) q = q.where('volumes.host_id', 'in', hostIds);
  return new Map((await q.execute()).map((r) => [r.host_id!, Number(r.gib ?? 0)]));
}

/** A host's used local disk: its VM root disks and its local volumes (`volumes` from localVolumesGiB). */
export function localDiskUse(h: HostDisk, volumes: ReadonlyMap<string, number>): LocalDiskUse {
  const vmDisksGiB = Number(h.used_disk_gib);
  const volumesGiB = volumes.get(h.id) ?? 0;
  return { vmDisksGiB, volumesGiB, usedGiB: vmDisksGiB + volumesGiB };
}

/** GiB still free on a host's local disk (capacity × ratio − reserved − VM disks − local volumes). */
export function freeLocalDiskGiB(h: HostDisk, volumes: ReadonlyMap<string, number>): number {
  return h.disk_gib * h.disk_ratio - h.reserved_disk_gib - localDiskUse(h, volumes).usedGiB;
}
