/**
 * The scheduler's host cache follows host changes by version (src/control/scheduler/host-cache.ts):
 * re-reading one host after a lost claim must not move the change feed's watermark past hosts that
 * changed meanwhile, or those would stay stale until the next full read.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { sql } from 'kysely';
import { HostCache } from '../src/control/scheduler/host-cache.ts';
import { openStore } from '../src/control/store/open-store.ts';
import { ControlPlane, seedDemo } from '../src/control/control-plane.ts';
import { createHostDrivers } from '../src/drivers/host-drivers.ts';
import { SimHypervisorDriver } from '../src/drivers/sim/sim-driver.ts';
import { SimClock } from '../src/runtime/clock.ts';

test('a host re-read after a lost race does not hide the hosts changed before it from the next read', async () => {
  const db = await openStore(':memory:');
  const clock = new SimClock(Date.parse('2026-12-01T00:00:00Z'));
  const cp = new ControlPlane({
    db,
    clock,
    hostDrivers: createHostDrivers({ sim: new SimHypervisorDriver(clock) }),
  });
  const admin = (await cp.authenticate((await cp.bootstrap('t'))!))!;
  await seedDemo(cp, admin, 60);
  const cache = new HostCache();
  const before = await cache.current(db);
  const hosts = before.views().map((h) => h.id);
  const used = new Map(hosts.map((id) => [id, before.get(id)!.used.vcpus]));
  assert.equal(hosts.length, 60);
  // Another process changes every host's counters, one write each: 60 versions, the last host last.
  for (const id of hosts)
    await sql`update hosts set used_vcpus = used_vcpus + 1 where id = ${id}`.execute(db);
  // A claim on the last host lost its race: only that host is re-read.
  await cache.refresh(db, [hosts.at(-1)!]);
  const after = await cache.current(db);
  const stale = hosts.filter((id) => after.get(id)!.used.vcpus !== used.get(id)! + 1);
  assert.deepEqual(stale, [], 'every changed host is seen by the next read');
});
