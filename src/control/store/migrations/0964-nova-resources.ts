/**
 * Migration 0964-nova-resources (issue 16, Nova's API): a key pair's `type` (`ssh` or `x509`, Nova
 * 2.2) and the user who created a server group (Nova 2.13 shows `user_id`; groups made before this
 * migration have none).
 */
import type { Kysely, Migration } from 'kysely';

/** The migration (the same on SQLite and PostgreSQL). */
export const novaResourcesMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('keypairs')
      .addColumn('type', 'text', (c) => c.notNull().defaultTo('ssh'))
      .execute();
    await db.schema.alterTable('server_groups').addColumn('user_id', 'text').execute();
  },
};
