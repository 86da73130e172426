/**
 * Migration 0500-enrollment (issue 11): host enrollment and per-host credentials. `join_tokens` holds
 * the one-time tokens an admin creates (SHA-256 only, an expiry, the host that used it); each host
 * keeps the hash of the credential its agent presents (`hosts.credential_hash`) and the credential the
 * control plane presents to its agent (`hosts.agent_credential`, which the agent issued at enrollment;
 * kept as is, since the control plane must send it, and never shown by the API).
 */
import type { Kysely, Migration } from 'kysely';

export const enrollmentMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('join_tokens')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull().unique())
      .addColumn('expires_at', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('used_at', 'text')
      .addColumn('host_id', 'text')
      .execute();
    await db.schema.alterTable('hosts').addColumn('credential_hash', 'text').execute();
    await db.schema.alterTable('hosts').addColumn('agent_credential', 'text').execute();
    await db.schema.createIndex('hosts_credential_hash').on('hosts').column('credential_hash').execute();
  },
};
