/**
 * A kysely dialect for better-sqlite3 with group commit and a prepared-statement cache.
 *
 * Group commit: SQLite fsyncs on every COMMIT (synchronous=FULL), and its one connection runs one
 * transaction at a time (kysely's SqliteDialect: one fsync per transaction and per lone write). Here each kysely transaction is a SAVEPOINT inside one outer transaction;
 * its commit RELEASEs the savepoint, hands the connection to the next transaction and waits until
 * the outer transaction commits, on the next turn of the event loop once the transactions already
 * waiting have run: one fsync for all of them (group commit as in PostgreSQL's commit_delay and
 * InnoDB's binlog group commit). A transaction's caller still resumes only once its writes are on
 * disk, so an acknowledged write survives a crash or power loss as before; if the outer COMMIT
 * fails, every transaction of the group fails. A rolled-back transaction rolls back to its savepoint
 * and leaves the others' writes. A write outside a transaction joins the group as a
 * transaction of its own statement (a failed statement is undone by SQLite alone, the group goes on).
 * Reads outside transactions may see a group's writes just before they are on disk (in this process
 * only: the file's other readers see them once committed).
 *
 * Statement cache: better-sqlite3 compiles a statement on every `prepare`; the compiled statements
 * are kept by their SQL text (kysely produces the same text for the same query shape), at most
 * `STATEMENT_CACHE` of them.
 */
import type BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryCompiler,
  type QueryResult,
} from 'kysely';

/** The most compiled statements kept (the cache starts over when full). */
const STATEMENT_CACHE = 1000;

/** The savepoint each kysely transaction is (kysely's own savepoints nest inside it). */
const TX = 'nubis_tx';

/** One acquisition of the single connection: released once, unless its commit handed it on already. */
class Connection implements DatabaseConnection {
  handedOff = false;
  inTx = false;
  constructor(private readonly driver: GroupCommitDriver) {}
  executeQuery<R>(q: CompiledQuery): Promise<QueryResult<R>> {
    return this.driver.run<R>(this, q);
  }
  // eslint-disable-next-line require-yield -- kysely's interface; nubis never streams from SQLite
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('Streaming queries are not supported on SQLite');
  }
}

/** A FIFO lock: one holder of the connection at a time. */
class Mutex {
  #held = false;
  readonly #queue: (() => void)[] = [];
  async lock(): Promise<void> {
    if (!this.#held) {
      this.#held = true;
      return;
    }
    await new Promise<void>((r) => this.#queue.push(r));
  }
  unlock(): void {
    const next = this.#queue.shift();
    if (next) next();
    else this.#held = false;
  }
}

/** How many outer commits (fsyncs) and grouped transactions a store made; read by tests and /metrics. */
export interface GroupCommitStats {
  commits: number;
  transactions: number;
}

class GroupCommitDriver implements Driver {
  readonly #mutex = new Mutex();
  readonly #statements = new Map<string, BetterSqlite3.Statement>();
  #open = false;
  #waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  #scheduled = false;
  constructor(
    private readonly db: BetterSqlite3.Database,
    readonly stats: GroupCommitStats,
  ) {}

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.#mutex.lock();
    return new Connection(this);
  }

  #prepare(sql: string): BetterSqlite3.Statement {
    let s = this.#statements.get(sql);
    if (!s) {
      if (this.#statements.size >= STATEMENT_CACHE) this.#statements.clear();
      s = this.db.prepare(sql);
      this.#statements.set(sql, s);
    }
    return s;
  }

  /** Run one statement on the connection `c` holds. */
  async run<R>(c: Connection, q: CompiledQuery): Promise<QueryResult<R>> {
    const stmt = this.#prepare(q.sql);
    const params = q.parameters as unknown[];
    if (stmt.reader) return { rows: stmt.all(params) as R[] };
    // A write outside a transaction joins the group too (opening one): acknowledged once on disk.
    const alone = !c.inTx;
    if (alone && !this.#open) {
      this.#exec('begin');
      this.#open = true;
    }
    let r: BetterSqlite3.RunResult;
    try {
      r = stmt.run(params);
    } catch (e) {
      if (alone) this.#endIfEmpty();
      throw e;
    }
    const { changes, lastInsertRowid } = r;
    if (alone) {
      this.stats.transactions++;
      await this.#awaitGroup(c);
    }
    return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
  }

