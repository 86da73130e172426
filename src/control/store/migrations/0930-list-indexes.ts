/**
 * Migration 0930-list-indexes (issue 15): indexes that make a page of a list one keyset range scan
 * (src/control/store/keyset.ts) at 100,000 VMs: live VMs by creation time then id (the list's order),
 * alone and after the equality filters with many rows each (tenant, state); live hosts by name then id;
 * events by host then id (by VM and by tenant exist since 0001). A host's VMs are few: the host filter
 * uses `vms_host` and sorts them (an index led by host_id also changed the order of unordered joins
 * of VMs and hosts that messages rely on). Partial indexes (`WHERE deleted_at IS NULL`)
 * on SQLite and PostgreSQL alike.
 */
import { sql, type Kysely, type Migration } from 'kysely';

/** The migration (the same on SQLite and PostgreSQL). */
export const listIndexesMigration: Migration = {
  async up(db: Kysely<unknown>) {
    const s = db.schema;
    const live = sql.ref('deleted_at');
    await s
      .createIndex('vms_live_created')
      .on('vms')
      .columns(['created_at', 'id'])
      .where(live, 'is', null)
      .execute();
    for (const c of ['tenant_id', 'state'])
      await s
        .createIndex(`vms_live_${c}`)
        .on('vms')
        .columns([c, 'created_at', 'id'])
        .where(live, 'is', null)
        .execute();
    await s
      .createIndex('hosts_live_name')
      .on('hosts')
      .columns(['name', 'id'])
      .where(live, 'is', null)
      .execute();
    await s.createIndex('events_host').on('events').columns(['host_id', 'id']).execute();
  },
};
