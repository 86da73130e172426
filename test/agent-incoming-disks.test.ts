/**
 * What a destination agent accepts for an incoming migration's disks, before any QEMU starts: the
 * `disks` mode, the sizes of the disks to mirror into, and nothing it would have to guess.
 */
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { InjectOptions } from 'fastify';
import { inprocAgent, type InprocAgent } from './helpers/agent-inproc.ts';

const spec = (a: InprocAgent, id: string) => ({
  id,
  memoryMiB: 128,
  vcpus: 1,
  image: { kernel: join(a.images, 'vmlinuz') },
});

async function incoming(
  a: InprocAgent,
  id: string,
  body: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) {
  const t = await a.app.inject({
    method: 'POST',
    url: '/v1/incoming-tickets',
    headers: { authorization: 'Bearer k' },
    payload: { guestId: id },
  } as InjectOptions);
  assert.equal(t.statusCode, 201, t.body);
  return a.app.inject({
    method: 'POST',
    url: '/v1/incoming',
    headers: { authorization: `Bearer ${t.json().ticket as string}` },
    payload: { spec: { ...spec(a, id), ...extra }, snapshots: [], options: { mode: 'precopy' }, ...body },
  } as InjectOptions);
}

const GiB = 2 ** 30;

test('an incoming migration refuses disks it cannot mirror or find, and leaves nothing behind', async () => {
  const a = await inprocAgent();
  try {
    const cases: [Record<string, unknown>, RegExp][] = [
      // Shared asked for, but this host sees no disk of the guest.
      [
        { options: { mode: 'precopy', disks: 'shared' }, disks: [{ device: 'disk0', virtualSize: GiB }] },
        /No disk of guest/,
      ],
      // Nothing visible and no sizes: nothing to mirror into (an older source agent).
      [{}, /No disk of guest/],
      [{ options: { mode: 'precopy', disks: 'mirror' } }, /size of the root disk/],
      [{ disks: [{ device: 'vol1', virtualSize: GiB }] }, /size of the root disk/],
      [{ disks: [{ device: 'disk0', virtualSize: 5 * 1024 * GiB }] }, /Bad disk size/],
      [{ disks: [{ device: 'disk0', virtualSize: -1 }] }, /virtualSize/],
      [{ disks: [{ device: 'disk0', virtualSize: GiB, path: '/etc/passwd' }] }, /path|Unrecognized/i],
      [{ disks: [{ device: '../../x', virtualSize: GiB }] }, /size of the root disk/],
      [{ options: { mode: 'precopy', disks: 'nfs' } }, /disks/],
      [{ snapshots: ['s1'], disks: [{ device: 'disk0', virtualSize: GiB }] }, /internal snapshots/],
    ];
    let n = 0;
    for (const [body, message] of cases) {
      const r = await incoming(a, `g${n++}`, body);
      assert.equal(r.statusCode, 400, `${JSON.stringify(body)}: ${r.body}`);
      assert.match(r.json().message as string, message, JSON.stringify(body));
    }
    assert.deepEqual(readdirSync(join(a.state, 'guests')), [], 'no guest folder left');
  } finally {
    await a.close();
  }
});

test('a local volume is mirrored only with its size, without snapshots, into a pool that does not hold it', async () => {
  const a = await inprocAgent({ pools: true });
  try {
    const disks = [
      { volumeId: 'data-1', pool: { name: 'local', kind: 'local' }, sizeGiB: 1, serial: 'data-1' },
    ];
    const root = { device: 'disk0', virtualSize: GiB };
    const cases: [Record<string, unknown>, number, RegExp][] = [
      [{ disks: [root] }, 400, /size of its local volume "data-1"/],
      [{ disks: [root, { device: 'vd0', virtualSize: -5 }] }, 400, /virtualSize/],
      [{ disks: [root, { device: 'vd0', virtualSize: GiB, snapshots: 1 }] }, 400, /has snapshots/],
    ];
    let n = 0;
    for (const [body, status, message] of cases) {
      const r = await incoming(a, `v${n++}`, body, { disks });
      assert.equal(r.statusCode, status, `${JSON.stringify(body)}: ${r.body}`);
      assert.match(r.json().message as string, message, JSON.stringify(body));
    }
    // A volume of that name in this host's local pool already: never overwritten.
    writeFileSync(join(a.localPool, 'data-1.qcow2'), 'someone else');
    const r = await incoming(
      a,
      'v9',
      { disks: [root, { device: 'vd0', virtualSize: GiB, snapshots: 0 }] },
      { disks },
    );
    assert.equal(r.statusCode, 409, r.body);
    assert.deepEqual(readdirSync(a.localPool), ['data-1.qcow2'], 'nothing created in the pool');
    assert.deepEqual(readdirSync(join(a.state, 'guests')), [], 'no guest folder left');
  } finally {
    await a.close();
  }
});
