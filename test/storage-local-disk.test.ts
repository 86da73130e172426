/**
 * A host's local disk is one claim: VM root disks and local volumes both count, for VM placement,
 * migration (the VM's local volumes are mirrored to the destination) and cloned volumes (they stay on
 * their source's host), on simulated hosts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { controlPlane, storeBackends, type StoreBackend } from './helpers/control.ts';

async function setup(backend: StoreBackend, hostNames: string[]) {
  const store = await backend.url();
  const cp = await controlPlane(store.url, 0);
  const t = { ...cp, close: async () => (await cp.close(), await store.drop()) };
  const a = t.adminToken;
  const hosts: Record<string, string> = {};
  for (const name of hostNames) {
    const r = await t.call(a, 'POST', '/v1/hosts', { name, vcpus: 8, memoryMiB: 16384, diskGiB: 100 });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    hosts[name] = r.body.id;
  }
  await t.call(a, 'POST', '/v1/tenants', { name: 'acme' });
  await t.call(a, 'PATCH', '/v1/tenants/acme', { quotas: { volumes: 20, volumeGiB: 5000 } });
  const u = await t.call(a, 'POST', '/v1/users', { tenant: 'acme', name: 'ann', role: 'member' });
  const ann = (await t.call(a, 'POST', '/v1/tokens', { name: 'tk', userId: u.body.id })).body.token as string;
  const ok = async (method: string, url: string, body?: unknown) => {
    const r = await t.call(ann, method, url, body);
    assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  };
  // Members do not see hosts: the admin reads where a volume or VM is.
  const hostOf = async (kind: 'volumes' | 'vms', id: string) =>
    (await t.call(a, 'GET', `/v1/${kind}/${id}`)).body.hostId as string;
  return { t, a, ann, hosts, ok, hostOf };
}

for (const backend of storeBackends()) {
  describe(`a host's local disk is one count, on ${backend.name}`, () => {
    if (backend.skip) return void test(`every test on ${backend.name}`, { skip: backend.skip });
    test('VM placement counts the local volumes on a host: a 20 GiB root disk does not fit beside a 90 GiB volume on a 100 GiB disk', async () => {
      const { t, a, ann, hosts, ok, hostOf } = await setup(backend, ['h1']);
      try {
        const vol = await ok('POST', '/v1/volumes', { name: 'big', sizeGiB: 90 });
        assert.equal(await hostOf('volumes', vol.id), hosts.h1);
        const r = await t.call(ann, 'POST', '/v1/vms', { name: 'web', flavor: 'm1.small', image: 'tiny' });
        assert.equal(r.body.code, 'NO_HOST_FITS', JSON.stringify(r.body));
        assert.deepEqual(r.body.rejectedByFilter, { CapacityFilter: 1 });
        // An operator sees why: the disk, with the volume counted.
        const why = await t.call(a, 'POST', '/v1/vms', { name: 'web', flavor: 'm1.small', image: 'tiny' });
        assert.match(JSON.stringify(why.body), /needs 20 GiB disk, 10 GiB free/);
        // Another host with room takes it.
        const h2 = await t.call(a, 'POST', '/v1/hosts', {
          name: 'h2',
          vcpus: 8,
          memoryMiB: 16384,
          diskGiB: 100,
        });
        const vm = await ok('POST', '/v1/vms', { name: 'web', flavor: 'm1.small', image: 'tiny' });
        assert.equal(await hostOf('vms', vm.vmId), h2.body.id);
        // And a volume that would not fit beside the VM's root disk on h2 nor beside "big" on h1 is refused.
        const v = await t.call(ann, 'POST', '/v1/volumes', { name: 'v', sizeGiB: 81 });
        assert.equal(v.body.code, 'NO_HOST_FITS', JSON.stringify(v.body));
        assert.match(v.body.message, /at most 80 GiB free/);
      } finally {
        await t.close();
      }
    });

    test('a migration needs room for the local volumes that are mirrored along; they count on the destination afterwards', async () => {
      const { t, a, hosts, ok, hostOf } = await setup(backend, ['h1', 'h2']);
      try {
        await ok('POST', '/v1/volumes', { name: 'data', sizeGiB: 50 });
        const vm = (
          await ok('POST', '/v1/vms', { name: 'db', flavor: 'm1.small', image: 'tiny', volumes: ['data'] })
        ).vmId as string;
        assert.equal(await hostOf('vms', vm), hosts.h1);
        // h2 holds a 60 GiB volume: 40 GiB free, the VM needs 20 + 50.
        const filler = await ok('POST', '/v1/volumes', { name: 'filler', sizeGiB: 60 });
        assert.equal(await hostOf('volumes', filler.id), hosts.h2);
        const r = await t.call(a, 'POST', `/v1/vms/${vm}/migrate`, { toHost: 'h2' });
        assert.equal(r.body.code, 'NO_HOST_FITS', JSON.stringify(r.body));
        assert.match(r.body.message, /needs 70 GiB disk, 40 GiB free/);
        assert.equal(await hostOf('vms', vm), hosts.h1, 'it stays');
        // With room, it moves with its volume, which then counts on h2.
        await ok('DELETE', `/v1/volumes/${filler.id}`);
        assert.equal((await t.call(a, 'POST', `/v1/vms/${vm}/migrate`, { toHost: 'h2' })).status, 202);
        assert.equal(await hostOf('vms', vm), hosts.h2);
        assert.equal(await hostOf('volumes', (await ok('GET', '/v1/volumes/data')).id), hosts.h2);
        // h2 has 30 GiB left: a 31 GiB volume goes to the emptied h1.
        assert.equal(
          await hostOf('volumes', (await ok('POST', '/v1/volumes', { name: 'more', sizeGiB: 31 })).id),
          hosts.h1,
        );
      } finally {
        await t.close();
      }
    });

    test("a clone stays on its source's host and needs room there: refused in volume words when it has none, even if another host has room", async () => {
      const { t, ann, hosts, ok, hostOf } = await setup(backend, ['h1', 'h2']);
      try {
        const src = await ok('POST', '/v1/volumes', { name: 'src', sizeGiB: 40 });
        assert.equal(await hostOf('volumes', src.id), hosts.h1);
        assert.equal(
          await hostOf('volumes', (await ok('POST', '/v1/volumes', { name: 'filler', sizeGiB: 50 })).id),
          hosts.h2,
        );
        // h1: 60 GiB free, so one 40 GiB clone fits there, the next does not (20 free; h2 has 50).
        const c1 = await ok('POST', '/v1/volumes', { name: 'c1', sizeGiB: 40, fromVolume: 'src' });
        assert.equal(await hostOf('volumes', c1.id), hosts.h1);
        const snap = await ok('POST', `/v1/volumes/${src.id}/snapshots`, { name: 's1' });
        for (const from of [{ fromVolume: 'src' }, { fromSnapshot: snap.id }]) {
          const r = await t.call(ann, 'POST', '/v1/volumes', { name: 'c2', sizeGiB: 40, ...from });
          assert.equal(r.body.code, 'NO_HOST_FITS', JSON.stringify(r.body));
          assert.match(
            r.body.message,
            /^No host in pool "local" has room for a 40 GiB volume now \(its source's host has 20 GiB free; a clone stays on its source's host\)/,
          );
          assert.doesNotMatch(r.body.message, /VM|flavor|h1|h2/);
        }
        assert.equal((await ok('GET', '/v1/volumes')).length, 3, 'nothing half-made');
      } finally {
        await t.close();
      }
    });
  });
}
