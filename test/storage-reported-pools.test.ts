/**
 * A host's storage pools come from its agent's report (issue 13): at enrollment and in each heartbeat
 * that changes them the control plane sets the host's pools to the reported ones it has with the same
 * kind; an unknown pool, or one of another kind, is ignored and recorded once; the report replaces an
 * operator's `host update --pool`.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { acceptReportedPools } from '../src/control/storage/reported-pools.ts';
import { controlPlane, storeBackends } from './helpers/control.ts';

test('the accepted pools are the reported ones known with the same kind, sorted, each once', () => {
  const name = fc.constantFrom('local', 'nas', 'san', 'fast', 'x.1');
  const kind = fc.constantFrom('local' as const, 'shared' as const);
  const pool = fc.record({ name, kind });
  fc.assert(
    fc.property(
      fc.array(pool, { maxLength: 8 }),
      fc.uniqueArray(pool, { selector: (p) => p.name }),
      (r, k) => {
        const { pools, ignored } = acceptReportedPools(r, k);
        const ok = (p: { name: string; kind: string }) =>
          k.some((x) => x.name === p.name && x.kind === p.kind);
        assert.deepEqual(pools, [...new Set(r.filter(ok).map((p) => p.name))].sort());
        assert.deepEqual(
          ignored.map((i) => `${i.name}/${i.kind}`),
          r.filter((p) => !ok(p)).map((p) => `${p.name}/${p.kind}`),
        );
        for (const i of ignored)
          assert.match(i.reason, k.some((x) => x.name === i.name) ? /is (local|shared)/ : /no storage pool/);
      },
    ),
  );
});

/** A fake agent: answers whatever the control plane asks with an empty success. */
async function fakeAgent() {
  const server: Server = createServer((req, res) => {
    req.resume();
    res.setHeader('content-type', 'application/json');
    res.end(req.url === '/v1/guests' ? '[]' : '{}');
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, close: () => new Promise<void>((ok) => server.close(() => ok())) };
}

for (const backend of storeBackends()) {
  describe(`pools from agents' reports on ${backend.name}`, () => {
    if (backend.skip) return void test('reported pools', { skip: backend.skip });
    let t: Awaited<ReturnType<typeof controlPlane>>;
    let drop: () => Promise<void>;
    let agent: Awaited<ReturnType<typeof fakeAgent>>;
    before(async () => {
      const s = await backend.url();
      drop = s.drop;
      t = await controlPlane(s.url, 0);
      agent = await fakeAgent();
      for (const [name, kind] of [
        ['local', 'local'],
        ['nas', 'shared'],
      ])
        assert.equal((await t.call(t.adminToken, 'POST', '/v1/storage-pools', { name, kind })).status, 201);
    });
    after(async () => {
      await agent?.close();
      await t?.close();
      await drop?.();
    });
    const admin = (method: string, path: string, body?: unknown) => t.call(t.adminToken, method, path, body);
    const pools = async (host: string) => (await admin('GET', `/v1/hosts/${host}`)).body.pools as string[];
    const events = async (kind: string) =>
      ((await admin('GET', '/v1/events?limit=1000')).body as { kind: string; detail: unknown }[]).filter(
        (e) => e.kind === kind,
      );

    test('enrollment and heartbeats set the pools; unknown or mismatched pools are ignored and recorded once; the report replaces an operator edit', async () => {
      const jt = (await admin('POST', '/v1/hosts/join-tokens', { expiresInS: 600 })).body.token as string;
      const e = await t.call(undefined, 'POST', '/v1/agents/enroll', {
        joinToken: jt,
        hostname: 'metal-p',
        agentUrl: agent.url,
        cpus: 4,
        memoryMiB: 8192,
        pools: [
          { name: 'local', kind: 'local' },
          { name: 'ghost', kind: 'local' },
        ],
      });
      assert.equal(e.status, 201, JSON.stringify(e.body));
      assert.deepEqual(await pools('metal-p'), ['local']);
      const cred = e.body.hostCredential as string;
      const beat = async (reported: unknown) => {
        const r = await t.call(cred, 'POST', '/v1/agents/heartbeat', { pools: reported });
        assert.equal(r.status, 200, JSON.stringify(r.body));
      };
      // The NAS is mounted: the next heartbeat adds it. 'nas' reported as local does not match.
      await beat([
        { name: 'local', kind: 'local' },
        { name: 'nas', kind: 'shared' },
        { name: 'ghost', kind: 'local' },
      ]);
      assert.deepEqual(await pools('metal-p'), ['local', 'nas']);
      const changes = (await events('host.pools-reported')).length;
      await beat([
        { name: 'nas', kind: 'shared' },
        { name: 'local', kind: 'local' },
        { name: 'ghost', kind: 'local' },
      ]);
      assert.equal(
        (await events('host.pools-reported')).length,
        changes,
        'an unchanged report writes nothing',
      );
      const ghost = await events('host.pool-ignored');
      assert.equal(ghost.length, 1, 'the unknown pool is recorded once: ' + JSON.stringify(ghost));
      assert.match(JSON.stringify(ghost[0]!.detail), /no storage pool \\"ghost\\"/);
      await beat([{ name: 'nas', kind: 'local' }]);
      assert.deepEqual(await pools('metal-p'), [], 'a kind that does not match is not seen');
      assert.equal((await events('host.pool-ignored')).length, 2);
      // An operator's edit holds until the agent reports something else.
      assert.equal((await admin('PATCH', '/v1/hosts/metal-p', { pools: ['nas'] })).status, 200);
      assert.deepEqual(await pools('metal-p'), ['nas']);
      await beat(undefined);
      assert.deepEqual(await pools('metal-p'), ['nas'], 'a heartbeat without pools changes nothing');
      await beat([{ name: 'local', kind: 'local' }]);
      assert.deepEqual(await pools('metal-p'), ['local']);
      // Names from outside are checked.
      const bad = await t.call(cred, 'POST', '/v1/agents/heartbeat', {
        pools: [{ name: '../x', kind: 'local' }],
      });
      assert.equal(bad.status, 400);
      const odd = await t.call(cred, 'POST', '/v1/agents/heartbeat', {
        pools: [{ name: 'nas', kind: 'nfs' }],
      });
      assert.equal(odd.status, 400);
    });
  });
}
