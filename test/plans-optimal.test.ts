import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controlPlane, storeBackends } from './helpers/control.ts';

for (const backend of storeBackends()) {
  if (backend.skip) {
    test(`optimal plans on ${backend.name}`, { skip: backend.skip });
    continue;
  }
  test(`optimal plans on ${backend.name}: the exact optimizer proposes a plan with bound and gap, and it applies`, async () => {
    const s = await backend.url();
    const t = await controlPlane(s.url, 4);
    try {
      const a = t.adminToken;
      for (let i = 0; i < 6; i++)
        await t.call(a, 'POST', '/v1/vms', {
          name: `s${i}`,
          flavor: 'm1.medium',
          image: 'tiny',
          preset: 'spread',
        });
      const used = async () =>
        (await t.call(a, 'GET', '/v1/hosts')).body.filter((h: { vms: number }) => h.vms > 0).length;
      assert.equal(await used(), 4);

      const bad = await t.call(a, 'POST', '/v1/plans', { policy: 'optimal', timeLimitS: 0 });
      // The simulator's node-limited form is named as such, not as a policy that plans no migrations.
      const simForm = await t.call(a, 'POST', '/v1/plans', { policy: 'optimal:500' });
      assert.equal(simForm.status, 400);
      assert.match(simForm.body.message, /simulator's form; plans take "optimal" with a time limit/);
      assert.equal(bad.status, 400);

      const plan = (
        await t.call(a, 'POST', '/v1/plans', { policy: 'optimal', timeLimitS: 10, spareHosts: 0 })
      ).body;
      assert.equal(plan.status, 'proposed', plan.summary);
      assert.match(
        plan.summary,
        /optimizer: (\d+) host\(s\) used, objective [\d.]+, bound [\d.]+, gap [\d.]+ % \(optimal, from the (solver|warm-start)\)/,
      );
      const hostsUsed = Number(/optimizer: (\d+) host/.exec(plan.summary)![1]);
      const migrations = plan.actions.filter((x: { type: string }) => x.type === 'migrate');
      const offs = plan.actions.filter((x: { type: string }) => x.type === 'power-off');
      assert.ok(migrations.length >= 1 && hostsUsed < 4);
      assert.equal(offs.length, 4 - hostsUsed);
      for (const m of migrations) assert.match(m.reason, /^optimal placement/);

      const shown = (await t.call(a, 'GET', `/v1/plans/${plan.id}`)).body;
      assert.equal(shown.summary, plan.summary);
      const applied = (await t.call(a, 'POST', `/v1/plans/${plan.id}/apply`)).body;
      assert.equal(applied.status, 'applied', JSON.stringify(applied.result));
      assert.equal(await used(), hostsUsed);
    } finally {
      await t.close();
    }
  });
}
