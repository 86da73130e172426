import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { DriverError } from '../src/core/hypervisor.ts';
import type { HostDrivers, HostRef } from '../src/core/host-driver.ts';
import { createHostDrivers } from '../src/drivers/host-drivers.ts';
import { ipcHostDrivers, serveSimHosts, type IpcChannel } from '../src/drivers/sim/sim-ipc.ts';
import { SimHypervisorDriver } from '../src/drivers/sim/sim-driver.ts';
import { SimClock } from '../src/runtime/clock.ts';

/** Two ends of a channel whose messages are structured clones, delivered asynchronously (as IPC is). */
function channelPair(): [IpcChannel, IpcChannel] {
  const a = new EventEmitter(),
    b = new EventEmitter();
  const end = (self: EventEmitter, other: EventEmitter): IpcChannel => ({
    send: (m) => setImmediate(() => other.emit('message', structuredClone(m))),
    on: (e, l) => self.on(e, l),
  });
  return [end(a, b), end(b, a)];
}

const host = (id: string, driver = 'sim'): HostRef => ({
  id,
  name: `sim-${id}`,
  driver,
  agentUrl: null,
  powerAddress: null,
});

test("an API process reaches the primary's simulated hosts over IPC: one set of guests, driver errors keep their code", async () => {
  const sim = new SimHypervisorDriver(new SimClock(0));
  const [primaryEnd, workerEnd] = channelPair();
  serveSimHosts(createHostDrivers({ sim }), primaryEnd);
  const real: HostDrivers = { forHost: () => assert.fail('a simulated host never reaches the base drivers') };
  const drivers = ipcHostDrivers(real, workerEnd);
  const d = drivers.forHost(host('h1'));
  await d.create({ id: 'vm-1', memoryMiB: 512, vcpus: 1, image: { kernel: 'image://sim' } });
  await d.start('vm-1');
  assert.equal((await sim.get('vm-1'))?.state, 'running', 'the guest lives in the primary');
  assert.deepEqual(
    (await d.list()).map((g) => g.id),
    ['vm-1'],
  );
  await assert.rejects(d.start('nope'), (e: unknown) => e instanceof DriverError && e.code === 'NOT_FOUND');
  await assert.rejects(d.openConsole('vm-1'), /not available with several API processes/);
});

test('hosts that are not simulated go to the base drivers', () => {
  const marker = { kind: 'qemu' };
  const base: HostDrivers = { forHost: () => marker as never };
  const [, workerEnd] = channelPair();
  assert.equal(ipcHostDrivers(base, workerEnd).forHost(host('h2', 'qemu')), marker);
});
