/**
 * Migration 0100-tenancy (issue 10): idempotency keys scoped to (tenant, method, route, key) with
 * the request's hash and the answer; and `deleted_at` on the inventory that past invoices and
 * events still name (hosts, flavors, images, tenants, server groups), so deleting one keeps the
 * history readable: a deleted object is hidden from lists and refused to new VMs.
 */
import type { Kysely, Migration } from 'kysely';

export const tenancyMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('idempotency_keys')
      .addColumn('tenant_id', 'text', (c) => c.notNull())
      .addColumn('method', 'text', (c) => c.notNull())
      .addColumn('route', 'text', (c) => c.notNull())
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('body_hash', 'text', (c) => c.notNull())
      .addColumn('status', 'integer')
      .addColumn('response', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('idempotency_keys_pk', ['tenant_id', 'method', 'route', 'key'])
      .execute();
    for (const table of ['hosts', 'flavors', 'images', 'tenants', 'server_groups'])
      await db.schema.alterTable(table).addColumn('deleted_at', 'text').execute();
  },
};
