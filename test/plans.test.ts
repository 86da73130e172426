import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controlPlane, storeBackends } from './helpers/control.ts';

for (const backend of storeBackends()) {
  if (backend.skip) {
    test(`consolidation plans on ${backend.name}`, { skip: backend.skip });
    continue;
  }
  test(`consolidation plans on ${backend.name}: audit, explain, apply, hold down, refuse a stale plan`, async () => {
    const s = await backend.url();
    const t = await controlPlane(s.url, 4);
    try {
      const a = t.adminToken;
      const ids: string[] = [];
      for (let i = 0; i < 6; i++)
        ids.push(
          (
            await t.call(a, 'POST', '/v1/vms', {
              name: `s${i}`,
              flavor: 'm1.medium',
              image: 'tiny',
              preset: 'spread',
            })
          ).body.vmId,
        );
      const before = (await t.call(a, 'GET', '/v1/hosts')).body.filter(
        (h: { vms: number }) => h.vms > 0,
      ).length;
      assert.equal(before, 4, 'spread over every host');

      const plan = (await t.call(a, 'POST', '/v1/plans', { spareHosts: 0 })).body;
      assert.equal(plan.status, 'proposed');
      const migrations = plan.actions.filter((x: { type: string }) => x.type === 'migrate');
      const offs = plan.actions.filter((x: { type: string }) => x.type === 'power-off');
      assert.ok(migrations.length >= 2 && offs.length >= 2, plan.summary);
      for (const m of migrations) {
        assert.match(m.reason, /^empty sim-\d+ \(\d+ % used\) to switch it off/);
        assert.ok(m.cost.timeS > 0 && m.cost.dataMiB > 0);
      }
      for (const o of offs) assert.ok(o.gain.wattsSaved > 0);
      assert.match(
        plan.summary,
        /migration\(s\) \(\d+ MiB, [\d.]+ s\), switch off \d+ host\(s\); net saving \d+ W/,
      );
      // the lower bound and the gap of the plan's result (issue 14), shown by `nubis plan show`
      assert.match(plan.summary, /; \d+ host\(s\) with VMs after, lower bound \d+ \(gap [\d.]+ %\)$/);
      // The plan as a schedule (issue 14): each action's start, duration and the actions it waits for.
      type Timed = { type: string; startS: number; durationS: number; after: number[] };
      const timed = plan.actions as Timed[];
      assert.equal(plan.makespanS, Math.max(...timed.map((x) => x.startS + x.durationS)));
      for (const [i, x] of timed.entries())
        for (const d of x.after)
          assert.ok(d < i && timed[d]!.startS + timed[d]!.durationS <= x.startS + 1e-9, JSON.stringify(x));
      for (const o of timed.filter((x) => x.type === 'power-off'))
        assert.ok(o.after.length > 0, 'a power-off waits for the moves off its host');

      const applied = (await t.call(a, 'POST', `/v1/plans/${plan.id}/apply`)).body;
      assert.equal(applied.status, 'applied', JSON.stringify(applied.result));
      const hosts = (await t.call(a, 'GET', '/v1/hosts')).body as {
        id: string;
        state: string;
        vms: number;
      }[];
      assert.equal(hosts.filter((h) => h.state === 'off').length, offs.length);
      const vms = (await t.call(a, 'GET', '/v1/vms')).body as { id: string; state: string; hostId: string }[];
      assert.ok(
        vms.every((v) => v.state === 'running' && hosts.find((h) => h.id === v.hostId)!.state === 'up'),
        'every VM runs on a host that is on',
      );
      assert.equal((await t.call(a, 'POST', `/v1/plans/${plan.id}/apply`)).status, 409);

      // The VMs just moved are held down: a new audit does not move them again.
      const again = (await t.call(a, 'POST', '/v1/plans', { spareHosts: 0 })).body;
      assert.ok(
        !again.actions.some(
          (x: { type: string; vmId?: string }) =>
            x.type === 'migrate' && migrations.some((m: { vmId: string }) => m.vmId === x.vmId),
        ),
      );

      // A plan overtaken by events is refused with the reason, and changes nothing.
      const revived = hosts.find((h) => h.state === 'off')!;
      await t.call(a, 'PATCH', `/v1/hosts/${revived.id}`, { state: 'up' });
      const p2 = (await t.call(a, 'POST', '/v1/plans', { spareHosts: 0 })).body;
      assert.equal(p2.status, 'proposed');
      assert.ok(
        p2.actions.some(
          (x: { type: string; hostId?: string }) => x.type === 'power-off' && x.hostId === revived.id,
        ),
        'the empty host is to be switched off',
      );
      const mover = vms[0] as unknown as { id: string };
      assert.equal(
        (await t.call(a, 'POST', `/v1/vms/${mover.id}/migrate`, { toHost: revived.id })).body.status,
        'succeeded',
      );
      const stale = await t.call(a, 'POST', `/v1/plans/${p2.id}/apply`);
      assert.equal(stale.status, 409);
      assert.match(
        stale.body.message,
        /no longer fits the live state \(audit again\): action \d+: cannot switch sim-\d+ off: s\d still on it/,
      );
      assert.equal((await t.call(a, 'GET', `/v1/plans/${p2.id}`)).body.status, 'stale');
      assert.equal(
        (await t.call(a, 'GET', `/v1/hosts/${revived.id}`)).body.state,
        'up',
        'nothing was applied',
      );

      t.clock.advanceBy(7200);
      const p3 = (await t.call(a, 'POST', '/v1/plans', { spareHosts: 0 })).body;
      assert.equal(p3.status, 'proposed', 'after the hold-down the lone VM can move back');
      assert.equal((await t.call(a, 'POST', `/v1/plans/${p3.id}/discard`)).body.status, 'discarded');
      assert.equal((await t.call(a, 'POST', `/v1/plans/${p3.id}/apply`)).status, 409);
      // Capacity is needed again: a switched-off host is switched back on for it.
      const offNow = (await t.call(a, 'GET', '/v1/hosts')).body.filter(
        (h: { state: string }) => h.state === 'off',
      ).length;
      assert.ok(offNow >= 1);
      for (const h of (await t.call(a, 'GET', '/v1/hosts')).body.filter(
        (x: { state: string }) => x.state === 'up',
      ))
        await t.call(a, 'PATCH', `/v1/hosts/${h.id}`, { state: 'maintenance' });
      const woke = await t.call(a, 'POST', '/v1/vms', { name: 'wake', flavor: 'm1.small', image: 'tiny' });
      assert.equal(woke.body.status, 'succeeded', JSON.stringify(woke.body));
      const wakeHost = (await t.call(a, 'GET', `/v1/vms/${woke.body.vmId}`)).body.hostId;
      assert.equal((await t.call(a, 'GET', `/v1/hosts/${wakeHost}`)).body.state, 'up');
      const ev = (await t.call(a, 'GET', '/v1/events?limit=5')).body.find(
        (e: { kind: string }) => e.kind === 'host.powered-on',
      );
      assert.match(ev.detail.reason, /no host that is on has room for wake \(m1.small\)/);
      for (const h of (await t.call(a, 'GET', '/v1/hosts')).body.filter(
        (x: { state: string }) => x.state === 'maintenance',
      ))
        await t.call(a, 'PATCH', `/v1/hosts/${h.id}`, { state: 'up' });

      // Drain: every VM leaves the host, which stays in maintenance; undrain brings it back.
      const busy = (await t.call(a, 'GET', '/v1/hosts')).body.find(
        (h: { vms: number; state: string }) => h.vms > 0 && h.state === 'up',
      );
      const drained = (await t.call(a, 'POST', `/v1/hosts/${busy.id}/drain`)).body;
      assert.equal(drained.state, 'maintenance');
      assert.equal(drained.stuck.length, 0);
      assert.ok(drained.moved.length >= 1);
      assert.equal((await t.call(a, 'GET', `/v1/hosts/${busy.id}`)).body.vms, 0);
      assert.ok(
        (await t.call(a, 'GET', '/v1/vms')).body.every(
          (v: { hostId: string; state: string }) => v.hostId !== busy.id && v.state === 'running',
        ),
      );
      assert.equal((await t.call(a, 'POST', `/v1/hosts/${busy.id}/undrain`)).body.state, 'up');

      // Automation levels: manual does nothing, partial proposes (once), full applies.
      assert.equal((await t.call(a, 'GET', '/v1/settings/automation')).body.automation, 'manual');
      assert.deepEqual((await t.call(a, 'POST', '/v1/automation/rounds')).body.plans, []);
      for (let i = 0; i < 3; i++)
        await t.call(a, 'POST', '/v1/vms', {
          name: `auto${i}`,
          flavor: 'm1.small',
          image: 'tiny',
          preset: 'spread',
        });
      t.clock.advanceBy(7200);
      await t.call(a, 'PUT', '/v1/settings/automation', { automation: 'partial' });
      const [proposed] = await t.cp.automationRound(t.admin);
      assert.equal(proposed?.status, 'proposed');
      assert.deepEqual(await t.cp.automationRound(t.admin), [], 'one plan waits for approval at a time');
      await t.call(a, 'POST', `/v1/plans/${proposed!.id}/discard`);
      await t.call(a, 'PUT', '/v1/settings/automation', { automation: 'full' });
      const [auto] = await t.cp.automationRound(t.admin);
      assert.equal(auto?.status, 'applied', JSON.stringify(auto));
      assert.equal(
        (await t.call(undefined, 'PUT', '/v1/settings/automation', { automation: 'full' })).status,
        401,
      );

      const kinds = (await t.call(a, 'GET', '/v1/events?limit=1000')).body.map(
        (e: { kind: string }) => e.kind,
      );
      assert.ok(
        kinds.includes('plan.proposed') &&
          kinds.includes('plan.applied') &&
          kinds.includes('vm.migrated') &&
          kinds.includes('host.drained'),
      );
      // Members may not audit.
      assert.equal((await t.call(undefined, 'POST', '/v1/plans', {})).status, 401);
    } finally {
      await t.close();
      await s.drop();
    }
  });
}
