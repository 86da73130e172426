/**
 * Migration 0200-constraints (issue 10): placement constraints a tenant states about its VMs
 * (`constraints`: type, hard or soft, and a JSON spec with the VM ids and the type's parameters);
 * the zone and tier a VM asked for at creation (`vms.zone`, `vms.tier`), so every later move keeps
 * them; and a server group's optional cap per host and spread over racks, zones or data centers.
 */
import type { Kysely, Migration } from 'kysely';

export const constraintsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('constraints')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('hard', 'integer', (c) => c.notNull())
      .addColumn('spec', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('constraints_tenant_name', ['tenant_id', 'name'])
      .execute();
    await db.schema.alterTable('vms').addColumn('zone', 'text').execute();
    await db.schema.alterTable('vms').addColumn('tier', 'text').execute();
    await db.schema.alterTable('server_groups').addColumn('max_per_host', 'integer').execute();
    await db.schema.alterTable('server_groups').addColumn('spread_over', 'text').execute();
  },
};
