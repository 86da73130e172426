import assert from 'node:assert/strict';
import { test } from 'node:test';
import { failoverShortfall, type HaHost } from './ha.ts';

const host = (id: string, vcpus: number, memoryMiB: number): HaHost => ({
  id,
  name: id,
  free: { vcpus, memoryMiB },
});

test('failoverShortfall() names the host and VM that could not restart when the others lack room', () => {
  // h1 holds a 4 vCPU / 8 GiB HA VM; h2 has 2 vCPUs free: it does not fit.
  const hosts = [host('h1', 0, 0), host('h2', 2, 16384)];
  assert.deepEqual(failoverShortfall(hosts, [{ name: 'db', hostId: 'h1', vcpus: 4, memoryMiB: 8192 }]), {
    host: 'h1',
    vm: 'db',
  });
});

test('failoverShortfall() needs no room for a pinned HA VM (its local volume waits on its host)', () => {
  const hosts = [host('h1', 0, 0), host('h2', 2, 16384)];
  assert.equal(
    failoverShortfall(hosts, [{ name: 'db', hostId: 'h1', vcpus: 4, memoryMiB: 8192, pinned: true }]),
    null,
  );
  // A pinned VM does not hide an unpinned one beside it that does not fit.
  assert.deepEqual(
    failoverShortfall(hosts, [
      { name: 'db', hostId: 'h1', vcpus: 4, memoryMiB: 8192, pinned: true },
      { name: 'web', hostId: 'h1', vcpus: 3, memoryMiB: 1024 },
    ]),
    { host: 'h1', vm: 'web' },
  );
});
