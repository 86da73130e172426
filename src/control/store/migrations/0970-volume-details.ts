/**
 * Migration 0970-volume-details (issue 16, Cinder v3): what a volume carries besides its disk, so
 * nubis's own API and Cinder's read the same volume: a display name (Cinder's names are labels: not
 * unique, any text, may be empty, while nubis's `name` stays the tenant's unique handle), a
 * description, key/value metadata (JSON text), whether it is bootable, the user who created it, and
 * the current attachment's id, device and time (the VM is `vm_id`).
 */
import type { Kysely, Migration } from 'kysely';

/** The migration (the same on SQLite and PostgreSQL). */
export const volumeDetailsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    const t = () => db.schema.alterTable('volumes');
    for (const c of [
      'display_name',
      'description',
      'user_id',
      'attachment_id',
      'attach_device',
      'attached_at',
    ])
      await t().addColumn(c, 'text').execute();
    await t()
      .addColumn('metadata', 'text', (c) => c.notNull().defaultTo('{}'))
      .execute();
    await t()
      .addColumn('bootable', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
  },
};
