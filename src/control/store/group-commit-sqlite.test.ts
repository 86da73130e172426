import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import fc from 'fast-check';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { GroupCommitSqliteDialect } from './group-commit-sqlite.ts';

interface T {
  t: { id: number; v: string };
}

function open() {
  const dir = mkdtempSync(join(tmpdir(), 'nubis-gc-'));
  const path = join(dir, 'db.sqlite');
  const raw = new BetterSqlite3(path);
  raw.pragma('journal_mode = WAL');
  const dialect = new GroupCommitSqliteDialect(raw);
  const db = new Kysely<T>({ dialect });
  return { db, dialect, path, done: async () => (await db.destroy(), rmSync(dir, { recursive: true })) };
}

test('concurrent transactions share one commit, each sees its own writes, all are on disk', async () => {
  const { db, dialect, path, done } = open();
  await sql`create table t (id integer primary key, v text not null)`.execute(db);
  const before = dialect.stats.commits;
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      db.transaction().execute(async (trx) => {
        await trx
          .insertInto('t')
          .values({ id: i, v: `a${i}` })
          .execute();
        const r = await trx.selectFrom('t').select('v').where('id', '=', i).executeTakeFirstOrThrow();
        assert.equal(r.v, `a${i}`);
      }),
    ),
  );
  assert.ok(dialect.stats.commits - before < 20, 'fewer commits than transactions');
  // Another connection (another process) sees every acknowledged write.
  const other = new BetterSqlite3(path, { readonly: true });
  assert.equal((other.prepare('select count(*) as n from t').get() as { n: number }).n, 20);
  other.close();
  await done();
});

test('a failed transaction rolls back alone; the others of its group commit', async () => {
  const { db, done } = open();
  await sql`create table t (id integer primary key, v text not null)`.execute(db);
  const results = await Promise.allSettled(
    Array.from({ length: 6 }, (_, i) =>
      db.transaction().execute(async (trx) => {
        await trx.insertInto('t').values({ id: i, v: 'x' }).execute();
        if (i % 2) throw new Error(`no ${i}`);
      }),
    ),
  );
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled', 'rejected'],
  );
  const ids = (await db.selectFrom('t').select('id').orderBy('id').execute()).map((r) => r.id);
  assert.deepEqual(ids, [0, 2, 4]);
  await done();
});

test('lone writes join a group; a failing one throws and leaves no transaction open', async () => {
  const { db, path, done } = open();
  await sql`create table t (id integer primary key, v text not null)`.execute(db);
  await db.insertInto('t').values({ id: 1, v: 'a' }).execute();
  await assert.rejects(db.insertInto('t').values({ id: 1, v: 'dup' }).execute(), /UNIQUE/);
  await Promise.all([
    db.updateTable('t').set({ v: 'b' }).where('id', '=', 1).execute(),
    db.insertInto('t').values({ id: 2, v: 'c' }).execute(),
  ]);
  // Nothing is left uncommitted: another connection may write at once.
  const other = new BetterSqlite3(path);
  other.prepare('insert into t (id, v) values (3, ?)').run('d');
  other.close();
  const rows = await db.selectFrom('t').selectAll().orderBy('id').execute();
  assert.deepEqual(rows, [
    { id: 1, v: 'b' },
    { id: 2, v: 'c' },
    { id: 3, v: 'd' },
  ]);
  await done();
});

test('property: concurrent grouped transactions leave the state that running them one by one leaves', async () => {
  // A transaction: some upserts, then it fails or not; the failed ones change nothing.
  const txArb = fc.record({
    writes: fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.string({ maxLength: 3 })), {
      minLength: 1,
      maxLength: 4,
    }),
    fails: fc.boolean(),
  });
  await fc.assert(
    fc.asyncProperty(fc.array(txArb, { maxLength: 12 }), async (txs) => {
      const grouped = open();
      const plain = new Kysely<T>({
        dialect: new SqliteDialect({ database: new BetterSqlite3(':memory:') }),
      });
      for (const db of [grouped.db, plain])
        await sql`create table t (id integer primary key, v text not null)`.execute(db);
      const run = (db: Kysely<T>, tx: (typeof txs)[number]) =>
        db
          .transaction()
          .execute(async (trx) => {
            for (const [id, v] of tx.writes)
              await trx
                .insertInto('t')
                .values({ id, v })
                .onConflict((oc) => oc.column('id').doUpdateSet({ v }))
                .execute();
            if (tx.fails) throw new Error('refused');
          })
          .then(
            () => 'ok',
            () => 'failed',
          );
      // Started together, they run in the order they were started (one connection, first come first served).
      const a = await Promise.all(txs.map((tx) => run(grouped.db, tx)));
      const b: string[] = [];
      for (const tx of txs) b.push(await run(plain, tx));
      assert.deepEqual(a, b);
      const rows = (db: Kysely<T>) => db.selectFrom('t').selectAll().orderBy('id').execute();
      assert.deepEqual(await rows(grouped.db), await rows(plain));
      await plain.destroy();
      await grouped.done();
    }),
    { numRuns: 25 },
  );
});
