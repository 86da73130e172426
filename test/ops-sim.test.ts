import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { buildApi } from '../src/api/server.ts';
import { ControlPlane } from '../src/control/control-plane.ts';
import { openStore } from '../src/control/store/open-store.ts';
import { createHostDrivers } from '../src/drivers/host-drivers.ts';
import { SimHypervisorDriver } from '../src/drivers/sim/sim-driver.ts';
import { SimClock } from '../src/runtime/clock.ts';
import { httpPort, runOps, runOpsInProcess } from '../src/sim/ops-run.ts';
import { startReplayLoops } from '../src/sim/ops-loops.ts';
import { parseOpsScenario } from '../src/sim/ops-scenario.ts';
import { controlPlane } from './helpers/control.ts';

// Eight hours: low load (consolidate, switch hosts off), a host failure with HA VMs on it at the
// start, then high load from 4 h (overloads: hosts switched back on).
const scenario = parseOpsScenario({
  name: 'e2e',
  seed: 3,
  durationS: 8 * 3600,
  hosts: [
    { count: 6, vcpus: 8, memoryMiB: 32768, cpuRatio: 2, power: { type: 'linear', idleW: 100, maxW: 200 } },
  ],
  flavors: [{ name: 'medium', vcpus: 2, memoryMiB: 4096 }],
  workload: {
    type: 'steps',
    vms: 12,
    steps: [
      { atS: 0, percent: 10 },
      { atS: 4 * 3600, percent: 90 },
    ],
  },
  haShare: 0.5,
  automation: { level: 'full', policy: 'thr-mmt:0.8', intervalS: 300, spareHosts: 1 },
  failures: { events: [{ host: 2, atS: 0, downS: 3600 }] },
  power: { bootS: 300 },
});

/** The same scenario against a served control plane: real HTTP, the server's clock driven by the runner. */
async function overHttp() {
  const db = await openStore(':memory:');
  const clock = new SimClock(Date.UTC(2026, 0, 1) / 1000);
  const cp = new ControlPlane({
    db,
    clock,
    hostDrivers: createHostDrivers({ sim: new SimHypervisorDriver(clock) }),
    simBootS: scenario.power.bootS,
  });
  const token = (await cp.bootstrap())!;
  const app = buildApi(cp);
  await app.listen({ host: '127.0.0.1', port: 0 });
  // The server's loops, on the clock the runner drives (as nubis serve runs them on the real one).
  const loops = await startReplayLoops(cp, scenario, clock);
  try {
    const port = (app.server.address() as AddressInfo).port;
    return await runOps(scenario, httpPort(`http://127.0.0.1:${port}`, token), clock, loops);
  } finally {
    await loops.stop();
    await app.close();
    await db.destroy();
  }
}

test("the control plane's automation replayed by the simulator: consolidates, switches hosts off and on, restarts HA VMs once, and gives the same actions over the HTTP API", async () => {
  const sim = await runOpsInProcess(scenario);
  const at = (h: number) => sim.series.activeHosts[sim.series.timeS.indexOf(h * 3600)]!;
  assert.ok(at(3) <= 3, `low load packs 12 VMs onto at most 3 hosts that are on (got ${at(3)})`);
  assert.ok(sim.powerOffs >= 3, `hosts switched off: ${sim.powerOffs}`);
  assert.ok(
    sim.actions.some((a) => /^(1[4-9]|2\d)\d{3} powered-on /.test(a)),
    `hosts switched on after the load step: ${sim.actions.join('\n')}`,
  );
  assert.ok(at(7) > at(3), 'more hosts on under high load');
  // Host 2 held vm-001 and vm-007 (spread placement), both HA: each restarts exactly once.
  const restarts = sim.actions.filter((a) => a.includes('ha-restart'));
  assert.deepEqual(restarts.map((a) => a.split(' ')[2]).sort(), ['vm-001', 'vm-007']);
  assert.equal(sim.lostVms, 0);
  assert.equal(sim.series.slaViolation.at(-1), 0, 'overloads are relieved by the end');
  assert.ok(sim.energyKWh > 0 && sim.migrations > 0);

  const again = await runOpsInProcess(scenario);
  assert.deepEqual(again.actions, sim.actions, 'same scenario, same seed: same actions');
  assert.equal(again.energyKWh, sim.energyKWh);

  const http = await overHttp();
  assert.deepEqual(
    http.actions,
    sim.actions,
    'the simulator and the served control plane take the same actions',
  );
  assert.equal(http.energyKWh, sim.energyKWh);
});

test("an autoscaling group on its members' measured CPU grows and shrinks with its load, within cooldowns (accelerated clock, through the API)", async () => {
  const t = await controlPlane(':memory:', 4);
  try {
    const a = t.adminToken;
    const g = (
      await t.call(a, 'POST', '/v1/scaling-groups', {
        name: 'web',
        flavor: 'm1.small',
        image: 'tiny',
        min: 1,
        max: 4,
        policy: {
          metric: 'cpu',
          scaleOutAbove: 70,
          scaleInBelow: 20,
          adjustmentType: 'change',
          adjustment: 1,
          cooldownS: 600,
        },
      })
    ).body;
    const load = async (cpu: number) => {
      const members = (await t.call(a, 'GET', `/v1/scaling-groups/${g.id}`)).body.members as string[];
      await t.call(a, 'POST', '/v1/metrics', { samples: members.map((vm) => ({ vm, cpu })) });
      await t.call(a, 'POST', '/v1/automation/rounds');
      t.clock.advanceBy(300);
      return (await t.call(a, 'GET', `/v1/scaling-groups/${g.id}`)).body.members.length as number;
    };
    const sizes: number[] = [];
    for (let i = 0; i < 8; i++) sizes.push(await load(0.9));
    for (let i = 0; i < 12; i++) sizes.push(await load(0.05));
    // Out by one every 600 s (cooldown) up to max 4, then in by one every 600 s down to min 1.
    assert.deepEqual(sizes, [2, 2, 3, 3, 4, 4, 4, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1]);
    const kinds = (await t.call(a, 'GET', '/v1/events?limit=1000')).body.filter(
      (e: { kind: string }) => e.kind === 'group.scaled',
    );
    assert.equal(kinds.length, 6);
  } finally {
    await t.close();
  }
});
