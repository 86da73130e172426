/**
 * Migration tickets: a source agent presents a one-time ticket the destination issued for one guest,
 * never the destination's credential; the ticket grants that guest's incoming routes only. And the
 * destination copies only the disk of the guest the ticket names, found from its own folders.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { InjectOptions } from 'fastify';
import { TICKET_PREFIX, TicketBook } from '../src/agent/migration-tickets.ts';
import { inprocAgent, type InprocAgent } from './helpers/agent-inproc.ts';

const auth = (t: string) => ({ authorization: `Bearer ${t}` });
const spec = (a: InprocAgent, id: string) => ({
  id,
  memoryMiB: 128,
  vcpus: 1,
  image: { kernel: join(a.images, 'vmlinuz') },
});
const req = (a: InprocAgent, method: string, url: string, token: string, payload?: object) =>
  a.app.inject({
    method,
    url,
    headers: auth(token),
    remoteAddress: '10.0.0.7',
    ...(payload !== undefined ? { payload } : {}),
  } as InjectOptions);

async function issue(a: InprocAgent, guestId: string, sourceAddress?: string): Promise<string> {
  const r = await req(a, 'POST', '/v1/incoming-tickets', 'k', { guestId, sourceAddress });
  assert.equal(r.statusCode, 201, r.body);
  const t = r.json().ticket as string;
  assert.ok(t.startsWith(TICKET_PREFIX));
  return t;
}

/** A real qcow2 for guest `id` in a source agent's state folder next to this agent's (qemu-img create). */
function sourceDisk(
  a: InprocAgent,
  id: string,
  extra: string[] = [],
  folder = 'source',
  size = '1M',
): string {
  const d = join(a.root, folder, 'guests', id);
  mkdirSync(d, { recursive: true });
  const p = join(d, 'disk.qcow2');
  const r = spawnSync('qemu-img', ['create', '-q', '-f', 'qcow2', ...extra, p, ...(size ? [size] : [])]);
  assert.equal(r.status, 0, String(r.stderr));
  return p;
}

const options = { mode: 'precopy' };

test('a migration ticket cannot list guests, touch another guest, issue tickets or reach host routes', async () => {
  const a = await inprocAgent();
  try {
    assert.equal(
      (await req(a, 'POST', '/v1/guests', 'k', { ...spec(a, 'other'), image: { kernel: 'image://tiny' } }))
        .statusCode,
      201,
    );
    const t = await issue(a, 'g1');
    for (const [method, url] of [
      ['GET', '/v1/guests'],
      ['GET', '/v1/host'],
      ['DELETE', '/v1/guests/other'],
      ['DELETE', '/v1/guests/g1'],
      ['POST', '/v1/guests/other/start'],
      ['POST', '/v1/host/power'],
      ['POST', '/v1/incoming-tickets'],
      ['POST', '/v1/incoming/other/abort'],
      ['POST', '/v1/incoming/other/commit'],
    ] as const) {
      const r = await req(a, method, url, t, method === 'POST' ? { guestId: 'g2' } : undefined);
      assert.equal(r.statusCode, 403, `${method} ${url}: ${r.body}`);
      assert.ok(!r.body.includes(t), 'the ticket is not echoed');
    }
    // An incoming migration of another guest than the ticket's: refused before anything is prepared.
    sourceDisk(a, 'other2');
    const wrong = await req(a, 'POST', '/v1/incoming', t, {
      spec: spec(a, 'other2'),
      snapshots: [],
      options,
    });
    assert.equal(wrong.statusCode, 403, wrong.body);
    assert.match(wrong.json().message, /for guest "g1" only/);
    assert.ok(existsSync(join(a.state, 'guests', 'other', 'spec.json')), 'the other guest is untouched');
    assert.deepEqual(readdirSync(join(a.state, 'guests')), ['other']);
    // A made-up ticket, and a ticket-shaped credential guess: 401.
    assert.equal((await req(a, 'POST', '/v1/incoming', `${TICKET_PREFIX}guess`, {})).statusCode, 401);
  } finally {
    await a.close();
  }
});

