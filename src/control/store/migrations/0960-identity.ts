/**
 * Migration 0960-identity: Keystone v3 on nubis's own tables (docs/openstack.md). Users may have no
 * home tenant (Keystone creates a user in a domain, then assigns roles) and gain a password (scrypt),
 * a domain, `enabled`, a default project, a description and an e-mail; tenants a description; role assignments give a user
 * a role on a tenant (project) beside its home; tokens gain a Keystone scope (the project, none =
 * unscoped), the methods, an audit id and the application credential they came from; application
 * credentials are a user's secret (hashed) for one project with a copy of its roles there.
 *
 * SQLite cannot drop a NOT NULL: `users` is rebuilt inside the migration's transaction (foreign keys
 * deferred, the same table name so `tokens`' references resolve to the new table at commit).
 */
import { sql, type Kysely, type Migration } from 'kysely';

const USER_COLUMNS = 'id, tenant_id, name, role, created_at';

async function rebuildUsersSqlite(outer: Kysely<unknown>) {
  // One transaction (a savepoint of the group commit's outer transaction): the deferred foreign keys
  // hold until its commit, by when every token's user is back.
  await outer.transaction().execute((db) => rebuildUsersIn(db));
}

async function rebuildUsersIn(db: Kysely<unknown>) {
  const indexes = await sql<{ sql: string }>`select sql from sqlite_master
    where type = 'index' and tbl_name = 'users' and sql is not null`.execute(db);
  await sql`pragma defer_foreign_keys = on`.execute(db);
  await sql.raw(`create table users_copy as select ${USER_COLUMNS} from users`).execute(db);
  await sql`drop table users`.execute(db);
  await sql`create table users (
      id text primary key,
      tenant_id text references tenants (id),
      name text not null,
      role text not null,
      created_at text not null,
      constraint users_tenant_name unique (tenant_id, name)
    )`.execute(db);
  await sql.raw(`insert into users (${USER_COLUMNS}) select ${USER_COLUMNS} from users_copy`).execute(db);
  await sql`drop table users_copy`.execute(db);
  for (const i of indexes.rows) await sql.raw(i.sql).execute(db);
}

/** The migration for a dialect. */
export const identityMigration = (isPg: boolean): Migration => ({
  async up(db: Kysely<unknown>) {
    if (isPg) await sql`alter table users alter column tenant_id drop not null`.execute(db);
    else await rebuildUsersSqlite(db);
    const s = db.schema;
    await s.alterTable('users').addColumn('password_hash', 'text').execute();
    await s
      .alterTable('users')
      .addColumn('domain_id', 'text', (c) => c.notNull().defaultTo('default'))
      .execute();
    await s
      .alterTable('users')
      .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
      .execute();
    for (const c of ['default_project_id', 'description', 'email'])
      await s.alterTable('users').addColumn(c, 'text').execute();
    await s.alterTable('tenants').addColumn('description', 'text').execute();
    await s.createIndex('users_name').on('users').column('name').execute();
    for (const c of ['scope_tenant_id', 'methods', 'audit_id', 'app_credential_id'])
      await s.alterTable('tokens').addColumn(c, 'text').execute();
    await s
      .createTable('role_assignments')
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('role_assignments_pk', ['user_id', 'tenant_id', 'role'])
      .execute();
    await s.createIndex('role_assignments_tenant').on('role_assignments').column('tenant_id').execute();
    await s
      .createTable('app_credentials')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
      .addColumn('tenant_id', 'text', (c) => c.notNull().references('tenants.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('description', 'text')
      .addColumn('secret_hash', 'text', (c) => c.notNull())
      .addColumn('roles', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'text')
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('app_credentials_user_name', ['user_id', 'name'])
      .execute();
  },
});
