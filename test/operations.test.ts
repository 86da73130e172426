import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ControlPlane } from '../src/control/control-plane.ts';
import { openStore } from '../src/control/store/open-store.ts';
import { createHostDrivers } from '../src/drivers/host-drivers.ts';
import { SimHypervisorDriver } from '../src/drivers/sim/sim-driver.ts';
import { SimClock } from '../src/runtime/clock.ts';
import { controlPlane, storeBackends } from './helpers/control.ts';

type Host = {
  id: string;
  name: string;
  state: string;
  zone: string;
  vms: number;
  cpu: number;
  powerW: number;
};
type Vm = { id: string; name: string; hostId: string; state: string };

async function setup(url: string) {
  const t = await controlPlane(url, 0);
  const a = t.adminToken;
  const host = async (name: string, zone: string, o: Record<string, unknown> = {}) => {
    const r = await t.call(a, 'POST', '/v1/hosts', {
      name,
      zone,
      vcpus: 8,
      memoryMiB: 32768,
      diskGiB: 500,
      cpuRatio: 2,
      reservedMemoryMiB: 0,
      powerModel: { type: 'linear', idleW: 100, maxW: 200 },
      ...o,
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.id as string;
  };
  const vm = async (name: string, flavor: string, o: Record<string, unknown> = {}) => {
    const r = await t.call(a, 'POST', '/v1/vms', { name, flavor, image: 'tiny', ...o });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    return r.body.vmId as string;
  };
  const hosts = async () => (await t.call(a, 'GET', '/v1/hosts')).body as Host[];
  const vms = async () => (await t.call(a, 'GET', '/v1/vms')).body as Vm[];
  return { t, a, host, vm, hosts, vms };
}

for (const backend of storeBackends()) {
  if (backend.skip) {
    test(`automation, operator moves, energy and HA admission on ${backend.name}`, { skip: backend.skip });
    continue;
  }
  test(`load-aware automation per zone on ${backend.name}: an overloaded host is relieved in waves within the migration limits, the other zone is left alone`, async () => {
    const s = await backend.url();
    const { t, a, host, vm, hosts, vms } = await setup(s.url);
    try {
      const a1 = await host('a1', 'zone-a'),
        a2 = await host('a2', 'zone-a');
      await host('a3', 'zone-a');
      await host('b1', 'zone-b');
      await host('b2', 'zone-b');
      for (const n of ['big1', 'big2', 'big3']) {
        const id = await vm(n, 'm1.large', { zone: 'zone-a' });
        const where = (await vms()).find((v) => v.id === id)!.hostId;
        if (where !== a1)
          assert.equal(
            (await t.call(a, 'POST', `/v1/vms/${id}/migrate`, { toHost: 'a1' })).body.status,
            'succeeded',
          );
      }
      const small = await vm('small1', 'm1.small', { zone: 'zone-a' });
      if ((await vms()).find((v) => v.id === small)!.hostId !== a2)
        await t.call(a, 'POST', `/v1/vms/${small}/migrate`, { toHost: 'a2' });
      await vm('bvm1', 'm1.small', { zone: 'zone-b', preset: 'spread' });
      await vm('bvm2', 'm1.small', { zone: 'zone-b', preset: 'spread' });
      t.clock.advanceBy(7200); // past the hold-down of the arranging moves
      // Three 4-vCPU VMs at 70 % on 8 cores: 105 %. Everything else idles at 10 %.
      const samples = (await vms()).map((v) => ({ vm: v.name, cpu: v.name.startsWith('big') ? 0.7 : 0.1 }));
      for (let i = 0; i < 6; i++) {
        assert.equal((await t.call(a, 'POST', '/v1/metrics', { samples })).body.recorded, samples.length);
        t.clock.advanceBy(300);
      }
      assert.equal(
        (await hosts()).find((h) => h.name === 'a1')!.cpu,
        1,
        'host utilization follows its VMs (capped at 100 %)',
      );

      assert.equal(
        (
          await t.call(a, 'PUT', '/v1/settings/automation', {
            automation: 'full',
            zone: 'zone-a',
            policy: 'nonsense-x',
          })
        ).status,
        400,
      );
      const set = await t.call(a, 'PUT', '/v1/settings/automation', {
        automation: 'full',
        zone: 'zone-a',
        policy: 'thr-mmt:0.8',
        spareHosts: 0,
        maxMigrationsPerHost: 1,
      });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      const settings = (await t.call(a, 'GET', '/v1/settings/automation')).body;
      assert.equal(settings.automation, 'manual');
      assert.equal(settings.zones['zone-a'].level, 'full');
      assert.equal(settings.zones['zone-b'].level, 'manual');

      const beforeB = (await vms())
        .filter((v) => v.name.startsWith('bvm'))
        .map((v) => v.hostId)
        .sort();
      const { plans } = (await t.call(a, 'POST', '/v1/automation/rounds')).body;
      assert.equal(plans.length, 1, 'only zone-a is automated');
      const plan = plans[0];
      assert.equal(plan.zone, 'zone-a');
      assert.equal(plan.status, 'applied', JSON.stringify(plan));
      const relief = plan.actions.filter(
        (x: { type: string; from?: string }) => x.type === 'migrate' && x.from === a1,
      );
      assert.ok(relief.length >= 1);
      assert.match(
        relief[0].reason,
        /a1 is overloaded \(CPU 105 %, thr-mmt:0\.8\); big\d \(35 % of the host\) moves to a\d/,
      );
      assert.equal(plan.result.limits.perHost, 1);
      // One migration per host at a time: moves that share a host never run in the same wave.
      const touching = new Map<string, number>();
      for (const x of plan.actions)
        if (x.type === 'migrate') for (const h of [x.from, x.to]) touching.set(h, (touching.get(h) ?? 0) + 1);
      assert.ok(plan.result.waves >= Math.max(...touching.values()));
      // Afterwards a1 is below the threshold, and zone-b did not move.
      const after = await vms();
      assert.ok(after.filter((v) => v.hostId === a1 && v.name.startsWith('big')).length <= 2);
      assert.deepEqual(
        after
          .filter((v) => v.name.startsWith('bvm'))
          .map((v) => v.hostId)
          .sort(),
        beforeB,
      );
      const kinds = (await t.call(a, 'GET', '/v1/events?limit=1000')).body
        .filter((e: { actor: string }) => e.actor === 'automation')
        .map((e: { kind: string }) => e.kind);
      assert.ok(kinds.includes('plan.proposed') && kinds.includes('plan.applied'));
    } finally {
      await t.close();
      await s.drop();
    }
  });

  test(`operator moves on ${backend.name}: a swap between two full hosts is routed through the free one and applied`, async () => {
    const s = await backend.url();
    const { t, a, host, vm, vms } = await setup(s.url);
    try {
      const c1 = await host('c1', 'z', { cpuRatio: 1 }),
        c2 = await host('c2', 'z', { cpuRatio: 1 });
      const p = await vm('p', 'm1.xlarge'),
        q = await vm('q', 'm1.xlarge');
      const c3 = await host('c3', 'z', { cpuRatio: 1 });
      const on = async (id: string) => (await vms()).find((v) => v.id === id)!.hostId;
      const [pHost, qHost] = [await on(p), await on(q)];
      assert.deepEqual([pHost, qHost].sort(), [c1, c2].sort());
      const bad = await t.call(a, 'POST', '/v1/plans', { moves: [{ vm: 'p', to: 'nowhere' }] });
      assert.equal(bad.status, 404);
      const plan = (
        await t.call(a, 'POST', '/v1/plans', {
          moves: [
            { vm: 'p', to: qHost },
            { vm: 'q', to: pHost },
          ],
        })
      ).body;
      assert.equal(plan.actions.length, 3, JSON.stringify(plan.actions));
      assert.equal(plan.actions[0].to, c3);
      assert.match(plan.actions[0].reason, /through c3 to break a cycle/);
      const applied = (await t.call(a, 'POST', `/v1/plans/${plan.id}/apply`)).body;
      assert.equal(applied.status, 'applied', JSON.stringify(applied.result));
      assert.equal(await on(p), qHost);
      assert.equal(await on(q), pHost);
    } finally {
      await t.close();
      await s.drop();
    }
  });

  test(`energy and power on ${backend.name}: per host, zone and tenant from the power model, PUE, switching an empty host off`, async () => {
    const s = await backend.url();
    const { t, a, host, vm } = await setup(s.url);
    try {
      const e1 = await host('e1', 'zone-e');
      const x = await vm('x', 'm1.large');
      await t.call(a, 'POST', '/v1/metrics', { samples: [{ vm: 'x', cpu: 0.5 }] });
      t.clock.advanceBy(3600);
      const day = new Date(t.clock.now() * 1000).toISOString().slice(0, 10);
      // 4 vCPUs at 50 % on 8 cores: 25 % → 100 + 100 × 0.25 = 125 W for one hour = 0.125 kWh.
      const byHost = (await t.call(a, 'GET', `/v1/energy?from=${day}&to=${day}&by=host`)).body;
      assert.equal(byHost.rows.length, 1);
      assert.equal(byHost.rows[0].name, 'e1');
      assert.ok(Math.abs(byHost.rows[0].itKWh - 0.125) < 1e-9, JSON.stringify(byHost));
      assert.ok(
        Math.abs(
          (await t.call(a, 'GET', `/v1/energy?from=${day}&to=${day}&by=zone`)).body.rows[0].itKWh - 0.125,
        ) < 1e-9,
      );
      const byTenant = (await t.call(a, 'GET', `/v1/energy?from=${day}&to=${day}&by=tenant`)).body;
      assert.equal(byTenant.rows[0].name, 'admin');
      assert.ok(Math.abs(byTenant.rows[0].itKWh - 0.125) < 1e-9);
      // Usage attributes the VM's energy at its measured CPU: half of the host (4 of 8 vCPUs) × (100 + 100 × 50 %) W for an hour.
      const iso = (s2: number) => new Date(s2 * 1000).toISOString();
      const usage = (
        await t.call(a, 'GET', `/v1/usage?from=${iso(t.clock.now() - 7200)}&to=${iso(t.clock.now())}`)
      ).body;
      assert.ok(
        Math.abs(usage.vms.find((v: { vm: string }) => v.vm === 'x').energyKWh - 0.075) < 1e-9,
        JSON.stringify(usage.vms),
      );
      assert.equal((await t.call(a, 'PUT', '/v1/settings/energy', { pue: 0.9 })).status, 400);
      await t.call(a, 'PUT', '/v1/settings/energy', { pue: 1.5 });
      assert.ok(
        Math.abs(
          (await t.call(a, 'GET', `/v1/energy?from=${day}&to=${day}&by=host`)).body.totals.facilityKWh -
            0.1875,
        ) < 1e-9,
      );
      // A host with a VM on it is not switched off; once empty it is, and then draws nothing.
      const refused = await t.call(a, 'POST', `/v1/hosts/${e1}/power`, { action: 'off' });
      assert.equal(refused.status, 409);
      assert.match(refused.body.message, /Cannot switch e1 off: 1 VM\(s\) still on it/);
      await t.call(a, 'DELETE', `/v1/vms/${x}`);
      t.clock.advanceBy(1800); // empty and on: idle 100 W for half an hour = 0.05 kWh
      assert.equal(
        (await t.call(a, 'POST', `/v1/hosts/${e1}/power`, { action: 'off', reason: 'test' })).body.state,
        'off',
      );
      t.clock.advanceBy(3600);
      const later = (await t.call(a, 'GET', `/v1/energy?from=${day}&to=${day}&by=host`)).body;
      assert.ok(Math.abs(later.rows[0].itKWh - 0.175) < 1e-9, JSON.stringify(later));
      assert.equal((await t.call(a, 'POST', `/v1/hosts/${e1}/power`, { action: 'on' })).body.state, 'up');
    } finally {
      await t.close();
      await s.drop();
    }
  });

  test(`HA admission control on ${backend.name}: an HA VM whose host's failure could not be absorbed is refused with the reason`, async () => {
    const s = await backend.url();
    const { t, a, host, vm } = await setup(s.url);
    try {
      await host('h1', 'z', { cpuRatio: 1 });
      await host('h2', 'z', { cpuRatio: 1 });
      assert.equal((await t.call(a, 'PUT', '/v1/settings/ha', { failoverHosts: 2 })).status, 400);
      await t.call(a, 'PUT', '/v1/settings/ha', { failoverHosts: 1 });
      await vm('ha1', 'm1.xlarge', { ha: true });
      const r = await t.call(a, 'POST', '/v1/vms', {
        name: 'ha2',
        flavor: 'm1.xlarge',
        image: 'tiny',
        ha: true,
      });
      assert.equal(r.status, 409, JSON.stringify(r.body));
      assert.match(
        r.body.message,
        /HA admission control: with ha2, if h\d failed its HA VM ha\d could not restart anywhere/,
      );
      // Nothing was half-done: no VM record, no quota, no capacity claimed.
      assert.equal((await t.call(a, 'GET', '/v1/vms')).body.length, 1);
      assert.equal(
        (await t.call(a, 'GET', '/v1/hosts')).body.reduce((s2: number, h: { vms: number }) => s2 + h.vms, 0),
        1,
      );
      // A VM without HA needs no failover room.
      await vm('plain', 'm1.xlarge');
    } finally {
      await t.close();
      await s.drop();
    }
  });
}

test('resize of a running VM: live through the balloon when the vCPUs stay and memory is within boot size, else with a restart, re-placed when it no longer fits', async () => {
  const { t, a, host, vm, vms } = await setup(':memory:');
  try {
    const r1 = await host('r1', 'z', { cpuRatio: 1 }),
      r2 = await host('r2', 'z', { cpuRatio: 1 });
    await t.call(a, 'POST', '/v1/flavors', { name: 'lean', vcpus: 4, memoryMiB: 4096, diskGiB: 80 });
    const x = await vm('x', 'm1.large', { preset: 'pack' }),
      y = await vm('y', 'm1.large', { preset: 'pack' });
    const where = async (id: string) => (await vms()).find((v) => v.id === id)!;
    assert.equal((await where(x)).hostId, (await where(y)).hostId, 'packed on one host');
    const first = (await where(x)).hostId,
      second = first === r1 ? r2 : r1;
    assert.ok((await t.call(a, 'GET', `/v1/vms/${y}`)).body.allowedActions.includes('resize'));

    const lean = (await t.call(a, 'POST', `/v1/vms/${y}/actions`, { action: 'resize', flavor: 'lean' })).body;
    assert.equal(lean.status, 'succeeded', JSON.stringify(lean));
    assert.equal(lean.result.how, 'live');
    assert.equal((await t.sim.metrics(y)).balloonMiB, 4096, 'the balloon took the memory back');
    assert.equal((await where(y)).state, 'running');
    assert.equal((await where(y)).hostId, first, 'stays where it is');

    // 8 vCPUs do not fit next to y (4 of 8 taken): restart on the other host.
    const big = (await t.call(a, 'POST', `/v1/vms/${x}/actions`, { action: 'resize', flavor: 'm1.xlarge' }))
      .body;
    assert.equal(big.status, 'succeeded', JSON.stringify(big));
    assert.equal(big.result.how, 'restart');
    assert.equal((await where(x)).hostId, second);
    assert.equal((await where(x)).state, 'running');
    assert.equal((await t.sim.get(x))!.spec.vcpus, 8);
    const hosts = (await t.call(a, 'GET', '/v1/hosts')).body as {
      id: string;
      used: { vcpus: number; memoryMiB: number };
    }[];
    assert.deepEqual(hosts.find((h) => h.id === first)!.used, {
      ...hosts.find((h) => h.id === first)!.used,
      vcpus: 4,
      memoryMiB: 4096,
    });
    assert.equal(hosts.find((h) => h.id === second)!.used.vcpus, 8);
    // Nowhere to go: refused, and the VM keeps running as it was.
    const huge = await t.call(a, 'POST', '/v1/flavors', {
      name: 'huge',
      vcpus: 16,
      memoryMiB: 8192,
      diskGiB: 80,
    });
    assert.equal(huge.status, 201);
    const no = await t.call(a, 'POST', `/v1/vms/${y}/actions`, { action: 'resize', flavor: 'huge' });
    assert.equal(no.status, 409);
    assert.match(no.body.message, /Flavor huge does not fit on r\d and no other host takes it/);
    assert.equal((await where(y)).state, 'running');
  } finally {
    await t.close();
  }
});

test('switching a host on takes time: the plan waits for it (peak power while booting), then resumes and finishes', async () => {
  const db = await openStore(':memory:');
  const clock = new SimClock(1_800_000_000);
  const cp = new ControlPlane({
    db,
    clock,
    hostDrivers: createHostDrivers({ sim: new SimHypervisorDriver(clock) }),
    simBootS: 300,
  });
  try {
    const p = (await cp.authenticate((await cp.bootstrap())!))!;
    await cp.createFlavor(p, { name: 'big', vcpus: 4, memoryMiB: 4096, diskGiB: 10 });
    await cp.createImage(p, { name: 'tiny', format: 'kernel+initramfs', sizeMiB: 16 });
    const host = (name: string) =>
      cp.createHost(p, {
        name,
        vcpus: 8,
        memoryMiB: 32768,
        diskGiB: 500,
        cpuRatio: 2,
        reservedMemoryMiB: 0,
        powerModel: { type: 'linear', idleW: 100, maxW: 200 },
      });
    await host('h1');
    for (const n of ['a', 'b', 'c']) await cp.createVm(p, { name: n, flavor: 'big', image: 'tiny' });
    const h2 = await host('h2');
    await cp.powerHost(p, h2.id, 'off');
    for (let i = 0; i < 4; i++) {
      await cp.recordMetrics(
        p,
        ['a', 'b', 'c'].map((vm) => ({ vm, cpu: 0.7 })),
      );
      clock.advanceBy(300);
    }
    const plan = await cp.auditPlan(p, { policy: 'thr-mmt:0.8', spareHosts: 0 });
    assert.deepEqual(
      plan.actions.map((a) => a.type),
      ['power-on', 'migrate'],
    );
    const waiting = await cp.applyPlan(p, plan.id!);
    assert.equal(waiting.status, 'waiting');
    assert.deepEqual(waiting.result.waitingForNames, ['h2']);
    assert.equal((await cp.getHost(p, 'h2')).state, 'booting');
    assert.equal(
      (await cp.listVms(p)).filter((v) => v.hostName === 'h1').length,
      3,
      'nothing moves to a host that is not up',
    );
    assert.equal(
      (await cp.applyPlan(p, plan.id!)).status,
      'waiting',
      'applying again before it is up changes nothing',
    );
    clock.advanceBy(300);
    const [resumed] = await cp.automationRound(p);
    assert.equal(resumed?.status, 'applied', JSON.stringify(resumed));
    assert.equal((await cp.getHost(p, 'h2')).state, 'up');
    assert.equal((await cp.listVms(p)).filter((v) => v.hostName === 'h2').length, 1);
    const day = new Date(clock.now() * 1000).toISOString().slice(0, 10);
    const e = await cp.energyReport(p, { from: day, to: day, by: 'host' });
    // h2: off, then 300 s booting at peak power (200 W) = 60 kJ; it is up only since now.
    assert.ok(
      Math.abs(e.rows.find((r) => r.name === 'h2')!.itKWh - 60_000 / 3.6e6) < 1e-9,
      JSON.stringify(e.rows),
    );
    const kinds = (await cp.listEvents(p, { limit: 100 })).map((x) => x.kind);
    assert.ok(kinds.includes('plan.waiting') && kinds.includes('host.up') && kinds.includes('plan.applied'));
  } finally {
    await db.destroy();
  }
});