test('a used ticket is refused, and so is an expired one; tickets are issued only with the credential', async () => {
  let now = 1_000_000;
  const tickets = new TicketBook({ now: () => now, ttlMs: 600_000 });
  const a = await inprocAgent({ tickets });
  try {
    // Used: the first incoming spends it (here it fails, as `qemu-system` is `true`: void all the same).
    sourceDisk(a, 'g1');
    const t = await issue(a, 'g1');
    const first = await req(a, 'POST', '/v1/incoming', t, { spec: spec(a, 'g1'), snapshots: [], options });
    assert.notEqual(first.statusCode, 401, first.body);
    for (const url of ['/v1/incoming', '/v1/incoming/g1/commit', '/v1/incoming/g1/abort']) {
      const again = await req(a, 'POST', url, t, { spec: spec(a, 'g1'), snapshots: [], options });
      assert.equal(again.statusCode, 401, `${url}: ${again.body}`);
    }
    // Expired: 10 minutes after it was issued.
    const late = await issue(a, 'g1');
    now += 600_000;
    const r = await req(a, 'POST', '/v1/incoming', late, { spec: spec(a, 'g1'), snapshots: [], options });
    assert.equal(r.statusCode, 401, r.body);
    assert.equal(tickets.size, 0, 'nothing outstanding');
    // Only the agent's credential issues tickets.
    const noAuth = await a.app.inject({
      method: 'POST',
      url: '/v1/incoming-tickets',
      payload: { guestId: 'g1' },
    });
    assert.equal(noAuth.statusCode, 401);
    assert.equal((await req(a, 'POST', '/v1/incoming-tickets', 'k', { guestId: '../x' })).statusCode, 400);
    assert.equal(
      (await req(a, 'POST', '/v1/incoming-tickets', 'k', { guestId: 'g1', sourceAddress: 'evil.example' }))
        .statusCode,
      400,
    );
  } finally {
    await a.close();
  }
});

test('a ticket bound to the source address is refused from any other address', async () => {
  const a = await inprocAgent();
  try {
    const t = await issue(a, 'g1', '10.0.0.8');
    const r = await req(a, 'POST', '/v1/incoming', t, { spec: spec(a, 'g1'), snapshots: [], options });
    assert.equal(r.statusCode, 403, r.body);
    assert.match(r.json().message, /another source address/);
  } finally {
    await a.close();
  }
});

test('the source agent refuses a destination credential: it takes only a ticket', async () => {
  const a = await inprocAgent();
  try {
    const r = await req(a, 'POST', '/v1/guests/g1/migrate', 'k', {
      destination: 'http://127.0.0.1:9',
      destinationToken: 'the-destination-credential',
      options,
    });
    assert.equal(r.statusCode, 400, r.body);
    assert.match(r.json().message, /destinationToken/);
    assert.ok(!r.body.includes('the-destination-credential'));
  } finally {
    await a.close();
  }
});

