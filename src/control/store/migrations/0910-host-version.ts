/**
 * Migration 0910-host-version (issue 15): `hosts.version`, bumped by triggers whenever anything
 * placement reads changes (state, counters, capacity, ratios, reserved, zone, rack, tier, driver,
 * deletion; a local volume created, moved or deleted on the host), whoever writes it: any service,
 * any API process. The scheduler keeps its host index in memory and reads only the rows changed since
 * the version it saw ("changed since", not a scan of every host per decision).
 * SQLite: the next version is max + 1 (writes are serialized); PostgreSQL: a sequence (no lock).
 */
import { sql, type Kysely, type Migration } from 'kysely';

/** The host columns placement reads: an update of any of them bumps the version. */
export const PLACEMENT_COLUMNS = [
  'name',
  'state',
  'vcpus',
  'memory_mib',
  'disk_gib',
  'cpu_ratio',
  'memory_ratio',
  'disk_ratio',
  'reserved_vcpus',
  'reserved_memory_mib',
  'reserved_disk_gib',
  'datacenter',
  'rack',
  'driver',
  'tier',
  'zone',
  'used_vcpus',
  'used_memory_mib',
  'used_disk_gib',
  'vm_count',
  'deleted_at',
];

export const hostVersionMigration = (isPg: boolean): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('hosts')
      .addColumn('version', 'bigint', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.createIndex('hosts_version').on('hosts').column('version').execute();
    const cols = sql.raw(PLACEMENT_COLUMNS.join(', '));
    if (isPg) {
      await sql`create sequence hosts_version_seq`.execute(db);
      await sql`create function hosts_bump_version() returns trigger language plpgsql as $$
        begin new.version := nextval('hosts_version_seq'); return new; end $$`.execute(db);
      await sql`create trigger hosts_version_update before update of ${cols} on hosts
        for each row execute function hosts_bump_version()`.execute(db);
      await sql`create trigger hosts_version_insert before insert on hosts
        for each row execute function hosts_bump_version()`.execute(db);
      await sql`create function volumes_touch_host() returns trigger language plpgsql as $$
        begin
          if tg_op <> 'INSERT' and old.host_id is not null then
            update hosts set used_disk_gib = used_disk_gib where id = old.host_id;
          end if;
          if tg_op <> 'DELETE' and new.host_id is not null then
            update hosts set used_disk_gib = used_disk_gib where id = new.host_id;
          end if;
          return null;
        end $$`.execute(db);
      await sql`create trigger volumes_touch_host after insert or update of host_id, size_gib, deleted_at, pool_id
        or delete on volumes for each row execute function volumes_touch_host()`.execute(db);
      return;
    }
    const bump = (id: string) =>
      sql.raw(`update hosts set version = (select max(version) from hosts) + 1 where id = ${id};`);
    await sql`create trigger hosts_version_update after update of ${cols} on hosts
      begin ${bump('new.id')} end`.execute(db);
    await sql`create trigger hosts_version_insert after insert on hosts begin ${bump('new.id')} end`.execute(
      db,
    );
    await sql`create trigger volumes_touch_host_insert after insert on volumes when new.host_id is not null
      begin ${bump('new.host_id')} end`.execute(db);
    await sql`create trigger volumes_touch_host_update after update of host_id, size_gib, deleted_at, pool_id
      on volumes begin ${bump('old.host_id')} ${bump('new.host_id')} end`.execute(db);
    await sql`create trigger volumes_touch_host_delete after delete on volumes when old.host_id is not null
      begin ${bump('old.host_id')} end`.execute(db);
  },
});