  #exec(sql: string): void {
    this.#prepare(sql).run();
  }

  async beginTransaction(c: DatabaseConnection): Promise<void> {
    if (!this.#open) {
      this.#exec('begin');
      this.#open = true;
    }
    this.#exec(`savepoint ${TX}`);
    (c as Connection).inTx = true;
  }

  async commitTransaction(c: DatabaseConnection): Promise<void> {
    this.#exec(`release ${TX}`);
    (c as Connection).inTx = false;
    this.stats.transactions++;
    await this.#awaitGroup(c as Connection);
  }

  async rollbackTransaction(c: DatabaseConnection): Promise<void> {
    // Its commit failed with its group: the group is rolled back, and the connection is another's now.
    if ((c as Connection).handedOff) return;
    (c as Connection).inTx = false;
    if (!this.db.inTransaction) {
      // SQLite rolled the whole group back itself (a full disk, an I/O error): the group failed.
      this.#open = false;
      this.#fail(new Error('SQLite rolled back the transaction group'));
      return;
    }
    this.#exec(`rollback to ${TX}`);
    this.#exec(`release ${TX}`);
    this.#endIfEmpty();
  }

  /** Nothing else in the open group: end it here (nothing to write), so no lock is held. */
  #endIfEmpty(): void {
    if (this.#open && !this.#waiters.length && !this.#scheduled) {
      if (this.db.inTransaction) this.#exec('rollback');
      this.#open = false;
    }
  }

  // kysely's own savepoints (trx.savepoint) nest inside the transaction's.
  async savepoint(_c: DatabaseConnection, name: string) {
    this.#exec(`savepoint "${name}"`);
  }
  async rollbackToSavepoint(_c: DatabaseConnection, name: string) {
    this.#exec(`rollback to "${name}"`);
  }
  async releaseSavepoint(_c: DatabaseConnection, name: string) {
    this.#exec(`release "${name}"`);
  }

  /** Hand the connection to the next holder and wait until the open group is committed. */
  #awaitGroup(c: Connection): Promise<void> {
    const done = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (!this.#scheduled) {
      this.#scheduled = true;
      // Not time: the next turn of the event loop, after the I/O already waiting (requests) has run.
      // eslint-disable-next-line no-restricted-globals -- batching, no delay; a store has no clock
      setImmediate(() => void this.#flush());
    }
    c.handedOff = true;
    this.#mutex.unlock();
    return done;
  }

  async #flush(): Promise<void> {
    await this.#mutex.lock();
    this.#scheduled = false;
    const waiters = this.#waiters;
    this.#waiters = [];
    try {
      if (this.#open) {
        this.#open = false;
        this.#exec('commit');
        this.stats.commits++;
      }
      for (const w of waiters) w.resolve();
    } catch (e) {
      if (this.db.inTransaction) this.db.exec('rollback');
      for (const w of waiters) w.reject(e);
    } finally {
      this.#mutex.unlock();
    }
  }

  #fail(e: Error): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(e);
  }

  async releaseConnection(c: DatabaseConnection): Promise<void> {
    if (!(c as Connection).handedOff) this.#mutex.unlock();
  }

  async destroy(): Promise<void> {
    if (this.#scheduled || this.#open) await this.#flush();
    this.db.close();
  }
}

/** The SQLite dialect of `openStore`: group commit and cached statements (see the file's comment). */
export class GroupCommitSqliteDialect implements Dialect {
  /** `stats`: where outer commits and grouped transactions are counted. */
  constructor(
    private readonly db: BetterSqlite3.Database,
    readonly stats: GroupCommitStats = { commits: 0, transactions: 0 },
  ) {}
  createDriver(): Driver {
    return new GroupCommitDriver(this.db, this.stats);
  }
  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }
  createAdapter() {
    return new SqliteAdapter();
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- kysely's signature
  createIntrospector(db: Kysely<any>) {
    return new SqliteIntrospector(db);
  }
}
