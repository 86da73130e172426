import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ControlPlane } from '../src/control/control-plane.ts';
import { TOKEN_CACHE_TTL_S } from '../src/control/security/token-cache.ts';
import { openStore } from '../src/control/store/open-store.ts';
import { SimClock } from '../src/runtime/clock.ts';
import { seededIds } from '../src/runtime/ids.ts';
import { seededRandom } from '../src/runtime/random.ts';

async function setup() {
  const db = await openStore(':memory:');
  const clock = new SimClock(1_800_000_000);
  const cp = new ControlPlane({ db, clock, ids: seededIds(seededRandom(3)) });
  const admin = (await cp.authenticate((await cp.bootstrap())!))!;
  await cp.createTenant(admin, 'acme');
  const user = await cp.createUser(admin, 'acme', 'ann', 'member');
  const { id, token } = await cp.createToken(admin, { name: 'ci', userId: user.id });
  return { db, clock, cp, admin, user, id, token };
}

test('a token revoked through the API stops working at once, though its lookup was cached', async () => {
  const { db, cp, admin, id, token } = await setup();
  assert.equal((await cp.authenticate(token))?.role, 'member');
  assert.equal((await cp.authenticate(token))?.role, 'member'); // from the cache
  await cp.revokeToken(admin, id);
  assert.equal(await cp.authenticate(token), null);
  await db.destroy();
});

test("a user's role change and deletion reach their cached tokens at once", async () => {
  const { db, cp, admin, user, token } = await setup();
  assert.equal((await cp.authenticate(token))?.role, 'member');
  await cp.tenancyAdmin.updateUser(admin, user.id, { role: 'reader' });
  assert.equal((await cp.authenticate(token))?.role, 'reader');
  await cp.tenancyAdmin.deleteUser(admin, user.id);
  assert.equal(await cp.authenticate(token), null);
  await db.destroy();
});

test(`a revoke by another process (the database alone) takes effect within ${TOKEN_CACHE_TTL_S} s`, async () => {
  const { db, clock, cp, id, token } = await setup();
  assert.ok(await cp.authenticate(token));
  // Another API process on the same database revokes it: this one learns it when its lookup expires.
  await db
    .updateTable('tokens')
    .set({ revoked_at: '2020-01-01T00:00:00.000Z' })
    .where('id', '=', id)
    .execute();
  clock.advanceBy(TOKEN_CACHE_TTL_S);
  assert.equal(await cp.authenticate(token), null);
  await db.destroy();
});

test('an expired token is refused even while its lookup is cached', async () => {
  const { db, clock, cp, admin, user } = await setup();
  const { token } = await cp.createToken(admin, { name: 'short', userId: user.id, expiresInS: 60 });
  assert.ok(await cp.authenticate(token));
  clock.advanceBy(60);
  assert.equal(await cp.authenticate(token), null);
  await db.destroy();
});
