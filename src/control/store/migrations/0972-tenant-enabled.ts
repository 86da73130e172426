/**
 * Migration 0972-tenant-enabled (issue 16, Keystone's project `enabled`): a tenant may be disabled by
 * an admin; nobody then acts in it (its users' tokens and tokens scoped to it stand for nobody) until
 * it is enabled again. Its resources stay.
 */
import type { Kysely, Migration } from 'kysely';

/** The migration (the same on SQLite and PostgreSQL). */
export const tenantEnabledMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('tenants')
      .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
      .execute();
  },
};
