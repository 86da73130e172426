/**
 * The store's schema migrations, in order, for SQLite and PostgreSQL (kysely). Add a migration at
 * the end; never edit one that has shipped.
 */
import { sql, type Kysely, type Migration } from 'kysely';
import { tenancyMigration } from './migrations/0100-tenancy.ts';
import { constraintsMigration } from './migrations/0200-constraints.ts';
import { enrollmentMigration } from './migrations/0500-enrollment.ts';
import { securityMigration } from './migrations/0600-security.ts';
import { networkMigration } from './migrations/0700-network.ts';
import { storageMigration } from './migrations/0800-storage.ts';
import { hostVersionMigration } from './migrations/0910-host-version.ts';
import { listIndexesMigration } from './migrations/0930-list-indexes.ts';
import { overviewDemandMigration } from './migrations/0940-overview-demand.ts';
import { oneOperationPerVmMigration } from './migrations/0950-one-operation-per-vm.ts';
import { identityMigration } from './migrations/0960-identity.ts';
import { serverAttributesMigration } from './migrations/0962-server-attributes.ts';
import { novaResourcesMigration } from './migrations/0964-nova-resources.ts';
import { glanceImagesMigration } from './migrations/0966-glance-images.ts';
import { neutronMigration } from './migrations/0968-neutron.ts';
import { volumeDetailsMigration } from './migrations/0970-volume-details.ts';
import { tenantEnabledMigration } from './migrations/0972-tenant-enabled.ts';
import { memoryProfilesMigration } from './migrations/0980-memory-profiles.ts';
import { memoryVersionMigration } from './migrations/0982-memory-version.ts';

