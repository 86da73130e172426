/**
 * Open the control plane's database: SQLite (better-sqlite3) by default, PostgreSQL for scale, the
 * same schema and migrations on both (kysely), run on open.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, sql, type MigrationProvider, Migrator } from 'kysely';
import pg from 'pg';
import { GroupCommitSqliteDialect } from './group-commit-sqlite.ts';
import { buildMigrations } from './migrations.ts';
import type { Database } from './schema.ts';

export type Db = Kysely<Database>;

/**
 * Statements run by every store this process opened, and SQLite's group commits (fsyncs) and the
 * transactions they carried (served at /metrics; the API benchmark reads them).
 */
export const storeStats = { statements: 0, commits: 0, transactions: 0 };
const countStatement = () => {
  storeStats.statements++;
};

/** Bad database URL, or the database refused us. */
export class StoreError extends Error {
  readonly code = 'STORE_ERROR';
}

/** A database URL for messages: the password replaced by `***`. */
export function maskUrl(url: string): string {
  return url.replace(/:[^:@/]+@/, ':***@');
}

const ACCEPTED = 'accepted: sqlite:PATH, a file path, :memory:, or postgres://USER:PASS@HOST:PORT/DB';

/** "HOST:PORT/DB" of a PostgreSQL URL (pg's defaults where the URL leaves them out), for messages. */
function pgTarget(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname || 'localhost'}:${u.port || '5432'}/${decodeURIComponent(u.pathname.slice(1)) || '(default database)'}`;
  } catch {
    return maskUrl(url);
  }
}

/** Why a connection failed: pg's message, or the socket error's code (an AggregateError has no message). */
function reason(e: unknown): string {
  const err = e as Error & { code?: string; errors?: (Error & { code?: string })[] };
  return err.message || err.code || err.errors?.[0]?.message || err.errors?.[0]?.code || String(e);
}

/**
 * The database holds every tenant's records and the token hashes: its folder is created 0700 and
 * the file 0600 (created so before SQLite opens it; an existing file readable by others is
 * tightened, with its -wal and -shm). SQLite gives the -wal and -shm it creates the database
 * file's mode (sqlite.org/tempfiles.html; os_unix.c findCreateFileMode).
 */
function privateSqliteFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
  for (const f of [path, `${path}-wal`, `${path}-shm`])
    if (existsSync(f) && (statSync(f).mode & 0o077) !== 0) chmodSync(f, 0o600);
}

/** Options of `openStore` (all optional). */
export interface OpenStoreOptions {
  /** Told when PostgreSQL closes an idle connection (the pool replaces it); ignored by default. */
  onConnectionError?: (e: Error) => void;
}

/**
 * Open (and migrate) a store. `url`: `sqlite:PATH`, a plain file path, `:memory:`, or `postgres://…`
 * (`postgresql://…`). Any other `scheme:` is refused, so `mysql://x` is not taken for a file name.
 * @throws StoreError when the URL is not understood, PostgreSQL cannot be reached, or migrations fail
 */
export async function openStore(url: string, o: OpenStoreOptions = {}): Promise<Db> {
  let db: Db;
  const isPg = /^postgres(ql)?:\/\//.test(url);
  if (isPg) {
    const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 15_000 });
    // An idle connection the server closes (a restart, pg_terminate_backend, a dropped database) is
    // discarded by the pool and replaced on next use; without a listener its error would end the
    // process.
    pool.on('error', (e) => o.onConnectionError?.(e));
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }), log: countStatement });
    try {
      await sql`select 1`.execute(db);
    } catch (e) {
      await db.destroy().catch(() => undefined);
      throw new StoreError(`cannot connect to PostgreSQL at ${pgTarget(url)}: ${reason(e)}`);
    }
  } else {
    // A scheme of two or more letters (a one-letter one is a drive, C:) that is not sqlite: is a URL
    // for a database we do not speak, not a file name.
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]+):/.exec(url)?.[1];
    if (scheme && scheme.toLowerCase() !== 'sqlite')
      throw new StoreError(
        `Unsupported database URL "${maskUrl(url)}" (scheme "${scheme}:"); ${ACCEPTED}. ` +
          `A file name with a colon is written sqlite:NAME or ./NAME.`,
      );
    const path = url.replace(/^sqlite:/i, '');
    if (!path) throw new StoreError(`Bad database URL "${url}"; ${ACCEPTED}`);
    if (path !== ':memory:') privateSqliteFile(path);
    const raw = new BetterSqlite3(path);
    raw.pragma('journal_mode = WAL');
    raw.pragma('synchronous = FULL'); // an acknowledged write survives a crash
    raw.pragma('foreign_keys = ON');
    raw.pragma('busy_timeout = 5000');
    // Transactions are grouped into one commit (one fsync) each turn of the event loop.
    db = new Kysely<Database>({
      dialect: new GroupCommitSqliteDialect(raw, storeStats),
      log: countStatement,
    });
  }
  const provider: MigrationProvider = { getMigrations: async () => buildMigrations(isPg) };
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) {
    await db.destroy();
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new StoreError(
      `Database migration ${failed ?? ''} failed on ${maskUrl(url)}: ${(error as Error).message}`,
    );
  }
  await sql`select 1`.execute(db);
  return db;
}
