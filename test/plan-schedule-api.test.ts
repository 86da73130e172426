/**
 * Plans as schedules through the API (issue 14): an audited plan carries each action's start,
 * duration and dependencies, and applying it refuses waves that would delay a noDelay VM.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controlPlane } from './helpers/control.ts';

test('a plan whose waves would start a noDelay VM late is refused with the VM named; within the limits it applies', async () => {
  const t = await controlPlane(':memory:', 0);
  try {
    const a = t.adminToken;
    const hosts: string[] = [];
    for (const name of ['h1', 'h2', 'h3'])
      hosts.push(
        (await t.call(a, 'POST', '/v1/hosts', { name, vcpus: 16, memoryMiB: 32768, diskGiB: 500 })).body.id,
      );
    const vm = async (name: string) =>
      (await t.call(a, 'POST', '/v1/vms', { name, flavor: 'm1.small', image: 'tiny' })).body.vmId as string;
    const ids = [await vm('first'), await vm('urgent')];
    const vms = (await t.call(a, 'GET', '/v1/vms')).body as { id: string; hostId: string }[];
    const on = ids.map((id) => vms.find((v) => v.id === id)!.hostId);
    const target = hosts.find((h) => !on.includes(h))!;
    const nd = await t.call(a, 'POST', '/v1/constraints', { name: 'now', type: 'noDelay', vms: ['urgent'] });
    assert.equal(nd.status, 201, JSON.stringify(nd.body));
    const audit = async () =>
      (
        await t.call(a, 'POST', '/v1/plans', {
          moves: [
            { vm: 'first', to: target },
            { vm: 'urgent', to: target },
          ],
        })
      ).body;
    const plan = await audit();
    assert.equal(plan.status, 'proposed', JSON.stringify(plan));
    // Two migrations per host by default: both start at once in the schedule.
    assert.deepEqual(
      plan.actions.map((x: { startS: number }) => x.startS),
      [0, 0],
    );
    assert.equal(plan.makespanS, Math.max(...plan.actions.map((x: { durationS: number }) => x.durationS)));
    // One migration per host: the waves put urgent second, which its noDelay forbids.
    const late = await t.call(a, 'POST', `/v1/plans/${plan.id}/apply`, { maxMigrationsPerHost: 1 });
    assert.equal(late.status, 409, JSON.stringify(late.body));
    assert.match(
      late.body.message,
      /would delay VMs that must move at once: action 2: in wave 2: noDelay "now": urgent starts at 1, not 0/,
    );
    assert.equal((await t.call(a, 'GET', `/v1/plans/${plan.id}`)).body.status, 'proposed');
    const applied = await t.call(a, 'POST', `/v1/plans/${plan.id}/apply`, {});
    assert.equal(applied.body.status, 'applied', JSON.stringify(applied.body));
  } finally {
    await t.close();
  }
});
