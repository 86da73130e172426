/**
 * Migration 0800-storage (issue 13): the image registry (owner, visibility, status, checksum, size
 * in bytes, virtual size, the stored file), storage pools and the pools each host sees, volumes and
 * their snapshots, volume GiB-hours (`volume_usage`), the tenant's storage quotas and the tariff's
 * price of a volume GiB-hour.
 */
import type { Kysely, Migration } from 'kysely';

/** The migration, for SQLite (AUTOINCREMENT, REAL) or PostgreSQL (identity column, double precision). */
export const storageMigration = (isPg: boolean): Migration => ({
  async up(db: Kysely<unknown>) {
    const s = db.schema;
    const big = isPg ? 'double precision' : 'real';
    await s.alterTable('images').addColumn('tenant_id', 'text').execute();
    await s
      .alterTable('images')
      .addColumn('visibility', 'text', (c) => c.notNull().defaultTo('public'))
      .execute();
    await s
      .alterTable('images')
      .addColumn('status', 'text', (c) => c.notNull().defaultTo('active'))
      .execute();
    await s.alterTable('images').addColumn('sha256', 'text').execute();
    await s.alterTable('images').addColumn('size_bytes', big).execute();
    await s.alterTable('images').addColumn('virtual_size_bytes', big).execute();
    await s.alterTable('images').addColumn('file', 'text').execute();
    await s
      .createTable('storage_pools')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('zone', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .execute();
    await s
      .alterTable('hosts')
      .addColumn('pools', 'text', (c) => c.notNull().defaultTo('[]'))
      .execute();
    await s
      .createTable('volumes')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('pool_id', 'text', (c) => c.notNull())
      .addColumn('host_id', 'text')
      .addColumn('size_gib', 'integer', (c) => c.notNull())
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('vm_id', 'text')
      .addColumn('image_id', 'text')
      .addColumn('source_volume_id', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addColumn('deleted_at', 'text')
      .execute();
    await s.createIndex('volumes_tenant_name').on('volumes').columns(['tenant_id', 'name']).execute();
    await s.createIndex('volumes_vm').on('volumes').column('vm_id').execute();
    await s
      .createTable('volume_snapshots')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('volume_id', 'text', (c) => c.notNull())
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('size_gib', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('volume_snapshots_volume_name', ['volume_id', 'name'])
      .execute();
    await s
      .createTable('volume_usage')
      .addColumn('id', 'integer', (c) =>
        isPg ? c.primaryKey().generatedAlwaysAsIdentity() : c.primaryKey().autoIncrement(),
      )
      .addColumn('volume_id', 'text', (c) => c.notNull())
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('size_gib', 'integer', (c) => c.notNull())
      .addColumn('start_at', 'text', (c) => c.notNull())
      .addColumn('end_at', 'text')
      .execute();
    await s
      .alterTable('tariffs')
      .addColumn('volume_gib_hour', 'real', (c) => c.notNull().defaultTo(0))
      .execute();
    for (const [col, n] of [
      ['quota_volumes', 10],
      ['quota_volume_gib', 100],
      ['quota_volume_snapshots', 20],
    ] as const)
      await s
        .alterTable('tenants')
        .addColumn(col, 'integer', (c) => c.notNull().defaultTo(n))
        .execute();
  },
});
