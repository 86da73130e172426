/**
 * Migration 0982-memory-version (issue 17 × issue 15): a measured host's `version` (0910-host-version)
 * is also bumped whenever what memory-aware placement reads about it changes, whoever writes it (any
 * service, any API process): its memory policy, risk or guarantee; a VM placed on it, moved off it,
 * deleted or resized (flavor) or given to another tenant; a VM profile of its VMs stored or removed; a
 * tenant of its VMs opting in or out of page sharing. The scheduler then keeps measured hosts' parsed
 * memory views (VMs, fingerprints, sharing indexes) in memory and rebuilds only the changed hosts'.
 * Static hosts are not touched by the VM, profile and tenant triggers (`memory_policy = 'measured'`).
 */
import { sql, type Kysely, type Migration } from 'kysely';

/** The host's own memory columns placement reads. */
const HOST_MEMORY_COLUMNS = 'memory_policy, memory_risk, memory_guarantee';
/** The VM columns a measured host's memory view reads. */
const VM_COLUMNS = 'host_id, deleted_at, flavor_id, tenant_id';

export const memoryVersionMigration = (isPg: boolean): Migration => ({
  async up(db: Kysely<unknown>) {
    if (isPg) {
      // hosts_bump_version (0910) takes the next value of the sequence; vm_count is one of its columns.
      await sql`create trigger hosts_memory_version before update of ${sql.raw(HOST_MEMORY_COLUMNS)} on hosts
        for each row execute function hosts_bump_version()`.execute(db);
      await sql`create function memory_touch_host(h text) returns void language plpgsql as $$
        begin
          if h is not null then
            update hosts set vm_count = vm_count where id = h and memory_policy = 'measured';
          end if;
        end $$`.execute(db);
      await sql`create function vms_memory_touch() returns trigger language plpgsql as $$
        begin
          if tg_op <> 'INSERT' then perform memory_touch_host(old.host_id); end if;
          if tg_op <> 'DELETE' and (tg_op = 'INSERT' or new.host_id is distinct from old.host_id) then
            perform memory_touch_host(new.host_id);
          end if;
          return null;
        end $$`.execute(db);
      await sql`create trigger vms_memory_touch after insert or update of ${sql.raw(VM_COLUMNS)} or delete
        on vms for each row execute function vms_memory_touch()`.execute(db);
      await sql`create function profiles_memory_touch() returns trigger language plpgsql as $$
        begin
          if tg_op <> 'INSERT' then
            perform memory_touch_host((select host_id from vms where id = old.vm_id));
          end if;
          if tg_op <> 'DELETE' and (tg_op = 'INSERT' or new.vm_id <> old.vm_id) then
            perform memory_touch_host((select host_id from vms where id = new.vm_id));
          end if;
          return null;
        end $$`.execute(db);
      await sql`create trigger profiles_memory_touch after insert or update or delete on vm_memory_profiles
        for each row execute function profiles_memory_touch()`.execute(db);
      await sql`create function tenants_memory_touch() returns trigger language plpgsql as $$
        begin
          update hosts set vm_count = vm_count where memory_policy = 'measured'
            and id in (select host_id from vms where tenant_id = new.id and deleted_at is null);
          return null;
        end $$`.execute(db);
      await sql`create trigger tenants_memory_touch after update of memory_sharing on tenants
        for each row when (old.memory_sharing is distinct from new.memory_sharing)
        execute function tenants_memory_touch()`.execute(db);
      return;
    }
    // SQLite: as 0910, the next version is max + 1 (writes are serialized).
    const next = '(select max(version) from hosts) + 1';
    const touch = (where: string) =>
      sql.raw(`update hosts set version = ${next} where memory_policy = 'measured' and ${where};`);
    await sql`create trigger hosts_memory_version after update of ${sql.raw(HOST_MEMORY_COLUMNS)} on hosts
      begin update hosts set version = ${sql.raw(next)} where id = new.id; end`.execute(db);
    await sql`create trigger vms_memory_touch_insert after insert on vms when new.host_id is not null
      begin ${touch('id = new.host_id')} end`.execute(db);
    await sql`create trigger vms_memory_touch_update after update of ${sql.raw(VM_COLUMNS)} on vms
      begin ${touch('id = old.host_id')} ${touch('id = new.host_id')} end`.execute(db);
    await sql`create trigger vms_memory_touch_delete after delete on vms when old.host_id is not null
      begin ${touch('id = old.host_id')} end`.execute(db);
    const hostOf = (vm: string) => `id = (select host_id from vms where id = ${vm})`;
    await sql`create trigger profiles_memory_touch_insert after insert on vm_memory_profiles
      begin ${touch(hostOf('new.vm_id'))} end`.execute(db);
    await sql`create trigger profiles_memory_touch_update after update on vm_memory_profiles
      begin ${touch(hostOf('old.vm_id'))} ${touch(hostOf('new.vm_id'))} end`.execute(db);
    await sql`create trigger profiles_memory_touch_delete after delete on vm_memory_profiles
      begin ${touch(hostOf('old.vm_id'))} end`.execute(db);
    await sql`create trigger tenants_memory_touch after update of memory_sharing on tenants
      when old.memory_sharing is not new.memory_sharing
      begin ${touch('id in (select host_id from vms where tenant_id = new.id and deleted_at is null)')} end`.execute(
      db,
    );
  },
});
