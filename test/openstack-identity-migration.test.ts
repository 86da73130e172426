/**
 * Migration 0960-identity on a database that already has users and tokens: every row and foreign key
 * kept (SQLite rebuilds `users` inside the migration's transaction), tokens still authenticate, and a
 * user may then have no home tenant.
 */
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, sql } from 'kysely';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describe, test } from 'node:test';
import { hashToken } from '../src/control/principal.ts';
import { GroupCommitSqliteDialect } from '../src/control/store/group-commit-sqlite.ts';
import { buildMigrations } from '../src/control/store/migrations.ts';
import { openStore } from '../src/control/store/open-store.ts';
import { storeBackends } from './helpers/control.ts';

/** A database migrated up to (not including) 0960. */
async function before0960(url: string, isPg: boolean) {
  const db = isPg
    ? new Kysely<any>({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 2 }) }),
      })
    : new Kysely<any>({
        dialect: new GroupCommitSqliteDialect(
          (() => {
            const raw = new BetterSqlite3(url);
            raw.pragma('foreign_keys = ON');
            return raw;
          })(),
          { commits: 0, transactions: 0 },
        ),
      });
  const all = buildMigrations(isPg);
  const older = Object.fromEntries(Object.entries(all).filter(([k]) => k < '0960'));
  const { error } = await new Migrator({
    db,
    provider: { getMigrations: async () => older },
  }).migrateToLatest();
  assert.ifError(error);
  return db;
}

for (const backend of storeBackends()) {
  describe(`migration 0960-identity (${backend.name})`, () => {
    if (backend.skip) return void test('skipped', { skip: backend.skip });
    test('keeps every user and token, their keys, and lets a user have no home tenant', async () => {
      const isPg = backend.name === 'PostgreSQL';
      const dir = mkdtempSync(join(tmpdir(), 'nubis-mig-'));
      const b = isPg ? await backend.url() : { url: join(dir, 'db.sqlite'), drop: async () => {} };
      try {
        const old = await before0960(b.url, isPg);
        const at = '2026-01-01T00:00:00.000Z';
        await old
          .insertInto('tenants')
          .values({
            id: 't1',
            name: 'acme',
            quota_vcpus: 1,
            quota_memory_mib: 1,
            quota_vms: 1,
            quota_disk_gib: 1,
            created_at: at,
          })
          .execute();
        for (const [id, name, role] of [
          ['u1', 'admin', 'admin'],
          ['u2', 'bob', 'member'],
        ])
          await old.insertInto('users').values({ id, tenant_id: 't1', name, role, created_at: at }).execute();
        for (const [id, user] of [
          ['k1', 'u1'],
          ['k2', 'u2'],
          ['k3', 'u2'],
        ])
          await old
            .insertInto('tokens')
            .values({
              id,
              user_id: user,
              name: id,
              hash: hashToken(`secret-${id}`),
              expires_at: null,
              revoked_at: null,
              created_at: at,
            })
            .execute();
        await old.destroy();

        const db = await openStore(isPg ? b.url : `sqlite:${b.url}`);
        try {
          const users = await db.selectFrom('users').selectAll().orderBy('id').execute();
          assert.deepEqual(
            users.map((u) => [
              u.id,
              u.tenant_id,
              u.name,
              u.role,
              u.domain_id,
              Number(u.enabled),
              u.password_hash,
            ]),
            [
              ['u1', 't1', 'admin', 'admin', 'default', 1, null],
              ['u2', 't1', 'bob', 'member', 'default', 1, null],
            ],
          );
          assert.equal((await db.selectFrom('tokens').select('id').execute()).length, 3);
          if (!isPg) assert.deepEqual((await sql`pragma foreign_key_check`.execute(db)).rows, []);
          // The unique (tenant, name) and the foreign keys survived the rebuild.
          await assert.rejects(
            db
              .insertInto('users')
              .values({ id: 'u3', tenant_id: 't1', name: 'bob', role: 'reader', created_at: at })
              .execute(),
          );
          await assert.rejects(
            db
              .insertInto('tokens')
              .values({
                id: 'k9',
                user_id: 'nobody',
                name: 'x',
                hash: 'h9',
                expires_at: null,
                revoked_at: null,
                created_at: at,
              })
              .execute(),
          );
          await assert.rejects(db.deleteFrom('users').where('id', '=', 'u2').execute());
          await db
            .insertInto('users')
            .values({ id: 'u4', tenant_id: null, name: 'keystone-only', role: 'reader', created_at: at })
            .execute();
        } finally {
          await db.destroy();
        }
      } finally {
        await b.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}
