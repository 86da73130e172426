/**
 * Fuzz of the host agent's routes: random and hostile ids (traversal strings, encodings, NULs),
 * random bodies and bodies shaped like the agent's schemas with hostile paths, against an in-process
 * agent on the QEMU driver that never boots a guest. No 5xx, no crash, nothing outside its folders.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { inprocAgent } from './helpers/agent-inproc.ts';

const ROUTES = [
  ['GET', '/v1/health'],
  ['GET', '/v1/host'],
  ['GET', '/v1/host/memory'],
  ['POST', '/v1/host/power'],
  ['GET', '/v1/guests'],
  ['POST', '/v1/guests'],
  ['GET', '/v1/guests/%ID%'],
  ['DELETE', '/v1/guests/%ID%'],
  ['POST', '/v1/guests/%ID%/start'],
  ['POST', '/v1/guests/%ID%/stop'],
  ['POST', '/v1/guests/%ID%/pause'],
  ['POST', '/v1/guests/%ID%/resume'],
  ['POST', '/v1/guests/%ID%/reboot'],
  ['POST', '/v1/guests/%ID%/snapshots'],
  ['GET', '/v1/guests/%ID%/snapshots'],
  ['DELETE', '/v1/guests/%ID%/snapshots/%NAME%'],
  ['POST', '/v1/guests/%ID%/snapshots/%NAME%/restore'],
  ['PUT', '/v1/guests/%ID%/balloon'],
  ['GET', '/v1/guests/%ID%/metrics'],
  ['POST', '/v1/guests/%ID%/migrate'],
  ['POST', '/v1/incoming-tickets'],
  ['POST', '/v1/incoming'],
  ['POST', '/v1/incoming/%ID%/commit'],
  ['POST', '/v1/incoming/%ID%/abort'],
  ['PATCH', '/v1/guests'],
  ['GET', '/nope/%ID%'],
] as const;

const HOSTILE = [
  '..',
  '../..',
  '../../canary',
  '..%2F..%2Fcanary',
  '..%2F..%2F..%2F..%2Ftmp',
  '%2E%2E%2F%2E%2E%2Fcanary',
  'a%00b',
  '%2Fetc%2Fhostname',
  '.hidden',
  'g1%2F..%2F..%2Fcanary',
  'x'.repeat(300),
  '%C0%AE%C0%AE',
  '~root',
];

test('2,000 random and hostile requests to the agent: no 5xx, no crash, no file outside its folders', async (t) => {
  const a = await inprocAgent({ powerCommand: 'true' });
  try {
    const paths = [
      '/etc/hostname',
      join(a.canary, 'keep'),
      join(a.images, 'vmlinuz'),
      join(a.images, '..', 'canary', 'keep'),
      join(a.state, 'guests', 'g1', 'disk.qcow2'),
      join(a.root, 'canary', 'guests', 'g1', 'disk.qcow2'),
      'image://tiny',
      'image://../canary/keep',
      'relative/../../x',
    ];
    const id = fc.oneof(
      fc.constantFrom('g1', 'g2', 'g3'),
      fc.constantFrom(...HOSTILE),
      fc.string({ maxLength: 20 }).map(encodeURIComponent),
    );
    const path = fc.oneof(fc.constantFrom(...paths), fc.string({ maxLength: 30 }));
    const spec = fc.record(
      {
        id: fc.oneof(fc.constantFrom('g1', 'g2', 'g3', '../../canary/x', '..'), fc.string({ maxLength: 10 })),
        memoryMiB: fc.oneof(fc.constant(128), fc.integer(), fc.double()),
        vcpus: fc.oneof(fc.constant(1), fc.integer({ min: -2, max: 100 })),
        image: fc.record(
          { kernel: path, initrd: path, disk: path, append: fc.string({ maxLength: 20 }) },
          { requiredKeys: [] },
        ),
        minMemoryMiB: fc.integer({ min: -10, max: 200 }),
      },
      { requiredKeys: ['id', 'memoryMiB', 'vcpus', 'image'] },
    );
    const options = fc.record(
      {
        mode: fc.constantFrom('precopy', 'postcopy', 'stop-and-copy', 'teleport'),
        listenHost: fc.oneof(fc.constant('127.0.0.1'), fc.string({ maxLength: 20 })),
        maxDowntimeMs: fc.double(),
        multifd: fc.record({
          channels: fc.integer({ min: -1, max: 100 }),
          compression: fc.constantFrom('none', 'zstd'),
        }),
      },
      { requiredKeys: ['mode'] },
    );
    // Often a well-formed create, so that guests exist for the other routes to act on.
    const goodSpec = fc.record({
      id: fc.constantFrom('g1', 'g2', 'g3'),
      memoryMiB: fc.constant(128),
      vcpus: fc.constant(1),
      image: fc.record({ kernel: fc.constantFrom('image://tiny', join(a.images, 'vmlinuz'), ...paths) }),
    });
    const body = fc.oneof(
      { arbitrary: goodSpec, weight: 3 },
      fc.constant(undefined),
      fc.jsonValue({ maxDepth: 3 }),
      spec,
      fc.record({
        spec,
        snapshots: fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 }),
        diskPath: path,
        options,
      }),
      fc.record({ name: fc.oneof(fc.constantFrom('s1', '../s'), fc.string({ maxLength: 10 })) }),
      fc.record({ targetMiB: fc.oneof(fc.integer(), fc.double()) }),
      fc.record({ force: fc.boolean(), timeoutMs: fc.integer({ min: -5, max: 50 }) }),
      fc.record({ action: fc.constantFrom('on', 'off', 'x'), host: fc.string({ maxLength: 10 }) }),
      fc.record({
        destination: fc.constantFrom('http://127.0.0.1:9', 'file:///etc/hostname', 'x'),
        options,
      }),
      fc.record(
        {
          guestId: fc.oneof(fc.constantFrom('g1', 'g2', ...HOSTILE), fc.string({ maxLength: 10 })),
          sourceAddress: fc.oneof(
            fc.constantFrom('10.0.0.1', '::1', '::ffff:10.0.0.1'),
            fc.string({ maxLength: 70 }),
          ),
        },
        { requiredKeys: [] },
      ),
    );
    // Credentials: mostly the agent's token; sometimes none, a migration ticket for g1, or a forged one.
    const issued = await a.app.inject({
      method: 'POST',
      url: '/v1/incoming-tickets',
      headers: { authorization: 'Bearer k' },
      payload: { guestId: 'g1' },
    });
    const authHeaders = [
      {},
      { authorization: `Bearer ${issued.json().ticket as string}` },
      { authorization: 'Bearer nubis-mt-forged' },
    ];
    const request = fc.record({
      route: fc.oneof(
        { arbitrary: fc.constant(ROUTES[5]), weight: 1 },
        { arbitrary: fc.constantFrom(...ROUTES), weight: 4 },
      ),
      id,
      name: id,
      body,
      credential: fc.integer({ min: 0, max: 9 }),
    });

    const statuses = new Map<number, number>();
    let requests = 0;
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const url = r.route[1].replace('%ID%', r.id).replace('%NAME%', r.name);
        const res = await a.app.inject({
          method: r.route[0],
          url,
          headers: authHeaders[r.credential] ?? { authorization: 'Bearer k' },
          ...(r.body !== undefined ? { payload: r.body as object } : {}),
        });
        requests++;
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        assert.ok(
          res.statusCode < 500,
          `${r.route[0]} ${url} ${JSON.stringify(r.body)} → ${res.statusCode} ${res.body}`,
        );
        assert.ok(!res.body.includes('canary\n') && !/^canary$/m.test(res.body), 'no file contents echoed');
      }),
      { numRuns: 2000, seed: 11 },
    );

    // Nothing appeared or vanished outside the agent's folders; the canary is intact.
    assert.deepEqual(readdirSync(a.root).sort(), ['canary', 'images', 'state']);
    assert.deepEqual(readdirSync(a.canary), ['keep']);
    assert.equal(readFileSync(join(a.canary, 'keep'), 'utf8'), 'canary');
    assert.deepEqual(readdirSync(a.images).sort(), ['initramfs.cpio.gz', 'vmlinuz']);
    const guests = readdirSync(join(a.state, 'guests'));
    assert.ok(
      guests.every((g) => ['g1', 'g2', 'g3'].includes(g)),
      `guest folders: ${guests.join(', ')}`,
    );
    const figures = [...statuses]
      .sort((x, y) => x[0] - y[0])
      .map(([s, n]) => `${s}: ${n}`)
      .join(', ');
    t.diagnostic(`agent fuzz: ${requests} requests; statuses ${figures}; guests left ${guests.length}`);
    console.log(`agent fuzz: ${requests} requests; statuses ${figures}`);
    assert.ok(requests >= 2000);
  } finally {
    await a.close();
  }
});
