/**
 * GET /v1/datacenter/summary: the data-center page's one answer agrees with the full lists (every
 * host's state, rack, zone, load, allocation and VM count as /v1/hosts gives them; VM counts as
 * /v1/overview), and members see their own VM counts and no host.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { firstSample } from '../src/control/inventory/summary.ts';
import { controlPlane, storeBackends } from './helpers/control.ts';

test('firstSample reads the first number of a history as JSON.parse does', () => {
  fc.assert(
    fc.property(fc.array(fc.double({ noNaN: true, noDefaultInfinity: true, min: 0, max: 4 })), (xs) => {
      const s = JSON.stringify(xs);
      assert.equal(firstSample(s), (JSON.parse(s) as number[])[0] ?? 0);
    }),
  );
  assert.equal(firstSample('[]'), 0);
  assert.equal(firstSample('[ 0.5 , 0.25 ]'), 0.5);
});

for (const backend of storeBackends()) {
  describe(`datacenter summary on ${backend.name}`, () => {
    if (backend.skip) return void test(`every test on ${backend.name}`, { skip: backend.skip });
    let t: Awaited<ReturnType<typeof controlPlane>>;
    let drop: () => Promise<void>;
    const tok: Record<string, string> = {};
    before(async () => {
      const s = await backend.url();
      drop = s.drop;
      t = await controlPlane(s.url, 5);
      tok.admin = t.adminToken;
      for (const tenant of ['acme', 'globex'])
        assert.equal((await t.call(tok.admin, 'POST', '/v1/tenants', { name: tenant })).status, 201);
      for (const [tenant, user, role] of [
        ['acme', 'ann', 'member'],
        ['acme', 'otto', 'operator'],
        ['globex', 'bob', 'member'],
      ] as const) {
        const u = await t.call(tok.admin, 'POST', '/v1/users', { tenant, name: user, role });
        assert.equal(u.status, 201);
        tok[user] = (
          await t.call(tok.admin, 'POST', '/v1/tokens', { name: `${user}-cli`, userId: u.body.id })
        ).body.token;
      }
      for (const [who, n] of [
        ['ann', 3],
        ['bob', 2],
      ] as const)
        for (let i = 0; i < n; i++)
          assert.equal(
            (
              await t.call(tok[who], 'POST', '/v1/vms', {
                name: `${who}-${i}`,
                flavor: 'm1.small',
                image: 'tiny',
              })
            ).status,
            202,
          );
      const hosts = (await t.call(tok.admin, 'GET', '/v1/hosts')).body as { id: string }[];
      assert.equal(
        (await t.call(tok.admin, 'PATCH', `/v1/hosts/${hosts[4]!.id}`, { state: 'off' })).status,
        200,
      );
      await t.cp.recordMetrics(
        t.admin,
        (await t.cp.listVms(t.admin)).map((v, i) => ({ vm: v.id, cpu: 0.1 + i / 10 })),
      );
    });
    after(async () => {
      await t.close();
      await drop();
    });

    test('host columns agree with /v1/hosts, host by host; VM counts with /v1/overview', async () => {
      for (const who of ['admin', 'otto']) {
        const s = await t.call(tok[who], 'GET', '/v1/datacenter/summary');
        assert.equal(s.status, 200);
        const hosts = (await t.call(tok[who], 'GET', '/v1/hosts')).body as {
          id: string;
          name: string;
          state: string;
          datacenter: string;
          rack: string;
          zone: string;
          cpu: number;
          powerW: number;
          vms: number;
          used: Record<string, number>;
          capacity: Record<string, number>;
        }[];
        const c = s.body.hosts.columns;
        assert.equal(s.body.hosts.total, hosts.length);
        assert.deepEqual(
          hosts.map((h) => h.name),
          c.name,
          'in name order',
        );
        hosts.forEach((h, i) => {
          assert.equal(c.id[i], h.id);
          assert.equal(c.state[i], h.state);
          assert.equal(c.racks[c.rack[i]], `${h.datacenter} / ${h.rack}`);
          assert.equal(c.zones[c.zone[i]], h.zone);
          assert.equal(c.cpu[i], Math.round(h.cpu * 1000) / 1000);
          assert.equal(c.powerW[i], Math.round(h.powerW));
          assert.equal(c.vms[i], h.vms);
          for (const d of ['vcpus', 'memoryMiB', 'diskGiB']) {
            assert.equal(c.used[d][i], h.used[d]);
            assert.equal(c.capacity[d][i], h.capacity[d]);
          }
        });
        assert.ok(
          c.cpu.some((x: number) => x > 0),
          'measured load is in the columns',
        );
        assert.equal(c.state.filter((x: string) => x === 'off').length, 1);
        const o = (await t.call(tok[who], 'GET', '/v1/overview')).body;
        assert.deepEqual(s.body.vms, o.vms);
        assert.deepEqual(s.body.hosts.byState, o.hosts.byState);
      }
    });

    test("members see their tenant's VM counts and no host", async () => {
      const ann = await t.call(tok.ann, 'GET', '/v1/datacenter/summary');
      assert.equal(ann.status, 200);
      assert.deepEqual(Object.keys(ann.body), ['vms']);
      assert.equal(ann.body.vms.total, 3);
      const bob = await t.call(tok.bob, 'GET', '/v1/datacenter/summary');
      assert.equal(bob.body.vms.total, 2);
      assert.equal(JSON.stringify(bob.body).includes('sim-'), false, 'no host name anywhere');
      assert.equal((await t.call(undefined, 'GET', '/v1/datacenter/summary')).status, 401);
    });
  });
}
