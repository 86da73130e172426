import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { LeaderElection } from '../src/control/leader/leader-election.ts';
import { PgLockSession } from '../src/control/leader/pg-lock-session.ts';
import { openStore } from '../src/control/store/open-store.ts';
import { SimClock } from '../src/runtime/clock.ts';
import { PG_SKIP, storeBackends } from './helpers/control.ts';

const pgBackend = storeBackends().find((b) => b.name === 'PostgreSQL')!;

/** A lock that is free from the `freeAtTry`-th try on (1-based), counting tries. */
function lockFreeAt(freeAtTry: number) {
  const l = { tries: 0, tryAcquire: async () => ++l.tries >= freeAtTry };
  return l;
}

describe('LeaderElection', () => {
  test('a process that finds the lock free leads at once and starts its loops once', async () => {
    const clock = new SimClock(0);
    const lock = lockFreeAt(1);
    let elected = 0;
    const e = new LeaderElection(clock, lock, { onElected: () => void elected++ });
    assert.equal(await e.start(), true);
    clock.advanceBy(60 - clock.now());
    assert.equal(e.isLeader, true);
    assert.equal(elected, 1);
    assert.equal(lock.tries, 1, 'a leader does not try again');
  });

  test('a follower retries every retryS and leads when the lock becomes free', async () => {
    const clock = new SimClock(0);
    const lock = lockFreeAt(4);
    let electedAtS = -1;
    const e = new LeaderElection(clock, lock, {
      retryS: 5,
      onElected: () => void (electedAtS = clock.now()),
    });
    assert.equal(await e.start(), false);
    assert.equal(e.isLeader, false);
    // Tries at 0, 5, 10 fail; the one at 15 gets the lock.
    for (let t = 1; t <= 30; t++) {
      clock.advanceBy(t - clock.now());
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(electedAtS, 15);
    assert.equal(lock.tries, 4);
  });

  test('a try that fails (the database is down) is reported and retried', async () => {
    const clock = new SimClock(0);
    let tries = 0;
    const errors: string[] = [];
    const lock = {
      tryAcquire: async () => {
        if (++tries === 1) throw new Error('connection refused');
        return true;
      },
    };
    const e = new LeaderElection(clock, lock, {
      retryS: 2,
      onElected: () => undefined,
      onError: (err) => errors.push((err as Error).message),
    });
    assert.equal(await e.start(), false);
    clock.advanceBy(2 - clock.now());
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(errors, ['connection refused']);
    assert.equal(e.isLeader, true);
  });

  test('stop() ends the tries', async () => {
    const clock = new SimClock(0);
    const lock = lockFreeAt(Infinity);
    const e = new LeaderElection(clock, lock, { retryS: 1, onElected: () => assert.fail('not elected') });
    await e.start();
    e.stop();
    clock.advanceBy(10 - clock.now());
    assert.equal(lock.tries, 1);
  });

  test('retryS must be a number of seconds > 0', () => {
    assert.throws(
      () => new LeaderElection(new SimClock(0), lockFreeAt(1), { retryS: 0, onElected: () => undefined }),
      /retryS must be a number of seconds > 0, got 0/,
    );
  });
});

describe('PgLockSession (PostgreSQL advisory locks)', () => {
  if (pgBackend.skip) return void test('PgLockSession', { skip: PG_SKIP });

  test('one session leads; when it ends, another takes the lock', async () => {
    const { url, drop } = await pgBackend.url();
    const clock = new SimClock(0);
    const lost: string[] = [];
    const open = () => PgLockSession.open(url, { clock, onLost: (w) => lost.push(w) });
    const a = await open();
    const b = await open();
    try {
      assert.equal(await a.tryAcquire(), true);
      assert.equal(await a.tryAcquire(), true, 'the holder holds it still');
      assert.equal(await b.tryAcquire(), false);
      await a.close();
      assert.equal(await b.tryAcquire(), true);
      assert.deepEqual(lost, [], 'a session closed on purpose is not reported lost');
    } finally {
      await b.close();
      await drop();
    }
  });

  test('an operation found free is looked at again after confirmS: one locked meanwhile is held', async () => {
    const { url, drop } = await pgBackend.url();
    const clock = new SimClock(0);
    const a = await PgLockSession.open(url, { clock, onLost: () => undefined });
    const b = await PgLockSession.open(url, { clock, onLost: () => undefined, confirmS: 1 });
    try {
      const look = b.heldElsewhere(['op-1']);
      await b.flush(); // the first look has run: op-1 was free
      // The holder's lock lands between the two looks (its record was committed before it).
      a.hold('op-1');
      await a.flush();
      clock.advanceBy(1);
      assert.deepEqual([...(await look)], ['op-1']);
    } finally {
      await b.close();
      await drop();
    }
  });

  test("a live session's operations are held elsewhere; a dead session's are free; sweep releases ended ones, not uploads", async () => {
    const { url, drop } = await pgBackend.url();
    const db = await openStore(url); // the schema (the operations table)
    const clock = new SimClock(0);
    const open = () => PgLockSession.open(url, { clock, onLost: () => undefined, confirmS: 0 });
    const a = await open();
    const b = await open();
    try {
      a.hold('op-1');
      a.hold('op-2');
      await a.flush();
      assert.deepEqual([...(await b.heldElsewhere(['op-1', 'op-2', 'op-3']))].sort(), ['op-1', 'op-2']);
      assert.deepEqual(
        [...(await b.heldElsewhere(['op-1']))],
        ['op-1'],
        'looking does not take the lock of a held operation',
      );
      assert.equal((await b.heldElsewhere(['op-3'])).size, 0, 'a free one is released after the look');
      assert.equal((await a.heldElsewhere(['op-3'])).size, 0);
      // op-1 finished; op-2 has no record yet (its request has not written it): kept for a while.
      const raw = new pg.Client({ connectionString: url });
      await raw.connect();
      await raw.query(
        `insert into operations (id, tenant_id, vm_id, kind, status, created_at, step, updated_at)
         values ('op-1', 't', null, 'create', 'succeeded', '2026-01-01T00:00:00Z', 'recorded', '2026-01-01T00:00:00Z')`,
      );
      await raw.end();
      assert.equal(await a.sweep(), 1);
      assert.equal(a.heldCount, 1);
      assert.deepEqual([...(await b.heldElsewhere(['op-1', 'op-2']))], ['op-2']);
      clock.advanceBy(61);
      assert.equal(await a.sweep(), 1, 'an operation never recorded is released after a minute');
      assert.equal((await b.heldElsewhere(['op-2'])).size, 0);
      // An image upload has no operation record: it is held until released, whatever the sweep sees.
      a.holdUntilReleased('image:i-1');
      await a.flush();
      clock.advanceBy(120);
      await a.sweep();
      assert.deepEqual([...(await b.heldElsewhere(['image:i-1']))], ['image:i-1']);
      a.release('image:i-1');
      await a.flush();
      assert.equal((await b.heldElsewhere(['image:i-1'])).size, 0);
      a.hold('op-4');
      await a.flush();
      await a.close();
      assert.equal((await b.heldElsewhere(['op-4'])).size, 0, "a dead session's operations are free");
    } finally {
      await b.close();
      await db.destroy();
      await drop();
    }
  });
});
