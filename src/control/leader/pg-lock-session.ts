/**
 * One dedicated PostgreSQL connection per API process (`nubis serve --workers N`) that holds the
 * process's session advisory locks: the leader's lock, and one lock per operation the process
 * executes. A session's locks are released when it ends, so when a process dies its operations are
 * free for the leader's reconciler to finish or roll back, and the leader's lock for a follower to
 * take (postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS). A process whose session
 * ends must stop: its operations are no longer protected (`onLost`).
 */
import pg from 'pg';
import type { Clock } from '../../runtime/clock.ts';
import type { OperationOwners } from '../context.ts';
import type { LeaderLock } from './leader-election.ts';

/** Advisory-lock keys (two int4 keys: class, object): "nubi" for the leader, the next class for operations. */
const LEADER_CLASS = 0x6e756269;
const LEADER_OBJECT = 1;
const OPERATION_CLASS = LEADER_CLASS + 1;
/** Seconds an operation lock is kept while its record does not exist (the request failed before writing it). */
const UNRECORDED_KEEP_S = 60;

/** Options of `PgLockSession.open`. */
export interface PgLockSessionOptions {
  clock: Clock;
  /** Called once when the session ends unasked (the connection broke): the process must stop. */
  onLost: (reason: string) => void;
  /**
   * Seconds `heldElsewhere` waits before looking again at operations it found free (default 1; 0:
   * look once). A process locks an operation just before writing its record, on its own session: a
   * look between its record's commit and its lock (a busy session) would take a running operation
   * for an abandoned one; the second look does not.
   */
  confirmS?: number;
}

/** The dedicated session of one API process: its leader lock and its operations' locks. */
export class PgLockSession implements LeaderLock, OperationOwners {
  /** Operations this process holds a lock for, with when the hold began (seconds on the clock). */
  private readonly held = new Map<string, number>();
  /** Keys held until released (`holdUntilReleased`): not swept. */
  private readonly pinned = new Set<string>();
  private closing = false;
  private lost = false;
  /** The session's queries, one at a time in call order (pg's client no longer queues them itself). */
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly client: pg.Client,
    private readonly options: PgLockSessionOptions,
  ) {
    const lost = (why: string) => {
      if (this.closing || this.lost) return;
      this.lost = true;
      options.onLost(why);
    };
    client.on('error', (e) => lost(e.message));
    client.on('end', () => lost('the connection ended'));
  }

  /** Connect a dedicated session to `url` (a postgres:// URL). */
  static async open(url: string, options: PgLockSessionOptions): Promise<PgLockSession> {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 15_000 });
    await client.connect();
    await client.query(`set application_name = 'nubis lock session'`);
    return new PgLockSession(client, options);
  }

  /** Run `text` after every query asked before it. */
  private query<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    const run = this.tail.then(() => this.client.query<R>(text, values));
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Try the leader's lock (true: this session holds it, now or already). */
  async tryAcquire(): Promise<boolean> {
    const r = await this.query<{ got: boolean }>('select pg_try_advisory_lock($1, $2) as got', [
      LEADER_CLASS,
      LEADER_OBJECT,
    ]);
    return r.rows[0]!.got;
  }

  /** Lock operation `id` for this process (queued on the session before the request writes its record). */
  hold(id: string): void {
    if (this.held.has(id)) return;
    this.held.set(id, this.options.clock.now());
    this.query('select pg_advisory_lock($1, hashtext($2))', [OPERATION_CLASS, id]).catch((e: Error) =>
      this.failed(e),
    );
  }

  /** Lock `key` for this process until `release(key)` (work with no operation record: an image upload). */
  holdUntilReleased(key: string): void {
    if (this.pinned.has(key)) return;
    this.pinned.add(key);
    this.query('select pg_advisory_lock($1, hashtext($2))', [OPERATION_CLASS, key]).catch((e: Error) =>
      this.failed(e),
    );
  }

  /** Unlock a `holdUntilReleased` key. */
  release(key: string): void {
    if (!this.pinned.delete(key)) return;
    this.query('select pg_advisory_unlock($1, hashtext($2))', [OPERATION_CLASS, key]).catch((e: Error) =>
      this.failed(e),
    );
  }

  /**
   * Of `ids`, the operations another live session holds. A lock this session can take is free: it is
   * released at once, and looked at again after `confirmS`. (Two ids with the same hash look held
   * while either is: a recovery waits a round.)
   */
  async heldElsewhere(ids: readonly string[]): Promise<ReadonlySet<string>> {
    const held = await this.lookHeld(ids);
    const confirmS = this.options.confirmS ?? 1;
    const free = ids.filter((id) => !held.has(id));
    if (!free.length || confirmS <= 0) return held;
    await new Promise<void>((r) => this.options.clock.schedule(confirmS, r));
    for (const id of await this.lookHeld(free)) held.add(id);
    return held;
  }

  /** Resolves when every query asked so far has run (tests). */
  async flush(): Promise<void> {
    await this.tail;
  }

  private async lookHeld(ids: readonly string[]): Promise<Set<string>> {
    const r = await this.query<{ id: string; got: boolean }>(
      'select id, pg_try_advisory_lock($1, hashtext(id)) as got from unnest($2::text[]) as t(id)',
      [OPERATION_CLASS, ids],
    );
    const free = r.rows.filter((x) => x.got).map((x) => x.id);
    if (free.length)
      await this.query('select pg_advisory_unlock($1, hashtext(id)) from unnest($2::text[]) as t(id)', [
        OPERATION_CLASS,
        free,
      ]);
    return new Set(r.rows.filter((x) => !x.got).map((x) => x.id));
  }

  /**
   * Release the locks of operations that have ended (or whose record was never written): run every
   * few seconds, so the locks held stay about the operations in flight. Returns how many were released.
   */
  async sweep(): Promise<number> {
    if (!this.held.size) return 0;
    const ids = [...this.held.keys()];
    const r = await this.query<{ id: string; status: string }>(
      'select id, status from operations where id = any($1::text[])',
      [ids],
    );
    const status = new Map(r.rows.map((x) => [x.id, x.status]));
    const nowS = this.options.clock.now();
    const done = ids.filter((id) => {
      const s = status.get(id);
      return s === undefined ? nowS - this.held.get(id)! > UNRECORDED_KEEP_S : s !== 'running';
    });
    if (!done.length) return 0;
    for (const id of done) this.held.delete(id);
    await this.query('select pg_advisory_unlock($1, hashtext(id)) from unnest($2::text[]) as t(id)', [
      OPERATION_CLASS,
      done,
    ]);
    return done.length;
  }

  /** How many operation locks this session holds. */
  get heldCount(): number {
    return this.held.size;
  }

  /** End the session (every lock it holds is released). */
  async close(): Promise<void> {
    this.closing = true;
    await this.client.end();
  }

  private failed(e: Error): void {
    if (this.closing || this.lost) return;
    this.lost = true;
    this.options.onLost(e.message);
  }
}
