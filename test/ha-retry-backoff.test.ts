/**
 * An HA VM that waited for its host (local volume) and whose restart fails after the host is back is
 * retried with a capped exponential back-off on the injected clock, one `vm.ha.retry` event (with the
 * next retry time) and one `vm.error` per attempt, never on every pass of the HA loop.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { haRetryDelayS } from '../src/control/compute/ha-retry.ts';
import { haController } from '../src/control/controllers/ha.ts';
import { controlPlane } from './helpers/control.ts';
import { haVmOnFailedHost } from './helpers/ha-local.ts';

type Ev = { id: number; kind: string; vmId: string; detail: Record<string, unknown> };

test('the back-off doubles from 10 s and stays at 5 min', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(haRetryDelayS), [10, 20, 40, 80, 160, 300, 300]);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 10_000 }), (n) => {
      const d = haRetryDelayS(n);
      return d >= 10 && d <= 300 && haRetryDelayS(n + 1) >= d;
    }),
  );
});

test('a failing restart on a returned host is retried after 10, 20, 40 ... s (one vm.ha.retry and one vm.error per attempt), then runs', async () => {
  const t = await controlPlane(':memory:', 2);
  try {
    const a = t.adminToken;
    const { id, hostId } = await haVmOnFailedHost(t);
    // The host is marked up again while its hypervisor is still off: every restart fails.
    await t.cp.db.updateTable('hosts').set({ state: 'up' }).where('id', '=', hostId).execute();
    const loop = haController(t.cp, (await t.cp.authenticate(a))!, { intervalS: 1 });
    const events = async () =>
      ((await t.call(a, 'GET', '/v1/events?limit=1000')).body as Ev[]).filter((e) => e.vmId === id);
    const count = async (kind: string) => (await events()).filter((e) => e.kind === kind).length;

    let tick = 0;
    await loop.tick(tick++);
    assert.equal(await count('vm.ha.retry'), 1);
    const errors = await count('vm.error');
    const delays = [10, 20, 40, 80, 160, 300, 300];
    for (const [i, delayS] of delays.entries()) {
      const retry = (await events()).filter((e) => e.kind === 'vm.ha.retry').sort((x, y) => y.id - x.id)[0]!;
      assert.equal(retry.detail.attempt, i + 1);
      assert.equal(retry.detail.delayS, delayS);
      assert.equal(Date.parse(retry.detail.nextRetryAt as string) / 1000, t.clock.now() + delayS);
      // Passes of the loop before the next retry time do nothing: no new event of any kind.
      const before = (await events()).length;
      for (let s = 1; s < delayS; s += Math.ceil(delayS / 4)) {
        t.clock.advanceTo(Date.parse(retry.detail.nextRetryAt as string) / 1000 - delayS + s);
        await loop.tick(tick++);
      }
      assert.equal((await events()).length, before, `nothing between attempts ${i + 1} and ${i + 2}`);
      if (i === delays.length - 1) break;
      t.clock.advanceTo(Date.parse(retry.detail.nextRetryAt as string) / 1000);
      await loop.tick(tick++);
      assert.equal(await count('vm.ha.retry'), i + 2);
      assert.equal(await count('vm.error'), errors + i + 1, 'one vm.error per attempt');
    }
    // The hypervisor is back: the next retry starts it, and the back-off is over.
    t.sim.setPower(hostId, true);
    const last = (await events()).filter((e) => e.kind === 'vm.ha.retry').sort((x, y) => y.id - x.id)[0]!;
    t.clock.advanceTo(Date.parse(last.detail.nextRetryAt as string) / 1000);
    await loop.tick(tick++);
    const v = (await t.call(a, 'GET', `/v1/vms/${id}`)).body;
    assert.equal(v.state, 'running');
    assert.equal(await count('vm.ha.restarted'), 1);
  } finally {
    await t.close();
  }
});
