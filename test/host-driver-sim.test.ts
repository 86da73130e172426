/** Simulated host drivers: the host-driver conformance suite, and what only simulated hosts do (power, a state file). */
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { hostRef, type HostRef } from '../src/core/host-driver.ts';
import { DriverError, GuestState } from '../src/core/hypervisor.ts';
import { createHostDrivers } from '../src/drivers/host-drivers.ts';
import { SimHypervisorDriver } from '../src/drivers/sim/sim-driver.ts';
import { SimClock } from '../src/runtime/clock.ts';
import { hostDriverConformance } from './host-driver-conformance.ts';

const ref = (id: string): HostRef =>
  hostRef({ id, name: `sim-${id}`, driver: 'sim', agent_url: null, power_address: null });
const spec = (id: string) => ({ id, memoryMiB: 2048, vcpus: 1, image: { kernel: 'image://tiny' } });

hostDriverConformance({
  name: 'SimHostDriver',
  open: async () => {
    const drivers = createHostDrivers({ sim: new SimHypervisorDriver(new SimClock()) });
    return { a: drivers.forHost(ref('a')), b: drivers.forHost(ref('b')), aRef: ref('a'), bRef: ref('b') };
  },
  spec,
});

test('a simulated migration reports what the live-migration models predict for the VM', async () => {
  const drivers = createHostDrivers({ sim: new SimHypervisorDriver(new SimClock()) });
  const a = drivers.forHost(ref('a'));
  await a.create(spec('busy'));
  await a.start('busy');
  await a.create(spec('idle'));
  await a.start('idle');
  const busy = await a.migrate('busy', ref('b'), { cpuUtilization: 1 });
  const idle = await a.migrate('idle', ref('b'), { cpuUtilization: 0 });
  assert.equal(busy.modeled, true);
  // 2 GiB at 1 Gbit/s is about 17 s of copying; a guest that dirties memory takes longer.
  assert.ok(idle.totalMs! > 10_000, `idle: ${idle.totalMs} ms`);
  assert.ok(busy.totalMs! > idle.totalMs!, `busy ${busy.totalMs} ms > idle ${idle.totalMs} ms`);
});

test('a simulated VM with a local volume mirrors it first; shared disks move only memory', async () => {
  const drivers = createHostDrivers({ sim: new SimHypervisorDriver(new SimClock()) });
  const a = drivers.forHost(ref('a'));
  const disk = (kind: 'local' | 'shared') => ({
    volumeId: `vol-${kind}`,
    pool: { name: kind, kind },
    sizeGiB: 10,
    serial: `vol-${kind}`,
  });
  for (const id of ['plain', 'local', 'shared']) {
    const disks = id === 'plain' ? [] : [disk(id as 'local' | 'shared')];
    await a.create({ ...spec(id), disks });
    await a.start(id);
  }
  const plain = await a.migrate('plain', ref('b'), { cpuUtilization: 0.5 });
  const local = await a.migrate('local', ref('b'), { cpuUtilization: 0.5 });
  const shared = await a.migrate('shared', ref('b'), { cpuUtilization: 0.5 });
  // 10 GiB at 1 Gbit/s is about 86 s of mirror before the memory moves.
  assert.ok(Number(local.mirrorMs) > 80_000, `mirror ${local.mirrorMs} ms`);
  assert.ok(Number(local.diskBytes) >= 10 * 2 ** 30);
  assert.ok(local.totalMs! > plain.totalMs! + 80_000);
  assert.equal(shared.totalMs, plain.totalMs, 'a shared volume does not move');
  assert.equal(shared.diskBytes, undefined);
});

test('a switched-off simulated host answers nothing, its guests crash, and it cannot receive migrations', async () => {
  const drivers = createHostDrivers({ sim: new SimHypervisorDriver(new SimClock()) });
  const [a, b] = [drivers.forHost(ref('a')), drivers.forHost(ref('b'))];
  await a.create(spec('v1'));
  await a.start('v1');
  await b.power('off', ref('b'));
  await assert.rejects(b.list(), (e) => e instanceof DriverError && e.code === 'BACKEND');
  await assert.rejects(a.migrate('v1', ref('b'), {}), /switched off/);
  await a.power('off', ref('a'));
  await a.power('on', ref('a'));
  assert.equal((await a.get('v1'))?.state, GuestState.crashed, 'power loss crashes the guests');
  await a.start('v1');
  assert.equal((await a.get('v1'))?.state, GuestState.running);
});

test('with a state file, simulated guests and their hosts outlive the driver (as a real host outlives a control-plane crash)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nubis-simstate-'));
  try {
    const file = join(dir, 'sim-hosts.json');
    const clock = new SimClock();
    const first = createHostDrivers({ sim: new SimHypervisorDriver(clock, { stateFile: file }) });
    const a = first.forHost(ref('a'));
    await a.create(spec('keep'));
    await a.start('keep');
    await a.snapshot('keep', 's1');
    await a.migrate('keep', ref('b'), {});
    await first.forHost(ref('c')).power('off', ref('c'));

    const again = createHostDrivers({ sim: new SimHypervisorDriver(clock, { stateFile: file }) });
    assert.equal(await again.forHost(ref('a')).get('keep'), undefined);
    const g = await again.forHost(ref('b')).get('keep');
    assert.equal(g?.state, GuestState.running);
    assert.deepEqual(g?.snapshots, ['s1']);
    await assert.rejects(again.forHost(ref('c')).list(), /switched off/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the state file is a journal of whole guest states: many changes cost a line each, a torn last line and a compaction lose nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nubis-sim-journal-'));
  const file = join(dir, 'sim-hosts.json');
  try {
    const clock = new SimClock(0);
    const first = new SimHypervisorDriver(clock, { stateFile: file });
    // 1,500 creates and 750 starts: past the compaction threshold (max(1024, guests) lines).
    for (let i = 0; i < 1500; i++) {
      await first.create({ id: `g${i}`, memoryMiB: 64, vcpus: 1, image: { kernel: 'image://tiny' } });
      if (i % 2 === 0) await first.start(`g${i}`);
    }
    await first.delete('g3');
    assert.ok(existsSync(file), 'a full state file was written when the journal grew');
    const journal = readFileSync(`${file}.log`, 'utf8').split('\n').filter(Boolean).length;
    assert.ok(journal > 0 && journal < 1500, `the journal was compacted (${journal} lines)`);
    // A crash in the middle of an append leaves a torn line: it is skipped, the rest is kept.
    appendFileSync(`${file}.log`, '{"id":"g7","g":{"spec":');
    const again = new SimHypervisorDriver(clock, { stateFile: file });
    const guests = await again.list();
    assert.equal(guests.length, 1499);
    assert.equal((await again.get('g0'))?.state, GuestState.running);
    assert.equal((await again.get('g1'))?.state, GuestState.shutoff);
    assert.equal(await again.get('g3'), undefined);
    assert.equal((await again.get('g7'))?.state, GuestState.shutoff);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('createHostDrivers refuses a host it has no driver for, naming it', () => {
  const drivers = createHostDrivers({});
  assert.throws(() => drivers.forHost(ref('a')), /No driver for hosts of kind "sim" \(host "sim-a"\)/);
  assert.throws(
    () => drivers.forHost(hostRef({ id: 'q', name: 'real-1', driver: 'qemu', agent_url: null })),
    /Host "real-1" has no agent URL/,
  );
});
