/**
 * Migration 0968-neutron (issue 16): what Neutron v2.0 needs of nubis's network model. Networks get
 * `shared` (every tenant sees it and may put ports on it), a description, an admin state, a revision
 * and an update time; their subnet (a nubis network has at most one) gets its own id, name,
 * description, allocation pools and host routes (a network created without a cidr has none yet).
 * Ports get a name, description, admin state, device id/owner (for ports no VM holds), revision and
 * update time; security groups a revision and update time; rules an ethertype and a description.
 */
import { sql, type Kysely, type Migration } from 'kysely';

/** A column: name, type, and its default (NOT NULL with it) or none (nullable). */
type Col = [string, 'text' | 'integer', (string | number)?];

/** The migration (the same columns on SQLite and PostgreSQL). */
export const neutronMigration: Migration = {
  async up(db: Kysely<unknown>) {
    const add = async (table: string, cols: Col[]) => {
      for (const [name, type, def] of cols)
        await db.schema
          .alterTable(table)
          .addColumn(name, type, (c) => (def === undefined ? c : c.notNull().defaultTo(def)))
          .execute();
    };
    const common: Col[] = [
      ['revision_number', 'integer', 0],
      ['updated_at', 'text'],
    ];
    await add('networks', [
      ['shared', 'integer', 0],
      ['description', 'text', ''],
      ['admin_state_up', 'integer', 1],
      ...common,
      ['subnet_id', 'text'],
      ['subnet_name', 'text', ''],
      ['subnet_description', 'text', ''],
      ['allocation_pools', 'text'],
      ['host_routes', 'text', '[]'],
      ['subnet_revision', 'integer', 0],
      ['subnet_created_at', 'text'],
      ['subnet_updated_at', 'text'],
    ]);
    // Networks made before: their subnet's id is the network's (ids are opaque to clients).
    await sql`update networks set subnet_id = id, subnet_created_at = created_at where cidr <> ''`.execute(
      db,
    );
    await add('ports', [
      ['name', 'text', ''],
      ['description', 'text', ''],
      ['admin_state_up', 'integer', 1],
      ['device_id', 'text'],
      ['device_owner', 'text'],
      ...common,
    ]);
    await add('security_groups', common);
    await add('security_group_rules', [
      ['ethertype', 'text', 'IPv4'],
      ['description', 'text', ''],
    ]);
  },
};
