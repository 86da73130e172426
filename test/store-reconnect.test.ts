/** The PostgreSQL store survives the server closing its connections (restart, admin termination). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { sql } from 'kysely';
import { openStore } from '../src/control/store/open-store.ts';
import { storeBackends } from './helpers/control.ts';

const backend = storeBackends().find((b) => b.name === 'PostgreSQL')!;

test(
  'PostgreSQL: idle connections terminated by the server are reported and replaced, the process goes on',
  { skip: backend.skip },
  async () => {
    const s = await backend.url();
    const errors: Error[] = [];
    const db = await openStore(s.url, { onConnectionError: (e) => errors.push(e) });
    try {
      await sql`select 1`.execute(db); // a connection now idles in the pool
      const name = new URL(s.url).pathname.slice(1);
      const admin = new pg.Client({ connectionString: s.url });
      await admin.connect();
      try {
        const r = await admin.query(
          'select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
          [name],
        );
        assert.ok(r.rows[0].n >= 1, 'the pool had a connection to terminate');
      } finally {
        await admin.end();
      }
      for (let i = 0; i < 100 && !errors.length; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(errors.length >= 1, true, 'the closed connection was reported');
      assert.match(errors[0]!.message, /terminat/i);
      const again = await sql<{ x: number }>`select 2 as x`.execute(db);
      assert.equal(Number(again.rows[0]!.x), 2, 'the next query runs on a new connection');
    } finally {
      await db.destroy();
      await s.drop();
    }
  },
);
