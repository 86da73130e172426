/**
 * Storage pools: `local` (a folder on each host, a volume in it lives on one host) and `shared` (one
 * pool every host of its zone sees, as a NAS or SAN would be). Real hosts see the pools their agents
 * report (storage/reported-pools.ts; `nubis host update H --pool NAME` until the next report that
 * changes them); simulated hosts see every pool of their zone (a pool without a zone: every zone).
 *
 * Uses: no other service.
 */
import type { Selectable } from 'kysely';
import type { PoolRef } from '../../core/storage/host-storage.ts';
import { authorize } from '../authz.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import type { Db } from '../store/open-store.ts';
import type { HostTable, StoragePoolTable } from '../store/schema.ts';

export type PoolRow = Selectable<StoragePoolTable>;

/** Whether a host sees a pool (its declared pools; a simulated host: every pool of its zone). */
export function hostSeesPool(
  h: Pick<Selectable<HostTable>, 'driver' | 'zone' | 'pools'>,
  pool: Pick<PoolRow, 'name' | 'zone'>,
): boolean {
  if ((JSON.parse(h.pools) as string[]).includes(pool.name)) return true;
  return h.driver === 'sim' && (pool.zone === null || pool.zone === h.zone);
}

/** The pool as hosts are given it. */
export const poolRef = (p: Pick<PoolRow, 'name' | 'kind'>): PoolRef => ({
  name: p.name,
  kind: p.kind === 'shared' ? 'shared' : 'local',
});

/** Storage pools. */
export class StoragePools extends Service {
  /** Create a pool (admin). */
  async create(p: Principal, o: { name: string; kind: 'local' | 'shared'; zone?: string }) {
    authorize(p, 'storage-pool:write');
    const id = this.ctx.ids.uuid();
    await this.unique(
      () =>
        this.db.transaction().execute(async (trx) => {
          await trx
            .insertInto('storage_pools')
            .values({ id, name: o.name, kind: o.kind, zone: o.zone ?? null, created_at: this.now() })
            .execute();
          await this.event(trx, { actor: p.userName, kind: 'storage-pool.created', detail: { id, ...o } });
        }),
      `Storage pool "${o.name}" already exists`,
    );
    return this.view(await this.find(this.db, id));
  }

  async list(p: Principal) {
    authorize(p, 'storage-pool:read');
    return (await this.db.selectFrom('storage_pools').selectAll().orderBy('name').execute()).map((r) =>
      this.view(r),
    );
  }

  /** A pool by id or name. @throws NOT_FOUND */
  async find(db: Db, ref: string): Promise<PoolRow> {
    const r = await db
      .selectFrom('storage_pools')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]))
      .executeTakeFirst();
    if (!r) throw new ControlError('NOT_FOUND', `No storage pool "${ref}"; see GET /v1/storage-pools`);
    return r;
  }

  /**
   * The pool a new volume goes to when none is named: the only pool, else the one named `local`;
   * with no pool at all, a `local` pool is created (every simulated host sees it).
   */
  async defaultPool(db: Db): Promise<PoolRow> {
    const all = await db.selectFrom('storage_pools').selectAll().execute();
    if (all.length === 1) return all[0]!;
    const local = all.find((x) => x.name === 'local');
    if (local) return local;
    if (all.length)
      throw new ControlError(
        'BAD_REQUEST',
        `Name a storage pool (pool): ${all.map((x) => x.name).join(', ')}`,
      );
    const id = this.ctx.ids.uuid();
    await db
      .insertInto('storage_pools')
      .values({ id, name: 'local', kind: 'local', zone: null, created_at: this.now() })
      .execute();
    return this.find(db, id);
  }

  /** The live hosts (not deleted) that see `pool`. */
  async hostsSeeing(db: Db, pool: Pick<PoolRow, 'name' | 'zone'>) {
    const hosts = await db.selectFrom('hosts').selectAll().where('deleted_at', 'is', null).execute();
    return hosts.filter((h) => hostSeesPool(h, pool));
  }

  view(r: PoolRow) {
    return { id: r.id, name: r.name, kind: r.kind, zone: r.zone };
  }
}
