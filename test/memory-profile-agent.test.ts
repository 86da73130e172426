/** The memory-profile route of the agent (validation, auth), the simulated profiles, and the agent's profile loop. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { ProfileCollector } from '../src/agent/profile-collector.ts';
import { estimateSharing } from '../src/core/memory/fingerprint.ts';
import { checkMemoryProfile, type GuestMemoryProfile } from '../src/core/memory/profile.ts';
import type { GuestInfo, GuestSpec } from '../src/core/hypervisor.ts';
import { simMemoryProfile } from '../src/drivers/sim/sim-memory-profile.ts';
import { inprocAgent } from './helpers/agent-inproc.ts';

test('GET /v1/guests/:id/memory-profile: authorized, id and sampleBits validated, guest must run', async () => {
  const a = await inprocAgent();
  const get = (url: string, auth = true) =>
    a.app.inject({ method: 'GET', url, headers: auth ? { authorization: 'Bearer k' } : {} });
  try {
    assert.equal((await get('/v1/guests/g1/memory-profile', false)).statusCode, 401);
    for (const q of ['17', '-1', 'abc', '6.5', '', '100']) {
      const r = await get(`/v1/guests/g1/memory-profile?sampleBits=${q}`);
      assert.equal(r.statusCode, 400, `sampleBits=${q}`);
      assert.match(r.json().message, /sampleBits/);
    }
    assert.equal((await get('/v1/guests/g1/memory-profile?other=1')).statusCode, 400);
    assert.equal((await get('/v1/guests/..%2Fetc/memory-profile')).statusCode, 400);
    assert.equal((await get('/v1/guests/nosuch/memory-profile?sampleBits=6')).statusCode, 404);
    const created = await a.app.inject({
      method: 'POST',
      url: '/v1/guests',
      headers: { authorization: 'Bearer k' },
      payload: {
        id: 'g1',
        memoryMiB: 128,
        vcpus: 1,
        image: { kernel: join(a.images, 'vmlinuz'), initrd: join(a.images, 'initramfs.cpio.gz') },
        workload: { mib: 8, rateMiBps: 0, fill: { seed: 7, mib: 32 } },
      },
    });
    assert.equal(created.statusCode, 201, created.body);
    const r = await get('/v1/guests/g1/memory-profile?sampleBits=0');
    assert.equal(r.statusCode, 409, 'a guest that does not run has no profile');
    assert.match(r.json().message, /shutoff/);
  } finally {
    await a.close();
  }
});

test('a guest spec with a bad fill is refused', async () => {
  const a = await inprocAgent();
  try {
    for (const fill of [
      { seed: -1, mib: 8 },
      { seed: 1, mib: 0 },
      { seed: 1, mib: 128 },
      { seed: 2 ** 32, mib: 8 },
    ]) {
      const r = await a.app.inject({
        method: 'POST',
        url: '/v1/guests',
        headers: { authorization: 'Bearer k' },
        payload: {
          id: 'g2',
          memoryMiB: 128,
          vcpus: 1,
          image: { kernel: join(a.images, 'vmlinuz') },
          workload: { mib: 8, rateMiBps: 0, fill },
        },
      });
      assert.equal(r.statusCode, 400, JSON.stringify(fill));
    }
  } finally {
    await a.close();
  }
});

const spec = (id: string, kernel: string, memoryMiB = 1024): GuestSpec => ({
  id,
  memoryMiB,
  vcpus: 1,
  image: { kernel },
});

test('simulated profiles: deterministic, valid, same image shares its segment, other images do not', () => {
  const at = '2026-01-01T00:00:00.000Z';
  const pa = simMemoryProfile(spec('a', 'debian'), at, 4);
  assert.deepEqual(simMemoryProfile(spec('a', 'debian'), at, 4), pa);
  assert.deepEqual(checkMemoryProfile(pa), []);
  assert.equal(pa.workingSetMiB, 614);
  const a = pa.fingerprint!;
  assert.equal(a.pages, 1024 * 256);
  const b = simMemoryProfile(spec('b', 'debian'), at, 4).fingerprint!;
  const c = simMemoryProfile(spec('c', 'alpine'), at, 4).fingerprint!;
  const alone = estimateSharing([a]).savedPages + estimateSharing([b]).savedPages;
  const shared = estimateSharing([a, b]).savedPages - alone;
  const image = 0.2 * 1024 * 256;
  // Same image: its segment (20 % of memory) is shared, within the sampling's resolution.
  assert.ok(Math.abs(shared - image) <= 16 + 1, `shared ${shared} vs ${image}`);
  // Zero pages merge across any guests; only those are shared with another image's guest.
  const zeros = a.zeroPages;
  assert.equal(
    estimateSharing([a, c]).savedPages - estimateSharing([a]).savedPages - estimateSharing([c]).savedPages,
    1,
  );
  assert.ok(zeros > 0);
  assert.throws(() => simMemoryProfile(spec('a', 'debian'), at, 17), /sampleBits/);
});

test('the agent profiles running guests one at a time and hands each profile to one heartbeat', async () => {
  const guest = (id: string, state: string) => ({ id, state }) as unknown as GuestInfo;
  let n = 0;
  const driver = {
    list: async () => [guest('a', 'running'), guest('b', 'shutoff'), guest('c', 'running')],
    memoryProfile: async (id: string, o?: { sampleBits?: number }) => {
      if (id === 'c') throw new Error('scan failed');
      return {
        at: `t${++n}`,
        memoryMiB: 1,
        residentMiB: 1,
        workingSetMiB: 1,
        mergeable: true,
        bits: o?.sampleBits,
      } as unknown as GuestMemoryProfile;
    },
  };
  const warnings: string[] = [];
  const c = new ProfileCollector(driver, { sampleBits: 4, warn: (l) => warnings.push(l) });
  await Promise.all([c.round(), c.round()]); // joined, not doubled
  assert.equal(n, 1);
  assert.deepEqual(warnings, ['memory profile of c failed: scan failed']);
  const first = c.take();
  assert.deepEqual([...first.keys()], ['a']);
  assert.equal((first.get('a') as unknown as { bits: number }).bits, 4);
  assert.equal(c.take().size, 0, 'each profile goes out once');
  c.putBack(first); // the heartbeat failed
  await c.round(); // a newer profile of a arrives
  c.putBack(first); // an older one does not replace it
  assert.equal(c.take().get('a')!.at, 't2');
});

test("an enrolled agent profiles nothing until it has the cloud's fingerprint key, then hashes with it", async () => {
  const keys: (Buffer | undefined)[] = [];
  const driver = {
    list: async () => [{ id: 'a', state: 'running' } as unknown as GuestInfo],
    memoryProfile: async (_id: string, o?: { hashKey?: Buffer }) => {
      keys.push(o?.hashKey);
      return { at: 't', memoryMiB: 1, residentMiB: 1, workingSetMiB: 1, mergeable: true };
    },
  };
  let key: Buffer | undefined = undefined;
  const c = new ProfileCollector(driver, { hashKey: () => key, requireKey: true });
  await c.round();
  assert.equal(keys.length, 0);
  assert.equal(c.take().size, 0);
  key = Buffer.from('k');
  await c.round();
  assert.deepEqual(keys, [Buffer.from('k')]);
  assert.equal(c.take().size, 1);
});
