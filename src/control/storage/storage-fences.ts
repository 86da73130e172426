/**
 * Placement knows storage: a VM with a volume in a shared pool is fenced to the hosts that see the
 * pool, and a VM given a local volume at creation to the volume's host (the volume cannot be
 * reached from elsewhere). A running VM with local volumes may still move: the migration mirrors
 * them (block migration) and the volume's host moves with it, so its fence is the hosts that see
 * the pool. Hard `fence` constraints of the constraint model, as physnets (network/physnet-fences.ts),
 * so the scheduler, migrations, HA and plans all honour them.
 */
import type { Constraint } from '../../core/constraints/index.ts';
import type { Db } from '../store/open-store.ts';
import { hostSeesPool } from './pools.ts';

/** A volume as the fences need it. */
interface FencedVolume {
  vmId: string;
  name: string;
  pool: { id: string; name: string; kind: string; zone: string | null };
  hostId: string | null;
}

/**
 * The storage fences of VMs: of `vmIds` from their attached volumes, and (a VM being created) of the
 * volumes in `planned`, which also pin it to a local volume's host.
 */
export async function storageFences(
  db: Db,
  vmIds: string[],
  planned: { vmId: string; volumeIds: string[] }[] = [],
): Promise<Constraint[]> {
  const plannedIds = planned.flatMap((p) => p.volumeIds);
  if (!vmIds.length && !plannedIds.length) return [];
  let q = db
    .selectFrom('volumes')
    .innerJoin('storage_pools', 'storage_pools.id', 'volumes.pool_id')
    .select([
      'volumes.id',
      'volumes.name',
      'volumes.vm_id',
      'volumes.host_id',
      'storage_pools.id as pool_id',
      'storage_pools.name as pool_name',
      'storage_pools.kind',
      'storage_pools.zone',
    ])
    .where('volumes.deleted_at', 'is', null);
  q = q.where((eb) =>
    eb.or([
      ...(vmIds.length ? [eb('volumes.vm_id', 'in', vmIds)] : []),
      ...(plannedIds.length ? [eb('volumes.id', 'in', plannedIds)] : []),
    ]),
  );
  const rows = await q.execute();
  if (!rows.length) return [];
  const vols: (FencedVolume & { pinned: boolean })[] = [];
  for (const r of rows) {
    const pool = { id: r.pool_id, name: r.pool_name, kind: r.kind, zone: r.zone };
    const plannedFor = planned.find((p) => p.volumeIds.includes(r.id));
    if (plannedFor) vols.push({ vmId: plannedFor.vmId, name: r.name, pool, hostId: r.host_id, pinned: true });
    else if (r.vm_id) vols.push({ vmId: r.vm_id, name: r.name, pool, hostId: r.host_id, pinned: false });
  }
  const hosts = await db
    .selectFrom('hosts')
    .select(['id', 'driver', 'zone', 'pools'])
    .where('deleted_at', 'is', null)
    .execute();
  const out = new Map<string, Constraint>();
  for (const v of vols) {
    const seeing = hosts.filter((h) => hostSeesPool(h, v.pool)).map((h) => h.id);
    const local = v.pool.kind !== 'shared' && v.pinned && v.hostId;
    const c: Constraint = {
      id: `pool:${v.vmId}:${v.pool.id}${local ? `:${v.hostId}` : ''}`,
      name: local
        ? `volume ${v.name} lives on one host (local pool ${v.pool.name})`
        : `volume ${v.name} needs pool ${v.pool.name}`,
      hard: true,
      type: 'fence',
      vms: [v.vmId],
      hosts: local ? seeing.filter((h) => h === v.hostId) : seeing,
    };
    out.set(c.id, c);
  }
  return [...out.values()];
}

/** The storage fences of every live VM with a volume (plans check them across the cloud). */
export async function allStorageFences(db: Db): Promise<Constraint[]> {
  const vms = await db
    .selectFrom('volumes')
    .select('vm_id')
    .where('vm_id', 'is not', null)
    .where('deleted_at', 'is', null)
    .distinct()
    .execute();
  return storageFences(
    db,
    vms.map((v) => v.vm_id!),
  );
}
