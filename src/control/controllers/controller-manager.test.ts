import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { SimClock } from '../../runtime/clock.ts';
import { openStore } from '../store/open-store.ts';
import { advanceWithControllers } from './advance-sim-clock.ts';
import { controller, type ControllerFailure } from './controller.ts';
import { ControllerManager } from './controller-manager.ts';
import { recordControllerFailure } from './record-failure.ts';

/** A promise and its resolver, to hold a tick open for as long as a test wants. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A controller that records the clock times it ticked at. */
function recorder(name: string, intervalS: number) {
  const at: number[] = [];
  return {
    at,
    c: controller(name, intervalS, async (nowS) => {
      at.push(nowS);
      await Promise.resolve(); // a real tick awaits the store
    }),
  };
}

describe('ControllerManager', () => {
  test('start() ticks each controller every intervalS, first one interval after the start', async () => {
    const clock = new SimClock(1000);
    const a = recorder('a', 10),
      b = recorder('b', 25);
    const m = new ControllerManager(clock, [a.c, b.c]);
    m.start();
    await advanceWithControllers(clock, m, 1100);
    assert.deepEqual(a.at, [1010, 1020, 1030, 1040, 1050, 1060, 1070, 1080, 1090, 1100]);
    assert.deepEqual(b.at, [1025, 1050, 1075, 1100]);
    assert.equal(m.stats()[0]!.ticks, 10);
    assert.equal(m.stats()[1]!.lastTickS, 1100);
  });

  test('a controller ticks floor(horizon / interval) times for any integer interval and horizon', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 0, max: 500 }),
        async (intervals, horizonS) => {
          const clock = new SimClock(0);
          const rs = intervals.map((s, i) => recorder(`c${i}`, s));
          const m = new ControllerManager(
            clock,
            rs.map((r) => r.c),
          );
          m.start();
          await advanceWithControllers(clock, m, horizonS);
          rs.forEach((r, i) =>
            assert.deepEqual(
              r.at,
              Array.from({ length: Math.floor(horizonS / intervals[i]!) }, (_, k) => (k + 1) * intervals[i]!),
            ),
          );
          await m.stop();
        },
      ),
      { numRuns: 50 },
    );
  });

  test('a tick that is due while the previous one runs is skipped and counted', async () => {
    const clock = new SimClock(0);
    const hold = deferred();
    let started = 0;
    const m = new ControllerManager(clock, [
      controller('slow', 10, async () => {
        started++;
        if (started === 1) await hold.promise;
      }),
    ]);
    m.start();
    clock.advanceTo(35); // due at 10 (starts and hangs), 20 and 30 (skipped)
    assert.equal(started, 1);
    assert.deepEqual(
      { ticks: m.stats()[0]!.ticks, skipped: m.stats()[0]!.skipped, running: m.stats()[0]!.running },
      { ticks: 1, skipped: 2, running: true },
    );
    hold.resolve();
    await m.idle();
    assert.equal(m.stats()[0]!.running, false);
    await advanceWithControllers(clock, m, 40); // the schedule kept its rate: the next tick is at 40
    assert.equal(started, 2);
    assert.equal(m.stats()[0]!.lastTickS, 40);
  });

  test('an error in one controller is reported and stops neither it nor the others', async () => {
    const clock = new SimClock(0);
    const ok = recorder('ok', 10);
    const failures: ControllerFailure[] = [];
    const m = new ControllerManager(
      clock,
      [
        controller('broken', 10, async (nowS) => {
          throw new Error(`store unavailable at ${nowS}`);
        }),
        ok.c,
      ],
      { onError: (f) => void failures.push(f) },
    );
    m.start();
    await advanceWithControllers(clock, m, 50);
    assert.deepEqual(ok.at, [10, 20, 30, 40, 50]);
    assert.deepEqual(
      failures.map((f) => [f.controller, f.atS]),
      [10, 20, 30, 40, 50].map((t) => ['broken', t]),
    );
    const broken = m.stats()[0]!;
    assert.deepEqual([broken.ticks, broken.errors, broken.lastError], [5, 5, 'store unavailable at 50']);
  });

  test('an onError that throws does not stop the loop', async () => {
    const clock = new SimClock(0);
    const m = new ControllerManager(
      clock,
      [
        controller('broken', 5, () => {
          throw new Error('synchronous failure');
        }),
      ],
      {
        onError: () => {
          throw new Error('event log down');
        },
      },
    );
    m.start();
    await advanceWithControllers(clock, m, 20);
    assert.deepEqual([m.stats()[0]!.ticks, m.stats()[0]!.errors], [4, 4]);
  });

  test('stop() cancels the timers and waits for the running tick', async () => {
    const clock = new SimClock(0);
    const hold = deferred();
    let ended = false;
    const other = recorder('other', 10);
    const m = new ControllerManager(clock, [
      controller('slow', 10, async () => {
        await hold.promise;
        ended = true;
      }),
      other.c,
    ]);
    m.start();
    clock.advanceTo(10);
    const stopping = m.stop();
    hold.resolve();
    await stopping;
    assert.equal(ended, true);
    clock.advanceTo(1000);
    await m.idle();
    assert.deepEqual(other.at, [10]);
    assert.equal(clock.peekTime(), undefined);
    await m.tickNow();
    assert.deepEqual(other.at, [10]);
    assert.throws(() => m.start(), /stopped/);
  });

  test('serial mode runs one tick at a time, in the order they fell due', async () => {
    const clock = new SimClock(0);
    let running = 0,
      most = 0;
    const order: string[] = [];
    const busy = (name: string) =>
      controller(name, 10, async (nowS) => {
        running++;
        most = Math.max(most, running);
        order.push(`${nowS}:${name}`);
        for (let i = 0; i < 3; i++) await Promise.resolve();
        running--;
      });
    const m = new ControllerManager(clock, [busy('x'), busy('y'), busy('z')], { serial: true });
    m.start();
    await advanceWithControllers(clock, m, 20);
    assert.equal(most, 1);
    assert.deepEqual(order, ['10:x', '10:y', '10:z', '20:x', '20:y', '20:z']);
  });

  test('tickNow() ticks at once and skips a controller whose tick is running', async () => {
    const clock = new SimClock(0);
    const a = recorder('a', 60),
      b = recorder('b', 60);
    const m = new ControllerManager(clock, [a.c, b.c]);
    await m.tickNow('b');
    assert.deepEqual([a.at, b.at], [[], [0]]);
    const both = m.tickNow();
    const again = m.tickNow('a');
    await Promise.all([both, again]);
    assert.deepEqual([a.at, b.at], [[0], [0, 0]]);
    assert.equal(m.stats()[0]!.skipped, 1);
    await assert.rejects(m.tickNow('nope'), /No controller "nope"; there are: a, b/);
  });

  test('a non-positive interval or a duplicate name is refused', () => {
    const clock = new SimClock(0);
    const noop = async () => undefined;
    assert.throws(() => new ControllerManager(clock, [controller('a', 0, noop)]), /intervalS must be/);
    assert.throws(() => new ControllerManager(clock, [controller('a', NaN, noop)]), RangeError);
    assert.throws(
      () => new ControllerManager(clock, [controller('a', 1, noop), controller('a', 2, noop)]),
      /registered twice/,
    );
  });

  test('recordControllerFailure files a controller.failed event with the message', async () => {
    const db = await openStore(':memory:');
    try {
      const clock = new SimClock(Date.UTC(2026, 0, 1) / 1000);
      const m = new ControllerManager(
        clock,
        [
          controller('energy', 30, async () => {
            throw new Error('power model missing');
          }),
        ],
        { onError: recordControllerFailure({ db, clock }) },
      );
      m.start();
      await advanceWithControllers(clock, m, clock.now() + 30);
      const rows = await db.selectFrom('events').select(['kind', 'actor', 'at', 'detail']).execute();
      assert.equal(rows.length, 1);
      assert.deepEqual(
        { ...rows[0]!, detail: JSON.parse(rows[0]!.detail) },
        {
          kind: 'controller.failed',
          actor: 'system',
          at: '2026-01-01T00:00:30.000Z',
          detail: {
            controller: 'energy',
            atS: Date.UTC(2026, 0, 1) / 1000 + 30,
            message: 'power model missing',
          },
        },
      );
    } finally {
      await db.destroy();
    }
  });
});
