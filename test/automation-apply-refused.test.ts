/**
 * Full automation over several zones: a plan that cannot be applied in one zone (refused by the
 * re-check at apply time) stays proposed with an `automation.apply-refused` event, and the other
 * zones' rounds still run. The refusal is injected at `applyPlan` (a stale plan or a noDelay VM are
 * the real causes; neither can be produced on demand between an audit and its apply).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ControlError } from '../src/control/errors.ts';
import { controlPlane } from './helpers/control.ts';

test('full automation: a zone whose plan is refused keeps it proposed and the other zone is applied', async () => {
  const t = await controlPlane(':memory:', 0);
  const a = t.adminToken;
  try {
    for (const [name, zone] of [
      ['a1', 'zone-a'],
      ['a2', 'zone-a'],
      ['b1', 'zone-b'],
      ['b2', 'zone-b'],
    ]) {
      const r = await t.call(a, 'POST', '/v1/hosts', {
        name,
        zone,
        vcpus: 8,
        memoryMiB: 32768,
        diskGiB: 500,
        powerModel: { type: 'linear', idleW: 100, maxW: 200 },
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    // One small VM on each host (spread): the reservation packer empties one host per zone.
    for (const [name, zone] of [
      ['va1', 'zone-a'],
      ['va2', 'zone-a'],
      ['vb1', 'zone-b'],
      ['vb2', 'zone-b'],
    ]) {
      const r = await t.call(a, 'POST', '/v1/vms', {
        name,
        flavor: 'm1.small',
        image: 'tiny',
        zone,
        preset: 'spread',
      });
      assert.equal(r.status, 202, JSON.stringify(r.body));
    }
    t.clock.advanceBy(7200);
    for (const zone of ['zone-a', 'zone-b']) {
      const s = await t.call(a, 'PUT', '/v1/settings/automation', {
        automation: 'full',
        zone,
        policy: 'reservation',
        spareHosts: 0,
      });
      assert.equal(s.status, 200, JSON.stringify(s.body));
    }
    const apply = t.cp.plans.applyPlan.bind(t.cp.plans);
    t.cp.plans.applyPlan = async (p, id, o) => {
      const plan = (await t.call(a, 'GET', `/v1/plans/${id}`)).body as { zone: string };
      if (plan.zone === 'zone-a')
        throw new ControlError('INVALID_STATE', 'The cluster changed since the plan');
      return apply(p, id, o);
    };
    const r = await t.call(a, 'POST', '/v1/automation/rounds');
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const byZone = Object.fromEntries(
      (r.body.plans as { zone: string; status: string }[]).map((p) => [p.zone, p.status]),
    );
    assert.deepEqual(byZone, { 'zone-a': 'proposed', 'zone-b': 'applied' });
    const refused = (
      (await t.call(a, 'GET', '/v1/events?limit=1000')).body as {
        kind: string;
        detail: { zone: string; reason: string };
      }[]
    ).filter((e) => e.kind === 'automation.apply-refused');
    assert.equal(refused.length, 1);
    assert.equal(refused[0]!.detail.zone, 'zone-a');
    assert.match(refused[0]!.detail.reason, /changed since the plan/);
  } finally {
    await t.close();
  }
});