/** Migrations for a dialect (SQLite has AUTOINCREMENT, PostgreSQL identity columns). */
export const buildMigrations = (isPg: boolean): Record<string, Migration> => ({
  '0001-initial': {
    async up(db: Kysely<unknown>) {
      const s = db.schema;
      await s
        .createTable('tenants')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('quota_vcpus', 'integer', (c) => c.notNull())
        .addColumn('quota_memory_mib', 'integer', (c) => c.notNull())
        .addColumn('quota_vms', 'integer', (c) => c.notNull())
        .addColumn('quota_disk_gib', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await s
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('users_tenant_name', ['tenant_id', 'name'])
        .execute();
      await s
        .createTable('tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull().unique())
        .addColumn('expires_at', 'text')
        .addColumn('revoked_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await s
        .createTable('hosts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('vcpus', 'integer', (c) => c.notNull())
        .addColumn('memory_mib', 'integer', (c) => c.notNull())
        .addColumn('disk_gib', 'integer', (c) => c.notNull())
        .addColumn('cpu_ratio', 'real', (c) => c.notNull())
        .addColumn('memory_ratio', 'real', (c) => c.notNull())
        .addColumn('disk_ratio', 'real', (c) => c.notNull())
        .addColumn('reserved_vcpus', 'integer', (c) => c.notNull())
        .addColumn('reserved_memory_mib', 'integer', (c) => c.notNull())
        .addColumn('reserved_disk_gib', 'integer', (c) => c.notNull())
        .addColumn('datacenter', 'text', (c) => c.notNull())
        .addColumn('rack', 'text', (c) => c.notNull())
        .addColumn('driver', 'text', (c) => c.notNull())
        .addColumn('agent_url', 'text')
        .addColumn('power_model', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await s
        .createTable('flavors')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('vcpus', 'integer', (c) => c.notNull())
        .addColumn('memory_mib', 'integer', (c) => c.notNull())
        .addColumn('disk_gib', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await s
        .createTable('images')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('format', 'text', (c) => c.notNull())
        .addColumn('size_mib', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await s
        .createTable('server_groups')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('policy', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('server_groups_tenant_name', ['tenant_id', 'name'])
        .execute();
      await s
        .createTable('vms')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('flavor_id', 'text', (c) => c.notNull().references('flavors.id'))
        .addColumn('image_id', 'text', (c) => c.notNull().references('images.id'))
        .addColumn('host_id', 'text', (c) => c.references('hosts.id'))
        .addColumn('server_group_id', 'text', (c) => c.references('server_groups.id'))
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addColumn('deleted_at', 'text')
        .execute();
      await s.createIndex('vms_tenant').on('vms').columns(['tenant_id', 'deleted_at']).execute();
      await s.createIndex('vms_host').on('vms').columns(['host_id']).execute();
      await s
        .createTable('operations')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('vm_id', 'text')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('idempotency_key', 'text')
        .addColumn('result', 'text')
        .addColumn('error', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text')
        .addUniqueConstraint('operations_idem', ['tenant_id', 'idempotency_key'])
        .execute();
      await s
        .createTable('events')
        .addColumn('id', 'integer', (c) =>
          isPg ? c.primaryKey().generatedAlwaysAsIdentity() : c.primaryKey().autoIncrement(),
        )
        .addColumn('at', 'text', (c) => c.notNull())
        .addColumn('tenant_id', 'text')
        .addColumn('vm_id', 'text')
        .addColumn('host_id', 'text')
        .addColumn('actor', 'text')
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('detail', 'text', (c) => c.notNull())
        .execute();
      await s.createIndex('events_vm').on('events').columns(['vm_id', 'id']).execute();
      await s.createIndex('events_tenant').on('events').columns(['tenant_id', 'id']).execute();
    },
  },
  '0002-metering': {
    async up(db: Kysely<unknown>) {
      const s = db.schema;
      await s
        .createTable('usage')
        .addColumn('id', 'integer', (c) =>
          isPg ? c.primaryKey().generatedAlwaysAsIdentity() : c.primaryKey().autoIncrement(),
        )
        .addColumn('vm_id', 'text', (c) => c.notNull())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('host_id', 'text')
        .addColumn('flavor_id', 'text', (c) => c.notNull())
        .addColumn('class', 'text', (c) => c.notNull())
        .addColumn('start_at', 'text', (c) => c.notNull())
        .addColumn('end_at', 'text')
        .execute();
      await s.createIndex('usage_tenant').on('usage').columns(['tenant_id', 'start_at']).execute();
      await s.createIndex('usage_vm_open').on('usage').columns(['vm_id', 'end_at']).execute();
      await s
        .createTable('tariffs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('valid_from', 'text', (c) => c.notNull())
        .addColumn('valid_to', 'text')
        .addColumn('currency', 'text', (c) => c.notNull())
        .addColumn('vcpu_hour', 'real', (c) => c.notNull())
        .addColumn('memory_gib_hour', 'real', (c) => c.notNull())
        .addColumn('disk_gib_hour', 'real', (c) => c.notNull())
        .addColumn('kwh', 'real', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0003-usage-counters': {
    async up(db: Kysely<unknown>) {
      for (const c of ['used_vcpus', 'used_memory_mib', 'used_disk_gib', 'vm_count'])
        await db.schema
          .alterTable('hosts')
          .addColumn(c, 'integer', (x) => x.notNull().defaultTo(0))
          .execute();
      for (const c of ['used_vms', 'used_vcpus', 'used_memory_mib', 'used_disk_gib'])
        await db.schema
          .alterTable('tenants')
          .addColumn(c, 'integer', (x) => x.notNull().defaultTo(0))
          .execute();
      // Backfill from the live VMs.
      await sql`update hosts set
        used_vcpus = coalesce((select sum(f.vcpus) from vms v join flavors f on f.id = v.flavor_id where v.host_id = hosts.id and v.deleted_at is null), 0),
        used_memory_mib = coalesce((select sum(f.memory_mib) from vms v join flavors f on f.id = v.flavor_id where v.host_id = hosts.id and v.deleted_at is null), 0),
        used_disk_gib = coalesce((select sum(f.disk_gib) from vms v join flavors f on f.id = v.flavor_id where v.host_id = hosts.id and v.deleted_at is null), 0),
        vm_count = (select count(*) from vms v where v.host_id = hosts.id and v.deleted_at is null)`.execute(
        db,
      );
      await sql`update tenants set
        used_vms = (select count(*) from vms v where v.tenant_id = tenants.id and v.deleted_at is null),
        used_vcpus = coalesce((select sum(f.vcpus) from vms v join flavors f on f.id = v.flavor_id where v.tenant_id = tenants.id and v.deleted_at is null), 0),
        used_memory_mib = coalesce((select sum(f.memory_mib) from vms v join flavors f on f.id = v.flavor_id where v.tenant_id = tenants.id and v.deleted_at is null), 0),
        used_disk_gib = coalesce((select sum(f.disk_gib) from vms v join flavors f on f.id = v.flavor_id where v.tenant_id = tenants.id and v.deleted_at is null), 0)`.execute(
        db,
      );
    },
  },
  '0004-heartbeats': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('hosts').addColumn('last_seen_at', 'text').execute();
    },
  },
  '0006-plans': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('plans')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('summary', 'text', (c) => c.notNull())
        .addColumn('actions', 'text', (c) => c.notNull())
        .addColumn('result', 'text')
        .addColumn('finished_at', 'text')
        .execute();
    },
  },
  '0007-ha': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('vms')
        .addColumn('ha', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .alterTable('vms')
        .addColumn('ha_priority', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
    },
  },
  '0008-settings': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('settings')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
    },
  },
  '0009-scaling-groups': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('scaling_groups')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('flavor_id', 'text', (c) => c.notNull())
        .addColumn('image_id', 'text', (c) => c.notNull())
        .addColumn('server_group_id', 'text', (c) => c.notNull())
        .addColumn('min', 'integer', (c) => c.notNull())
        .addColumn('max', 'integer', (c) => c.notNull())
        .addColumn('desired', 'integer', (c) => c.notNull())
        .addColumn('policy', 'text', (c) => c.notNull())
        .addColumn('scale_in', 'text', (c) => c.notNull())
        .addColumn('last_scaled_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addUniqueConstraint('scaling_groups_tenant_name', ['tenant_id', 'name'])
        .execute();
      await db.schema.alterTable('vms').addColumn('scaling_group_id', 'text').execute();
    },
  },
  '0010-operations': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('vms')
        .addColumn('cpu_history', 'text', (c) => c.notNull().defaultTo('[]'))
        .execute();
      await db.schema.alterTable('hosts').addColumn('power_address', 'text').execute();
      await db.schema.alterTable('hosts').addColumn('energy_at', 'text').execute();
      await db.schema
        .alterTable('hosts')
        .addColumn('cpu_history', 'text', (c) => c.notNull().defaultTo('[]'))
        .execute();
      await db.schema.alterTable('plans').addColumn('zone', 'text').execute();
      await db.schema
        .createTable('energy')
        .addColumn('scope', 'text', (c) => c.notNull())
        .addColumn('ref', 'text', (c) => c.notNull())
        .addColumn('day', 'text', (c) => c.notNull())
        .addColumn('joules', 'real', (c) => c.notNull())
        .addPrimaryKeyConstraint('energy_pk', ['scope', 'ref', 'day'])
        .execute();
    },
  },
  '0011-metric-times': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('vms')
        .addColumn('cpu_times', 'text', (c) => c.notNull().defaultTo('[]'))
        .execute();
      await db.schema
        .alterTable('hosts')
        .addColumn('cpu_times', 'text', (c) => c.notNull().defaultTo('[]'))
        .execute();
    },
  },
  '0012-boot-until': {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('hosts').addColumn('boot_until', 'text').execute();
    },
  },
  '0100-tenancy': tenancyMigration,
  '0200-constraints': constraintsMigration,
  '0005-tiers-zones': {
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('hosts')
        .addColumn('tier', 'text', (c) => c.notNull().defaultTo('general'))
        .execute();
      await db.schema
        .alterTable('hosts')
        .addColumn('zone', 'text', (c) => c.notNull().defaultTo('zone-1'))
        .execute();
    },
  },
  '0300-operations': {
    async up(db: Kysely<unknown>) {
      // Operations that recover: written before the side effect, with their steps, so that the
      // reconciler can finish or roll back what a crash interrupted.
      for (const c of ['step', 'host_id', 'target_host_id', 'updated_at', 'detail'])
        await db.schema.alterTable('operations').addColumn(c, 'text').execute();
      await db.schema.createIndex('operations_status').on('operations').column('status').execute();
    },
  },
  '0500-enrollment': enrollmentMigration,
  '0600-security': securityMigration(isPg),
  '0700-network': networkMigration(isPg),
  '0800-storage': storageMigration(isPg),
  '0910-host-version': hostVersionMigration(isPg),
  '0920-plan-cluster-indexes': {
    // The planners' cluster read (issue 15): each VM's last migration and each host's last usage,
    // read before every wave of a plan, were full scans of the growing event and usage tables.
    async up(db: Kysely<unknown>) {
      await db.schema.createIndex('events_kind_vm').on('events').columns(['kind', 'vm_id', 'at']).execute();
      await db.schema.createIndex('usage_host_end').on('usage').columns(['host_id', 'end_at']).execute();
    },
  },
  '0930-list-indexes': listIndexesMigration,
  '0940-overview-demand': overviewDemandMigration(isPg),
  '0950-one-operation-per-vm': oneOperationPerVmMigration,
  '0960-identity': identityMigration(isPg),
  '0962-server-attributes': serverAttributesMigration,
  '0964-nova-resources': novaResourcesMigration,
  '0966-glance-images': glanceImagesMigration,
  '0968-neutron': neutronMigration,
  '0970-volume-details': volumeDetailsMigration,
  '0972-tenant-enabled': tenantEnabledMigration,
  '0980-memory-profiles': memoryProfilesMigration,
  '0982-memory-version': memoryVersionMigration(isPg),
});
