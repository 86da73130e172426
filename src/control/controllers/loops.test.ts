import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { createHostDrivers } from '../../drivers/host-drivers.ts';
import { SimHypervisorDriver } from '../../drivers/sim/sim-driver.ts';
import { SimClock } from '../../runtime/clock.ts';
import { ControlPlane, type Principal } from '../control-plane.ts';
import { openStore, type Db } from '../store/open-store.ts';
import { advanceWithControllers } from './advance-sim-clock.ts';
import { controlPlaneControllers, resolveControllersOptions } from './control-plane-controllers.ts';
import { ControllerManager } from './controller-manager.ts';
import { systemPrincipal } from './system-principal.ts';

const T0 = Date.UTC(2027, 0, 1) / 1000;

describe('the control plane loops', () => {
  let db: Db, clock: SimClock, cp: ControlPlane, admin: Principal, system: Principal;
  const host = (name: string, vcpus = 4) =>
    cp.createHost(admin, {
      name,
      vcpus,
      memoryMiB: 8192,
      diskGiB: 100,
      cpuRatio: 1,
      reservedMemoryMiB: 0,
      powerModel: { type: 'linear', idleW: 100, maxW: 200 },
    });
  const vm = async (name: string) => (await cp.listVms(admin)).find((v) => v.name === name)!;
  const events = async (kind: string) =>
    (await cp.listEvents(admin, { limit: 1000 })).filter((e) => e.kind === kind);
  const loops = async (o: Parameters<typeof controlPlaneControllers>[2]) => {
    const m = new ControllerManager(clock, controlPlaneControllers(cp, system, o), { serial: true });
    m.start();
    return m;
  };

  beforeEach(async () => {
    db = await openStore(':memory:');
    clock = new SimClock(T0);
    cp = new ControlPlane({
      db,
      clock,
      hostDrivers: createHostDrivers({ sim: new SimHypervisorDriver(clock) }),
      simBootS: 120,
    });
    admin = (await cp.authenticate((await cp.bootstrap())!))!;
    system = await systemPrincipal(db);
    await cp.createFlavor(admin, { name: 'two', vcpus: 2, memoryMiB: 2048, diskGiB: 10 });
    await cp.createImage(admin, { name: 'tiny', format: 'kernel+initramfs', sizeMiB: 16 });
  });
  afterEach(async () => {
    await db.destroy();
  });

  test('systemPrincipal() is the first admin acting as "system"', () => {
    assert.deepEqual(
      { role: system.role, userName: system.userName, tenantId: system.tenantId },
      { role: 'admin', userName: 'system', tenantId: admin.tenantId },
    );
  });

  test('ha restarts an HA VM that found no room when its host failed, once room appears, and loses nothing twice', async () => {
    await host('h1');
    await cp.createVm(admin, { name: 'keep', flavor: 'two', image: 'tiny', ha: true });
    await cp.createVm(admin, { name: 'gone', flavor: 'two', image: 'tiny' });
    await cp.setHostState(admin, 'h1', 'failed'); // nowhere to go: the restart fails
    assert.equal((await events('vm.ha.failed')).length, 1);
    const m = await loops({ haIntervalS: 10 });
    await advanceWithControllers(clock, m, T0 + 10);
    assert.equal((await vm('keep')).hostName, 'h1', 'still no room');
    await host('h2');
    await advanceWithControllers(clock, m, T0 + 20);
    const keep = await vm('keep');
    assert.deepEqual([keep.hostName, keep.state], ['h2', 'running']);
    await advanceWithControllers(clock, m, T0 + 60);
    assert.equal((await events('vm.ha.restarted')).length, 1);
    assert.equal((await events('vm.lost')).length, 1, 'the lost VM is not lost again on every tick');
    assert.equal((await vm('gone')).state, 'error');
    await m.stop();
  });

  test('boot turns a simulated host up once its boot time has passed, and reads do not', async () => {
    await host('h1');
    await cp.powerHost(admin, 'h1', 'off');
    await cp.powerHost(admin, 'h1', 'on');
    const m = await loops({ bootIntervalS: 50 });
    await advanceWithControllers(clock, m, T0 + 100);
    assert.equal((await cp.getHost(admin, 'h1')).state, 'booting');
    clock.advanceBy(30); // boot time (120 s) has passed, no tick yet
    assert.equal((await cp.getHost(admin, 'h1')).state, 'booting', 'a read does not promote');
    await advanceWithControllers(clock, m, T0 + 150);
    assert.equal((await cp.getHost(admin, 'h1')).state, 'up');
    await advanceWithControllers(clock, m, T0 + 300);
    assert.equal((await events('host.up')).length, 1);
    await m.stop();
  });

  test('node-lifecycle declares a host whose agent is silent past the timeout failed', async () => {
    const { token: joinToken } = await cp.enrollment.createJoinToken(admin, { expiresInS: 600 });
    const { hostCredential } = await cp.enrollment.enroll({
      joinToken,
      agentUrl: 'http://10.0.0.9:9100',
      hostname: 'metal-1',
      cpus: 8,
      memoryMiB: 16384,
    });
    await cp.heartbeat(hostCredential, {});
    const m = await loops({ hostFailureTimeoutS: 30 });
    await advanceWithControllers(clock, m, T0 + 25);
    assert.equal((await cp.getHost(admin, 'metal-1')).state, 'up');
    await advanceWithControllers(clock, m, T0 + 40);
    assert.equal((await cp.getHost(admin, 'metal-1')).state, 'failed');
    await m.stop();
  });

  test('an energy report presents the energy up to now before the energy loop stores it, and the same after', async () => {
    await host('h1');
    const day = new Date(T0 * 1000).toISOString().slice(0, 10);
    const report = async () => (await cp.energyReport(admin, { from: day, to: day, by: 'host' })).rows;
    const m = await loops({ energyIntervalS: 3600 });
    clock.advanceBy(1800);
    // h1 is up and empty: idle power, 100 W for 1800 s = 0.05 kWh, none of it stored yet.
    const before = await report();
    assert.equal((await db.selectFrom('energy').selectAll().execute()).length, 0);
    assert.ok(Math.abs(before[0]!.itKWh - 0.05) < 1e-9, JSON.stringify(before));
    await advanceWithControllers(clock, m, T0 + 3600);
    assert.ok((await db.selectFrom('energy').selectAll().execute()).length > 0, 'the loop stored it');
    const after = await report();
    assert.ok(Math.abs(after[0]!.itKWh - 0.1) < 1e-9, JSON.stringify(after));
    await m.stop();
  });

  test('sim-load reports the given load for running VMs on simulated hosts', async () => {
    await host('h1');
    await cp.createVm(admin, { name: 'web', flavor: 'two', image: 'tiny' });
    const m = await loops({ simLoadIntervalS: 10, simUtilization: (_vm, nowS) => (nowS - T0) / 100 });
    await advanceWithControllers(clock, m, T0 + 20);
    const row = await db
      .selectFrom('vms')
      .select('cpu_history')
      .where('name', '=', 'web')
      .executeTakeFirstOrThrow();
    assert.deepEqual(JSON.parse(row.cpu_history), [0.2, 0.1]);
    await m.stop();
  });

  test('automation and autoscaling tick at their intervals; a loop with interval 0 is left out', async () => {
    const names = (o: Parameters<typeof controlPlaneControllers>[2]) =>
      controlPlaneControllers(cp, system, o).map((c) => `${c.name}@${c.intervalS}`);
    assert.deepEqual(names({}), [
      'node-lifecycle@5',
      'ha@10',
      'boot@2',
      'energy@60',
      'autoscaling@60',
      'network-resync@60',
    ]);
    assert.deepEqual(
      names({ automationIntervalS: 300, energyIntervalS: 0, reconcile: async () => undefined }),
      [
        'reconcile@60',
        'node-lifecycle@5',
        'ha@10',
        'boot@2',
        'autoscaling@60',
        'automation@300',
        'network-resync@60',
      ],
    );
    assert.throws(() => resolveControllersOptions({ haIntervalS: -1 }), /haIntervalS must be a number >= 0/);
    assert.throws(() => resolveControllersOptions({ simLoadIntervalS: 5 }), /needs simUtilization/);
  });
});
