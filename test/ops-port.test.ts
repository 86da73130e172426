// The replay's in-process port reads VMs and hosts from the store, narrowed to the fields the
// runner uses: the same rows, order and values as the control plane's list methods.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { methodPort } from '../src/sim/ops-run.ts';
import { controlPlane } from './helpers/control.ts';

test('methodPort reads the same VMs and hosts as listVms and listHosts', async () => {
  const t = await controlPlane(':memory:', 4);
  try {
    const port = methodPort(t.cp, t.admin);
    for (let i = 0; i < 6; i++)
      await t.cp.createVm(t.admin, {
        name: `v${i}`,
        flavor: i % 2 ? 'm1.small' : 'm1.medium',
        image: 'tiny',
      });
    const vms = await t.cp.listVms(t.admin);
    await t.cp.recordMetrics(
      t.admin,
      vms.map((v, i) => ({ vm: v.id, cpu: i / 5 })),
    );
    await t.cp.vmAction(t.admin, vms[0]!.id, 'stop');
    await t.cp.setHostState(t.admin, 'sim-004', 'failed');
    const full = await t.cp.listVms(t.admin);
    assert.deepEqual(
      await port.vms(),
      full.map((v) => ({ id: v.id, name: v.name, hostId: v.hostId, state: v.state })),
    );
    const hosts = await t.cp.listHosts(t.admin);
    assert.ok(hosts.some((h) => h.cpu > 0 && h.powerW > 0));
    assert.deepEqual(
      await port.hosts(),
      hosts.map((h) => ({
        id: h.id,
        name: h.name,
        state: h.state,
        zone: h.zone,
        vms: h.vms,
        cpu: h.cpu,
        powerW: h.powerW,
      })),
    );
  } finally {
    await t.close();
  }
});
