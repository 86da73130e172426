/**
 * Migration 0600-security (issue 11): the security event log (`security_events`: failed logins,
 * denied actions, token creation and revocation, token use from a new address, enrollments), and
 * the addresses each token has been used from (`token_addresses`), so a new one is noticed.
 */
import type { Kysely, Migration } from 'kysely';

/** The migration, for SQLite (AUTOINCREMENT) or PostgreSQL (identity column). */
export const securityMigration = (isPg: boolean): Migration => ({
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('security_events')
      .addColumn('id', 'integer', (c) =>
        isPg ? c.primaryKey().generatedAlwaysAsIdentity() : c.primaryKey().autoIncrement(),
      )
      .addColumn('at', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('principal', 'text')
      .addColumn('tenant_id', 'text')
      .addColumn('source', 'text')
      .addColumn('operation', 'text')
      .addColumn('object', 'text')
      .addColumn('detail', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('security_events_kind')
      .on('security_events')
      .columns(['kind', 'id'])
      .execute();
    await db.schema
      .createTable('token_addresses')
      .addColumn('token_id', 'text', (c) => c.notNull())
      .addColumn('address', 'text', (c) => c.notNull())
      .addColumn('first_seen_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('token_addresses_pk', ['token_id', 'address'])
      .execute();
  },
});
