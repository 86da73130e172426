/**
 * Open the control plane's database: SQLite (better-sqlite3) by default, PostgreSQL for scale, the
 * same schema and migrations on both (kysely), run on open.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql, type MigrationProvider, Migrator } from 'kysely';
import pg from 'pg';
import { buildMigrations } from './migrations.ts';
import type { Database } from './schema.ts';

export type Db = Kysely<Database>;

/** Bad database URL, or the database refused us. */
export class StoreError extends Error {
  readonly code = 'STORE_ERROR';
}

/**
 * Open (and migrate) a store. `url`: `sqlite:PATH`, a plain file path, `:memory:`, or `postgres://…`.
 * @throws StoreError when the URL is not understood or migrations fail
 */
export async function openStore(url: string): Promise<Db> {
  let db: Db;
  if (/^postgres(ql)?:\/\//.test(url)) {
    db = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 10 }) }),
    });
  } else {
    const path = url.replace(/^sqlite:/, '');
    if (!path)
      throw new StoreError(
        `Bad database URL "${url}"; accepted: sqlite:PATH, a file path, :memory:, or postgres://USER:PASS@HOST/DB`,
      );
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const raw = new BetterSqlite3(path);
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = FULL'); // an acknowledged write survives a crash
    raw.pragma('foreign_keys = ON');
    raw.pragma('busy_timeout = 5000');
    db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
  }
  const isPg = /^postgres/.test(url);
  const provider: MigrationProvider = { getMigrations: async () => buildMigrations(isPg) };
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) {
    await db.destroy();
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new StoreError(
      `Database migration ${failed ?? ''} failed on ${url.replace(/:[^:@/]+@/, ':***@')}: ${(error as Error).message}`,
    );
  }
  await sql`select 1`.execute(db);
  return db;
}
