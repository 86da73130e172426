// The light cluster read that applying a plan makes before every wave agrees with the planners'
// full read on everything the plan checks use (hosts, where each VM is and its size, constraints).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkPlan, scheduleWaves, type Plan } from '../src/policies/plans/plan.ts';
import { controlPlane } from './helpers/control.ts';

test('checkCluster equals planCluster on what checkPlan and scheduleWaves read, and gives the same answers', async () => {
  const t = await controlPlane(':memory:', 4);
  try {
    for (let i = 0; i < 8; i++)
      await t.cp.createVm(t.admin, { name: `v${i}`, flavor: i % 2 ? 'm1.small' : 'm1.large', image: 'tiny' });
    const vms = await t.cp.listVms(t.admin);
    await t.cp.recordMetrics(
      t.admin,
      vms.map((v, i) => ({ vm: v.id, cpu: i / 8 })),
    );
    await t.cp.migrateVm(t.admin, vms[0]!.id, {});
    await t.cp.setHostState(t.admin, 'sim-004', 'failed');
    const full = await t.cp.clusterReader.planCluster();
    const light = await t.cp.clusterReader.checkCluster();
    assert.deepEqual(
      light.hosts,
      full.hosts.map(({ emptyForS: _e, ...h }) => h),
    );
    assert.deepEqual(
      light.vms.map(({ sinceMigrationS: _s, ...v }) => v),
      full.vms.map(({ id, name, hostId, vcpus, memoryMiB }) => ({ id, name, hostId, vcpus, memoryMiB })),
    );
    assert.deepEqual(light.constraints, full.constraints);
    // Every VM to every other host: the checks find the same violations and waves on both.
    const hosts = full.hosts.map((h) => h.id);
    const actions = full.vms.map((v, i) => {
      const to = hosts[(hosts.indexOf(v.hostId) + 1 + (i % 2)) % hosts.length]!;
      return { type: 'migrate' as const, vmId: v.id, vmName: v.name, from: v.hostId, to, reason: 'test' };
    });
    const plan = { actions, summary: '', gainWatts: 0, costTimeS: 0, costDataMiB: 0 } as unknown as Plan;
    assert.deepEqual(checkPlan(light, plan), checkPlan(full, plan));
    const limits = { perHost: 2, perCluster: 3 };
    assert.deepEqual(scheduleWaves(light, plan, limits), scheduleWaves(full, plan, limits));
  } finally {
    await t.close();
  }
});
