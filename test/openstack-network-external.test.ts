/**
 * Neutron's external networks on nubis (issue 16): made bare by an admin (`router:external`), the
 * floating IP pool coming with its subnet, every project sees them; a network without ports turns
 * external (or back) by update.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { controlPlane, storeBackends } from './helpers/control.ts';

type Api = Awaited<ReturnType<typeof controlPlane>>;
const N = '/openstack/network';

for (const backend of storeBackends()) {
  describe(`Neutron external networks on ${backend.name}`, () => {
    if (backend.skip) return void test(`every test on ${backend.name}`, { skip: backend.skip });
    const open: { close: () => Promise<void> }[] = [];
    after(async () => {
      for (const x of open) await x.close();
    });

    /** A control plane with one project (acme: ann, a member). */
    const world = async () => {
      const s = await backend.url();
      const t: Api = await controlPlane(s.url, 1);
      open.push({ close: async () => (await t.close(), await s.drop()) });
      await t.call(t.adminToken, 'POST', '/v1/tenants', { name: 'acme' });
      const u = await t.call(t.adminToken, 'POST', '/v1/users', {
        tenant: 'acme',
        name: 'ann',
        role: 'member',
      });
      const tok: Record<string, string> = {
        admin: t.adminToken,
        ann: (await t.call(t.adminToken, 'POST', '/v1/tokens', { name: 'tk', userId: u.body.id })).body.token,
      };
      const call = (who: string, method: string, url: string, body?: unknown) =>
        t.call(undefined, method, `${N}${url}`, body, { 'x-auth-token': tok[who]! });
      const ok = async (who: string, method: string, url: string, body?: unknown) => {
        const r = await call(who, method, url, body);
        assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${JSON.stringify(r.body)}`);
        return r.body;
      };
      const fails = async (who: string, method: string, url: string, body: unknown, status: number) => {
        const r = await call(who, method, url, body);
        assert.equal(r.status, status, `${method} ${url}: ${r.status} ${JSON.stringify(r.body)}`);
        return r.body.NeutronError.message as string;
      };
      return { t, tok, call, ok, fails };
    };

    test('an admin makes an external network bare; its subnet brings the floating IP pool', async () => {
      const w = await world();
      await w.fails(
        'ann',
        'POST',
        '/v2.0/networks',
        { network: { name: 'x', 'router:external': true } },
        403,
      );
      const ext = (
        await w.ok('admin', 'POST', '/v2.0/networks', { network: { name: 'ext', 'router:external': true } })
      ).network;
      assert.equal(ext['router:external'], true);
      assert.deepEqual(ext.subnets, []);
      // Every project sees it, as external.
      const listed = (await w.ok('ann', 'GET', '/v2.0/networks')).networks;
      assert.equal(listed.find((n: { id: string }) => n.id === ext.id)?.['router:external'], true);
      assert.equal((await w.ok('ann', 'GET', `/v2.0/networks/${ext.id}`)).network['router:external'], true);
      // No subnet, no pool: no floating IP yet.
      const none = await w.t.call(w.tok.ann, 'POST', '/v1/floating-ips', { network: ext.id });
      assert.equal(none.status, 400, JSON.stringify(none.body));
      const sub = (
        await w.ok('admin', 'POST', '/v2.0/subnets', {
          subnet: { network_id: ext.id, cidr: '203.0.113.0/24', ip_version: 4 },
        })
      ).subnet;
      const fip = await w.t.call(w.tok.ann, 'POST', '/v1/floating-ips', { network: ext.id });
      assert.equal(fip.status, 201, JSON.stringify(fip.body));
      assert.match(fip.body.ip, /^203\.0\.113\./);
      // The subnet stays while a floating IP holds one of its addresses.
      await w.fails('admin', 'DELETE', `/v2.0/subnets/${sub.id}`, undefined, 409);
      assert.equal((await w.t.call(w.tok.ann, 'DELETE', `/v1/floating-ips/${fip.body.id}`)).status, 204);
      assert.equal((await w.call('admin', 'DELETE', `/v2.0/subnets/${sub.id}`)).status, 204);
      const again = await w.t.call(w.tok.ann, 'POST', '/v1/floating-ips', { network: ext.id });
      assert.equal(again.status, 400, JSON.stringify(again.body));
    });

    test('a network without ports turns external by update (admins only), one with ports keeps its kind', async () => {
      const w = await world();
      const net = (await w.ok('ann', 'POST', '/v2.0/networks', { network: { name: 'n1' } })).network;
      assert.equal(net['router:external'], false);
      await w.fails('ann', 'PUT', `/v2.0/networks/${net.id}`, { network: { 'router:external': true } }, 403);
      const made = (
        await w.ok('admin', 'PUT', `/v2.0/networks/${net.id}`, { network: { 'router:external': true } })
      ).network;
      assert.equal(made['router:external'], true);
      const back = (
        await w.ok('admin', 'PUT', `/v2.0/networks/${net.id}`, { network: { 'router:external': false } })
      ).network;
      assert.equal(back['router:external'], false);
      await w.ok('ann', 'POST', '/v2.0/subnets', { subnet: { network_id: net.id, cidr: '10.9.0.0/24' } });
      await w.ok('ann', 'POST', '/v2.0/ports', { port: { network_id: net.id } });
      await w.fails(
        'admin',
        'PUT',
        `/v2.0/networks/${net.id}`,
        { network: { 'router:external': true } },
        409,
      );
    });
  });
}