test('an incoming migration copies only the disk of the guest the ticket names, never a path the caller gives', async () => {
  const a = await inprocAgent();
  try {
    // Another guest's disk (a real qcow2 in a source folder): naming its path does not make it g1's.
    const otherDisk = sourceDisk(a, 'g9');
    const t = await issue(a, 'g1');
    const r = await req(a, 'POST', '/v1/incoming', t, {
      spec: spec(a, 'g1'),
      snapshots: [],
      diskPath: otherDisk,
      options,
    });
    assert.equal(r.statusCode, 400, r.body);
    assert.match(r.json().message, /No disk of guest "g1"/);
    assert.deepEqual(readdirSync(join(a.state, 'guests')), [], 'nothing copied');

    // g1's disk as a symlink to g9's, or owned by another user, or in two source folders: refused.
    const d1 = join(a.root, 'source', 'guests', 'g1');
    mkdirSync(d1, { recursive: true });
    symlinkSync(otherDisk, join(d1, 'disk.qcow2'));
    const link = await req(a, 'POST', '/v1/incoming', 'k', { spec: spec(a, 'g1'), snapshots: [], options });
    assert.equal(link.statusCode, 400, link.body);
    assert.match(link.json().message, /not a regular file/);
    const foreign = sourceDisk(a, 'g2');
    if (process.getuid?.() === 0) {
      chownSync(foreign, 65534, 65534);
      const r2 = await req(a, 'POST', '/v1/incoming', 'k', { spec: spec(a, 'g2'), snapshots: [], options });
      assert.equal(r2.statusCode, 400, r2.body);
      assert.match(r2.json().message, /not owned by this agent's user/);
    }
    sourceDisk(a, 'g3');
    sourceDisk(a, 'g3', [], 'stale');
    const twice = await req(a, 'POST', '/v1/incoming', 'k', { spec: spec(a, 'g3'), snapshots: [], options });
    assert.equal(twice.statusCode, 409, twice.body);
    assert.deepEqual(readdirSync(join(a.state, 'guests')), [], 'nothing copied');
  } finally {
    await a.close();
  }
});

test('an incoming disk whose qcow2 header names a host file as backing file or data file is refused', async () => {
  const a = await inprocAgent();
  try {
    sourceDisk(a, 'g4', ['-F', 'raw', '-b', '/etc/hostname'], 'source', '');
    const r = await req(a, 'POST', '/v1/incoming', 'k', { spec: spec(a, 'g4'), snapshots: [], options });
    assert.equal(r.statusCode, 400, r.body);
    assert.match(r.json().message, /backing file.*outside this host's folders/);
    sourceDisk(a, 'g5', ['-o', `data_file=${join(a.canary, 'data')},data_file_raw=on`]);
    const r2 = await req(a, 'POST', '/v1/incoming', 'k', { spec: spec(a, 'g5'), snapshots: [], options });
    assert.equal(r2.statusCode, 400, r2.body);
    assert.match(r2.json().message, /external data file/);
    assert.deepEqual(readdirSync(join(a.state, 'guests')), [], 'the copies were removed');
  } finally {
    await a.close();
  }
});

test("an incoming migration listens on the agent's migration address only, whatever the caller asks", async () => {
  const a = await inprocAgent({ migrationAddress: '127.0.0.1' });
  try {
    sourceDisk(a, 'g6');
    const t = await issue(a, 'g6');
    const r = await req(a, 'POST', '/v1/incoming', t, {
      spec: spec(a, 'g6'),
      snapshots: [],
      options: { ...options, listenHost: '0.0.0.0' },
    });
    assert.equal(r.statusCode, 400, r.body);
    assert.match(r.json().message, /receives migrations on 127\.0\.0\.1 only/);
    assert.deepEqual(readdirSync(join(a.state, 'guests')), []);
  } finally {
    await a.close();
  }
});

test('an incoming guest follows the rules of a create: a spec the agent would refuse is refused', async () => {
  const a = await inprocAgent();
  try {
    sourceDisk(a, 'g7');
    for (const bad of [{ vcpus: 0 }, { vcpus: 1000 }, { memoryMiB: 1 }, { minMemoryMiB: 4096 }]) {
      const r = await req(a, 'POST', '/v1/incoming', 'k', {
        spec: { ...spec(a, 'g7'), ...bad },
        snapshots: [],
        options,
      });
      assert.equal(r.statusCode, 400, `${JSON.stringify(bad)}: ${r.body}`);
      assert.match(r.json().message, /Bad guest spec/);
    }
    assert.deepEqual(readdirSync(join(a.state, 'guests')), []);
  } finally {
    await a.close();
  }
});
