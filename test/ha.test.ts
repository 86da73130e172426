import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controlPlane, storeBackends } from './helpers/control.ts';

for (const backend of storeBackends()) {
  if (backend.skip) {
    test(`HA on ${backend.name}`, { skip: backend.skip });
    continue;
  }
  test(`HA on ${backend.name}: a failed host's HA VMs restart elsewhere by priority, exactly once; silent agents are declared failed`, async () => {
    const s = await backend.url();
    const t = await controlPlane(s.url, 4);
    try {
      const a = t.adminToken;
      const made: Record<string, string> = {};
      for (const [name, ha, prio] of [
        ['low', true, 1],
        ['high', true, 10],
        ['plain', false, 0],
        ['mid', true, 5],
      ] as const) {
        made[name] = (
          await t.call(a, 'POST', '/v1/vms', {
            name,
            flavor: 'm1.small',
            image: 'tiny',
            ha,
            haPriority: prio,
          })
        ).body.vmId;
      }
      const hostOf = async (id: string) => (await t.call(a, 'GET', `/v1/vms/${id}`)).body.hostName as string;
      const failed = await hostOf(made.high!);
      for (const n of Object.keys(made))
        assert.equal(await hostOf(made[n]!), failed, 'pack put them together');
      assert.equal(
        (await t.call(a, 'PATCH', `/v1/hosts/${failed}`, { state: 'failed' })).body.state,
        'failed',
      );
      for (const n of ['high', 'mid', 'low']) {
        const v = (await t.call(a, 'GET', `/v1/vms/${made[n]}`)).body;
        assert.equal(v.state, 'running');
        assert.notEqual(v.hostName, failed);
        assert.equal((await t.sim.get(made[n]!))?.state, 'running', 'the hypervisor runs it again');
      }
      assert.equal(
        (await t.call(a, 'GET', `/v1/vms/${made.plain}`)).body.state,
        'error',
        'a non-HA VM is lost with its host',
      );
      const order = (await t.call(a, 'GET', '/v1/events?limit=1000')).body
        .filter((e: { kind: string }) => e.kind === 'vm.ha.restarted')
        .reverse()
        .map((e: { vmId: string }) => e.vmId);
      assert.deepEqual(order, [made.high, made.mid, made.low], 'highest priority first, each exactly once');
      // Declaring the failure again restarts nothing twice.
      await t.call(a, 'PATCH', `/v1/hosts/${failed}`, { state: 'up' });
      await t.call(a, 'PATCH', `/v1/hosts/${failed}`, { state: 'failed' });
      const again = (await t.call(a, 'GET', '/v1/events?limit=1000')).body.filter(
        (e: { kind: string }) => e.kind === 'vm.ha.restarted',
      ).length;
      assert.equal(again, 3);
      const host = (await t.call(a, 'GET', `/v1/hosts/${failed}`)).body;
      assert.equal(host.vms, 1, 'only the lost non-HA VM remains recorded on the failed host');

      // An agent that stops sending heartbeats is declared failed after the timeout.
      const joinToken = (await t.call(a, 'POST', '/v1/hosts/join-tokens', { expiresInS: 600 })).body.token;
      const enrolled = await t.call(undefined, 'POST', '/v1/agents/enroll', {
        joinToken,
        agentUrl: 'http://127.0.0.1:9/',
        hostname: 'quiet',
        cpus: 4,
        memoryMiB: 8192,
      });
      assert.equal(enrolled.status, 201, JSON.stringify(enrolled.body));
      const hostCredential = enrolled.body.hostCredential as string;
      t.clock.advanceBy(20);
      assert.deepEqual(await t.cp.checkHeartbeats(t.admin, 30), []);
      t.clock.advanceBy(20);
      assert.deepEqual(await t.cp.checkHeartbeats(t.admin, 30), ['quiet']);
      assert.equal((await t.call(a, 'GET', '/v1/hosts/quiet')).body.state, 'failed');
      // It comes back when it reports again.
      await t.call(hostCredential, 'POST', '/v1/agents/heartbeat', {});
      assert.equal((await t.call(a, 'GET', '/v1/hosts/quiet')).body.state, 'up');
      // A host that reports itself degraded is drained (maintenance) before it fails.
      const hb = await t.call(hostCredential, 'POST', '/v1/agents/heartbeat', {
        health: { status: 'degraded', reason: 'ECC errors on DIMM 3' },
      });
      assert.equal(hb.body.draining, true);
      await Promise.all(t.cp.draining.values());
      assert.equal((await t.call(a, 'GET', '/v1/hosts/quiet')).body.state, 'maintenance');
      const ev = (await t.call(a, 'GET', '/v1/events?limit=10')).body.find(
        (e: { kind: string }) => e.kind === 'host.degraded',
      );
      assert.equal(ev.detail.reason, 'ECC errors on DIMM 3');

      // An autoscaling group grows and shrinks with its load, spread over hosts, respecting its cooldown.
      for (const h of (await t.call(a, 'GET', '/v1/hosts')).body)
        if (h.state !== 'up' && h.driver === 'sim')
          await t.call(a, 'PATCH', `/v1/hosts/${h.id}`, { state: 'up' });
      const grp = await t.call(a, 'POST', '/v1/scaling-groups', {
        name: 'web',
        flavor: 'm1.tiny',
        image: 'tiny',
        min: 1,
        max: 3,
        policy: {
          scaleOutAbove: 70,
          scaleInBelow: 20,
          adjustmentType: 'change',
          adjustment: 1,
          cooldownS: 300,
        },
        scaleIn: 'least-loaded',
      });
      assert.equal(grp.status, 201, JSON.stringify(grp.body));
      assert.equal(grp.body.members.length, 1);
      const up1 = (await t.call(a, 'POST', `/v1/scaling-groups/web/metrics`, { value: 90 })).body;
      assert.equal(up1.members.length, 2);
      assert.match(up1.decision, /above 70: 1 → 2/);
      assert.equal(
        (await t.call(a, 'POST', `/v1/scaling-groups/web/metrics`, { value: 95 })).body.members.length,
        2,
        'cooldown',
      );
      t.clock.advanceBy(301);
      const up2 = (await t.call(a, 'POST', `/v1/scaling-groups/web/metrics`, { value: 95 })).body;
      assert.equal(up2.members.length, 3);
      const hostsOf = await Promise.all(
        up2.members.map(async (id: string) => (await t.call(a, 'GET', `/v1/vms/${id}`)).body.hostId),
      );
      assert.equal(new Set(hostsOf).size, 3, 'members spread by anti-affinity');
      t.clock.advanceBy(301);
      const loads = { [up2.members[0]]: 50, [up2.members[1]]: 5, [up2.members[2]]: 40 };
      const down = (await t.call(a, 'POST', `/v1/scaling-groups/web/metrics`, { value: 10, loads })).body;
      assert.deepEqual(
        down.members,
        [up2.members[0], up2.members[2]],
        `the least loaded member went (${down.decision})`,
      );
      assert.equal(
        (
          await t.call(a, 'POST', '/v1/scaling-groups', {
            name: 'bad',
            flavor: 'm1.tiny',
            image: 'tiny',
            min: 3,
            max: 1,
            policy: {
              scaleOutAbove: 70,
              scaleInBelow: 20,
              adjustmentType: 'change',
              adjustment: 1,
              cooldownS: 0,
            },
          })
        ).status,
        400,
      );
    } finally {
      await t.close();
      await s.drop();
    }
  });
}
