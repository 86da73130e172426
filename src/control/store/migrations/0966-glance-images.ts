/**
 * Migration 0966-glance-images (issue 16): what Glance v2 shows of an image, kept in nubis's own
 * image record so that nubis's API, the scheduler and billing see the same image: the declared
 * container and disk formats, the minimum disk and memory, protection, hiding, tags, custom
 * properties, the MD5 and SHA-512 of the data and the last change. A record may now also be
 * `queued` without data (registered, waiting for its upload), `saving`, `deactivated` or `killed`;
 * visibility may be `shared` or `community` besides `public` and `private`. Existing images are
 * `bare`, and `qcow2` or `raw` by their format. A `shared` image's members (other tenants) and their
 * answers are `image_members`.
 */
import { sql, type Kysely, type Migration } from 'kysely';

/** The migration (the same on SQLite and PostgreSQL). */
export const glanceImagesMigration: Migration = {
  async up(db: Kysely<unknown>) {
    const s = db.schema;
    await s.alterTable('images').addColumn('container_format', 'text').execute();
    await s.alterTable('images').addColumn('disk_format', 'text').execute();
    for (const c of ['min_disk', 'min_ram', 'protected', 'os_hidden'])
      await s
        .alterTable('images')
        .addColumn(c, 'integer', (col) => col.notNull().defaultTo(0))
        .execute();
    await s
      .alterTable('images')
      .addColumn('tags', 'text', (c) => c.notNull().defaultTo('[]'))
      .execute();
    await s
      .alterTable('images')
      .addColumn('properties', 'text', (c) => c.notNull().defaultTo('{}'))
      .execute();
    await s.alterTable('images').addColumn('md5', 'text').execute();
    await s.alterTable('images').addColumn('sha512', 'text').execute();
    await s.alterTable('images').addColumn('updated_at', 'text').execute();
    // An image shared (visibility `shared`) with other tenants: each one's answer (pending, accepted, rejected).
    await s
      .createTable('image_members')
      .addColumn('image_id', 'text', (c) => c.notNull())
      .addColumn('member_id', 'text', (c) => c.notNull())
      .addColumn('status', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('image_members_pk', ['image_id', 'member_id'])
      .execute();
    await s.createIndex('image_members_member').on('image_members').column('member_id').execute();
    await sql`update images set container_format = 'bare',
        disk_format = case when format = 'qcow2' then 'qcow2' else 'raw' end,
        updated_at = created_at`.execute(db);
  },
};
