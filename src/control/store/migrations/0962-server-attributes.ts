/**
 * Migration 0962-server-attributes (issue 16): what a Nova server has that a nubis VM lacked, kept on
 * the VM itself so nubis's own API reads the same record: the user who created it, its metadata (JSON
 * object) and tags (JSON array), a description, whether it is locked, its access IPs, the disk config
 * asked for, whether a suspended VM was paused (Nova's PAUSED vs SUSPENDED: nubis's guest is paused in
 * both) and when it was launched.
 */
import type { Kysely, Migration } from 'kysely';

/** The migration (the same on SQLite and PostgreSQL). */
export const serverAttributesMigration: Migration = {
  async up(db: Kysely<unknown>) {
    const add = (name: string, type: 'text' | 'integer', def?: string | number) =>
      db.schema
        .alterTable('vms')
        .addColumn(name, type, (c) => (def === undefined ? c : c.notNull().defaultTo(def)))
        .execute();
    await add('user_id', 'text');
    await add('metadata', 'text', '{}');
    await add('tags', 'text', '[]');
    await add('description', 'text');
    await add('locked', 'integer', 0);
    await add('access_ipv4', 'text', '');
    await add('access_ipv6', 'text', '');
    await add('disk_config', 'text', 'MANUAL');
    await add('paused', 'integer', 0);
    await add('launched_at', 'text');
  },
};
