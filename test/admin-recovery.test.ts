import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ControlPlane } from '../src/control/control-plane.ts';
import { openStore } from '../src/control/store/open-store.ts';
import { resetAdminToken } from '../src/control/tenancy/admin-recovery.ts';
import { SimClock } from '../src/runtime/clock.ts';
import { seededIds } from '../src/runtime/ids.ts';
import { seededRandom } from '../src/runtime/random.ts';
import { storeBackends } from './helpers/control.ts';

for (const backend of storeBackends()) {
  if (backend.skip) {
    test(`admin token recovery on ${backend.name}`, { skip: backend.skip });
    continue;
  }
  test(`resetAdminToken() on ${backend.name} revokes every token of the admin and returns a new one that authenticates as the admin`, async () => {
    const s = await backend.url();
    const db = await openStore(s.url);
    try {
      const clock = new SimClock(1_800_000_000);
      const cp = new ControlPlane({ db, clock, ids: seededIds(seededRandom(7)) });
      const first = (await cp.bootstrap())!;
      const admin = (await cp.authenticate(first))!;
      const second = (await cp.createToken(admin, { name: 'ci' })).token;
      const r = await resetAdminToken(cp.ctx);
      assert.equal(r.revoked, 2);
      assert.equal(r.userName, 'admin');
      assert.match(r.token, /^nubis_/);
      assert.equal(await cp.authenticate(first), null);
      assert.equal(await cp.authenticate(second), null);
      const now = (await cp.authenticate(r.token))!;
      assert.deepEqual([now.userId, now.role, now.tokenId], [admin.userId, 'admin', r.tokenId]);
      // Stored hashed, never in clear; the reset is on the audit trail of the admin's tenant.
      const rows = await db.selectFrom('tokens').select('hash').execute();
      assert.ok(rows.every((x) => x.hash !== r.token));
      const ev = await db
        .selectFrom('events')
        .selectAll()
        .where('kind', '=', 'admin.token-reset')
        .executeTakeFirstOrThrow();
      assert.equal(ev.tenant_id, admin.tenantId);
      assert.deepEqual(JSON.parse(ev.detail), { user: 'admin', tokenId: r.tokenId, revoked: 2 });
      // A second reset revokes only the token of the first one.
      assert.equal((await resetAdminToken(cp.ctx)).revoked, 1);
      assert.equal(await cp.authenticate(r.token), null);
    } finally {
      await db.destroy();
      await s.drop();
    }
  });

  test(`resetAdminToken() on ${backend.name} refuses a database with no admin yet`, async () => {
    const s = await backend.url();
    const db = await openStore(s.url);
    try {
      const cp = new ControlPlane({ db, clock: new SimClock(0) });
      await assert.rejects(resetAdminToken(cp.ctx), { code: 'NOT_FOUND', message: /No admin user/ });
    } finally {
      await db.destroy();
      await s.drop();
    }
  });
}
