import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  abandonIdempotent,
  beginIdempotent,
  completeIdempotent,
  IDEMPOTENCY_STALE_S,
  requestHash,
} from '../src/control/idempotency/idempotency-keys.ts';
import { openStore, type Db } from '../src/control/store/open-store.ts';
import { SimClock } from '../src/runtime/clock.ts';
import { storeBackends } from './helpers/control.ts';

test('requestHash() ignores key order and undefined fields but not values', () => {
  assert.equal(
    requestHash({ a: 1, b: { c: [1, 2] } }),
    requestHash({ b: { c: [1, 2] }, a: 1, d: undefined }),
  );
  assert.notEqual(requestHash({ a: 1 }), requestHash({ a: 2 }));
  assert.notEqual(requestHash({ a: 1 }), requestHash({ a: 1 }, { tenant: 'x' }));
});

for (const backend of storeBackends())
  describe(`idempotency keys on ${backend.name}`, () => {
    if (backend.skip) return void test(`every test on ${backend.name}`, { skip: backend.skip });
    let db: Db;
    let drop: () => Promise<void>;
    const clock = new SimClock(1_800_000_000);
    before(async () => {
      const s = await backend.url();
      drop = s.drop;
      db = await openStore(s.url);
    });
    after(async () => {
      await db.destroy();
      await drop();
    });
    const scope = (over: Partial<{ tenantId: string; method: string; route: string; key: string }> = {}) => ({
      tenantId: 't1',
      method: 'POST',
      route: '/v1/vms',
      key: 'k1',
      ...over,
    });

    test('the same key and body replays the first answer; another body is a conflict naming the key', async () => {
      const ctx = { db, clock };
      const h = requestHash({ name: 'a' });
      assert.deepEqual(await beginIdempotent(ctx, scope(), h), { kind: 'new' });
      await completeIdempotent(ctx, scope(), 202, { id: 'op-1' });
      assert.deepEqual(await beginIdempotent(ctx, scope(), h), {
        kind: 'replay',
        status: 202,
        body: { id: 'op-1' },
      });
      await assert.rejects(
        beginIdempotent(ctx, scope(), requestHash({ name: 'b' })),
        (e: Error & { code?: string }) => {
          assert.equal(e.code, 'IDEMPOTENCY_CONFLICT');
          assert.match(e.message, /Idempotency-Key "k1" was used for a different POST \/v1\/vms request/);
          return true;
        },
      );
    });

    test('concurrent first requests with one key: exactly one runs, the others wait', async () => {
      const ctx = { db, clock };
      const h = requestHash({ name: 'race' });
      const out = await Promise.allSettled(
        Array.from({ length: 8 }, () => beginIdempotent(ctx, scope({ key: 'race' }), h)),
      );
      assert.equal(out.filter((r) => r.status === 'fulfilled' && r.value.kind === 'new').length, 1);
      for (const r of out)
        if (r.status === 'rejected') assert.equal((r.reason as { code?: string }).code, 'INVALID_STATE');
      assert.equal(out.filter((r) => r.status === 'rejected').length, 7);
    });

    test('keys are scoped to the tenant, the method and the route', async () => {
      const ctx = { db, clock };
      const h = requestHash({ name: 'a' });
      for (const s of [
        scope({ tenantId: 't2' }),
        scope({ route: '/v1/vms/x/actions' }),
        scope({ method: 'DELETE' }),
      ])
        assert.deepEqual(await beginIdempotent(ctx, s, requestHash({ other: 1 })), { kind: 'new' });
      assert.equal((await beginIdempotent(ctx, scope(), h)).kind, 'replay');
    });

    test('a running first request makes a retry wait; a failed one gives its key back; a crashed one expires', async () => {
      const ctx = { db, clock };
      const s = scope({ key: 'k2' });
      const h = requestHash({});
      assert.equal((await beginIdempotent(ctx, s, h)).kind, 'new');
      await assert.rejects(beginIdempotent(ctx, s, h), /still being processed/);
      await abandonIdempotent(ctx, s);
      assert.equal((await beginIdempotent(ctx, s, h)).kind, 'new', 'after a failure the retry runs');
      clock.advanceBy(IDEMPOTENCY_STALE_S + 1);
      assert.equal(
        (await beginIdempotent(ctx, s, h)).kind,
        'new',
        'a reservation left by a crash is taken over',
      );
      await assert.rejects(beginIdempotent(ctx, s, h), /still being processed/);
    });
  });
