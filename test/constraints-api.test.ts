/**
 * Placement constraints through the API: every path that moves a VM honours them (issue 10). Each
 * of the first five tests fails on the code before the one scheduler: plans, `migrate --to`, drain
 * and HA evacuation ignored server groups and zone/tier pins, and plans crossed zones.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { controlPlane, storeBackends } from './helpers/control.ts';

type Api = Awaited<ReturnType<typeof controlPlane>>;
interface HostSpec {
  name: string;
  zone?: string;
  tier?: string;
  rack?: string;
}
interface VmOut {
  id: string;
  name: string;
  hostId: string | null;
  state: string;
}

for (const backend of storeBackends()) {
  describe(`placement constraints through the API on ${backend.name}`, () => {
    if (backend.skip) return void test(`every test on ${backend.name}`, { skip: backend.skip });
    const open: { close: () => Promise<void> }[] = [];
    after(async () => {
      for (const x of open) await x.close();
    });

    /** A fresh control plane on a fresh database, with these hosts (16 vCPUs, 32 GiB each). */
    const world = async (hosts: HostSpec[]) => {
      const s = await backend.url();
      const t: Api = await controlPlane(s.url, 0);
      open.push({ close: async () => (await t.close(), await s.drop()) });
      const a = t.adminToken;
      const ids: Record<string, string> = {};
      for (const h of hosts) {
        const r = await t.call(a, 'POST', '/v1/hosts', { vcpus: 16, memoryMiB: 32768, diskGiB: 500, ...h });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        ids[h.name] = r.body.id;
      }
      const vm = async (name: string, body: Record<string, unknown> = {}) => {
        const r = await t.call(a, 'POST', '/v1/vms', { name, flavor: 'm1.small', image: 'tiny', ...body });
        assert.equal(r.status, 202, JSON.stringify(r.body));
        return r.body.vmId as string;
      };
      const vms = async () => (await t.call(a, 'GET', '/v1/vms')).body as VmOut[];
      const hostOf = async (id: string) => (await vms()).find((v) => v.id === id)!.hostId;
      const group = async (name: string, policy: string) =>
        assert.equal((await t.call(a, 'POST', '/v1/server-groups', { name, policy })).status, 201);
      return { t, a, ids, vm, vms, hostOf, group };
    };

    test('an applied consolidation plan never puts a hard anti-affinity group together', async () => {
      const w = await world([{ name: 'h1' }, { name: 'h2' }, { name: 'h3' }, { name: 'h4' }]);
      await w.group('web', 'anti-affinity');
      const web = [];
      for (let i = 1; i <= 3; i++) web.push(await w.vm(`web-${i}`, { serverGroup: 'web', preset: 'spread' }));
      await w.vm('other', { preset: 'spread' });
      const plan = (await w.t.call(w.a, 'POST', '/v1/plans', { spareHosts: 0 })).body;
      const applied = (await w.t.call(w.a, 'POST', `/v1/plans/${plan.id}/apply`)).body;
      assert.ok(
        ['applied', 'empty'].includes(applied.status) || plan.status === 'empty',
        JSON.stringify(applied),
      );
      const where = await Promise.all(web.map((id) => w.hostOf(id)));
      assert.equal(new Set(where).size, 3, `web VMs on ${where.join(', ')}`);
      // The plan still consolidates what it may: "other" joins a web VM's host.
      assert.ok(where.includes(await w.hostOf((await w.vms()).find((v) => v.name.startsWith('other'))!.id)));
    });

    test('migrate --to a host that breaks anti-affinity is refused with 409 naming the group and the VMs', async () => {
      const w = await world([{ name: 'h1' }, { name: 'h2' }, { name: 'h3' }]);
      await w.group('db', 'anti-affinity');
      const a = await w.vm('db-1', { serverGroup: 'db' });
      const b = await w.vm('db-2', { serverGroup: 'db' });
      const first = await w.hostOf(a);
      const target = await w.hostOf(b);
      const r = await w.t.call(w.a, 'POST', `/v1/vms/${a}/migrate`, { toHost: target });
      assert.equal(r.status, 409);
      assert.equal(r.body.code, 'CONSTRAINT_VIOLATED');
      assert.match(r.body.message, /anti-affinity "db": db-1 may not share/);
      assert.match(r.body.message, /with db-2/);
      assert.equal(await w.hostOf(a), first, 'the VM stays');
      // An operator's move in a plan is judged by the same checkers.
      const moves = await w.t.call(w.a, 'POST', '/v1/plans', { moves: [{ vm: a, to: target }] });
      assert.equal(moves.status, 409);
      assert.equal(moves.body.code, 'CONSTRAINT_VIOLATED');
      assert.match(moves.body.message, /db-1 may not move to .*: anti-affinity "db": db-1 may not share/);
      assert.equal(moves.body.constraint.name, 'db');
      assert.deepEqual([...moves.body.vms].sort(), ['db-1', 'db-2']);
      // A host that keeps the group apart is fine.
      const third = [w.ids.h1, w.ids.h2, w.ids.h3].find((h) => h !== target && h !== first)!;
      const ok = await w.t.call(w.a, 'POST', `/v1/vms/${a}/migrate`, { toHost: third });
      assert.equal(ok.status, 202, JSON.stringify(ok.body));
      assert.equal(ok.body.status, 'succeeded');
      assert.equal(await w.hostOf(a), third);
    });

    test('drain never moves a VM pinned to zone-2 and tier gpu into zone-1; with nowhere to go it stays, naming the pin', async () => {
      const w = await world([
        { name: 'z1-a', zone: 'zone-1', tier: 'gpu' },
        { name: 'z1-b', zone: 'zone-1' },
        { name: 'z2-a', zone: 'zone-2', tier: 'gpu' },
        { name: 'z2-b', zone: 'zone-2', tier: 'gpu' },
        { name: 'z2-c', zone: 'zone-2' },
      ]);
      // Fill zone-1's gpu host so that packing would prefer it.
      await w.vm('fill', { zone: 'zone-1', tier: 'gpu', flavor: 'm1.xlarge' });
      const gpu = await w.vm('gpu-1', { zone: 'zone-2', tier: 'gpu' });
      const first = await w.hostOf(gpu);
      assert.ok(first === w.ids['z2-a'] || first === w.ids['z2-b']);
      const drain = (await w.t.call(w.a, 'POST', `/v1/hosts/${first}/drain`)).body;
      assert.deepEqual(drain.stuck, []);
      const second = await w.hostOf(gpu);
      assert.equal(
        second,
        first === w.ids['z2-a'] ? w.ids['z2-b'] : w.ids['z2-a'],
        'to the other zone-2 gpu host',
      );
      const again = (await w.t.call(w.a, 'POST', `/v1/hosts/${second}/drain`)).body;
      assert.equal(again.stuck.length, 1);
      assert.match(again.stuck[0].reason, /fence "(zone|tier) pin"/);
      assert.equal(await w.hostOf(gpu), second);
    });

    test('plans never move VMs across zones', async () => {
      const w = await world([
        { name: 'a1', zone: 'zone-1' },
        { name: 'b1', zone: 'zone-2' },
        { name: 'b2', zone: 'zone-2' },
      ]);
      await w.vm('x', { zone: 'zone-1' });
      await w.vm('y', { zone: 'zone-2', preset: 'spread' });
      await w.vm('z', { zone: 'zone-2', preset: 'spread' });
      // An unpinned VM in zone-1 stays there too.
      await w.vm('free', { preset: 'first-fit' });
      const zoneOf = new Map([
        [w.ids.a1, 'zone-1'],
        [w.ids.b1, 'zone-2'],
        [w.ids.b2, 'zone-2'],
      ]);
      for (const policy of ['reservation', 'spread:0.01']) {
        const plan = (await w.t.call(w.a, 'POST', '/v1/plans', { spareHosts: 0, policy })).body;
        for (const m of plan.actions.filter((x: { type: string }) => x.type === 'migrate'))
          assert.equal(zoneOf.get(m.to), zoneOf.get(m.from), `${policy}: ${m.vmName} ${m.from} → ${m.to}`);
        if (policy === 'reservation')
          assert.ok(
            plan.actions.some(
              (x: { type: string; from?: string }) =>
                x.type === 'migrate' && zoneOf.get(x.from!) === 'zone-2',
            ),
            'zone-2 is still consolidated within itself',
          );
      }
    });

    test('HA evacuation honours anti-affinity: the restarted VM avoids its group and fails rather than join it', async () => {
      const w = await world([{ name: 'h1' }, { name: 'h2' }, { name: 'h3' }]);
      await w.group('ha', 'anti-affinity');
      const a = await w.vm('a', { serverGroup: 'ha', ha: true, preset: 'first-fit' });
      const b = await w.vm('b', { serverGroup: 'ha', ha: true, preset: 'first-fit' });
      const ha = await w.hostOf(a);
      const hb = await w.hostOf(b);
      assert.notEqual(ha, hb);
      assert.equal((await w.t.call(w.a, 'PATCH', `/v1/hosts/${ha}`, { state: 'failed' })).status, 200);
      const now = await w.hostOf(a);
      assert.notEqual(now, hb, 'not onto the host of b');
      assert.notEqual(now, ha);
      // Fail the third host as well: a has nowhere to go but b's host, which its group forbids.
      assert.equal((await w.t.call(w.a, 'PATCH', `/v1/hosts/${now}`, { state: 'failed' })).status, 200);
      assert.notEqual(await w.hostOf(a), hb);
      const events = (await w.t.call(w.a, 'GET', `/v1/events?vm=${a}`)).body as {
        kind: string;
        detail: { reason?: string };
      }[];
      const failed = events.find((e) => e.kind === 'vm.ha.failed');
      assert.ok(failed, JSON.stringify(events.map((e) => e.kind)));
      assert.match(failed.detail.reason!, /anti-affinity "ha/);
    });

    test('constraints API: create by VM names, list and show with what breaks them, join at create, dry run names them, tenant scoped, delete', async () => {
      const w = await world([
        { name: 'r1-a', rack: 'r1' },
        { name: 'r1-b', rack: 'r1' },
        { name: 'r2-a', rack: 'r2' },
      ]);
      const { t, a } = w;
      await t.call(a, 'POST', '/v1/tenants', { name: 'acme' });
      const u = await t.call(a, 'POST', '/v1/users', { tenant: 'acme', name: 'ann', role: 'member' });
      const ann = (await t.call(a, 'POST', '/v1/tokens', { name: 'ann', userId: u.body.id })).body
        .token as string;
      const d1 = (
        await t.call(ann, 'POST', '/v1/vms', {
          name: 'd1',
          flavor: 'm1.small',
          image: 'tiny',
          preset: 'first-fit',
        })
      ).body.vmId as string;
      const d2 = (
        await t.call(ann, 'POST', '/v1/vms', {
          name: 'd2',
          flavor: 'm1.small',
          image: 'tiny',
          preset: 'first-fit',
        })
      ).body.vmId as string;
      // Both on r1-a (first fit): a one-per-rack spread is broken now, and says so.
      const c = await t.call(ann, 'POST', '/v1/constraints', {
        name: 'db-racks',
        type: 'spread',
        over: 'rack',
        vms: ['d1', 'd2'],
      });
      assert.equal(c.status, 201, JSON.stringify(c.body));
      assert.deepEqual(
        c.body.vms.map((v: { name: string }) => v.name),
        ['d1', 'd2'],
      );
      assert.equal(c.body.violations.length, 1);
      assert.match(c.body.violations[0], /spread "db-racks": d1, d2 in rack r1 \(at most 1 per rack\)/);
      assert.equal((await t.call(ann, 'GET', '/v1/constraints')).body.length, 1);
      assert.equal((await t.call(ann, 'GET', '/v1/constraints/db-racks')).body.id, c.body.id);
      // Moving d2 to rack r2 mends it; moving it back within r1 is refused.
      assert.equal((await t.call(a, 'POST', `/v1/vms/${d2}/migrate`, { toHost: w.ids['r2-a'] })).status, 202);
      assert.deepEqual((await t.call(ann, 'GET', `/v1/constraints/${c.body.id}`)).body.violations, []);
      const back = await t.call(a, 'POST', `/v1/vms/${d2}/migrate`, { toHost: w.ids['r1-b'] });
      assert.equal(back.status, 409);
      assert.match(
        back.body.message,
        /d2 may not run on r1-b.*: spread "db-racks": d2 may not join d1 in rack r1/,
      );
      // A new VM joins the constraint: racks r1 and r2 are taken, so no host fits, naming it.
      const dry = await t.call(ann, 'POST', '/v1/vms', {
        name: 'd3',
        flavor: 'm1.small',
        image: 'tiny',
        constraints: ['db-racks'],
        dryRun: true,
      });
      assert.equal(dry.status, 200);
      // The member is told it does not fit and which filter refused, counted, never which host.
      assert.equal(dry.body.hostId, undefined);
      assert.equal(dry.body.fits, false);
      assert.deepEqual(Object.keys(dry.body.rejectedByFilter), ['ConstraintFilter']);
      assert.doesNotMatch(JSON.stringify(dry.body), /r1-a|r2-a|rack r/);
      const d3 = await t.call(ann, 'POST', '/v1/vms', {
        name: 'd3',
        flavor: 'm1.small',
        image: 'tiny',
        constraints: ['db-racks'],
      });
      assert.equal(d3.status, 409);
      assert.equal(d3.body.code, 'NO_HOST_FITS');
      // Another tenant sees nothing; members may not name hosts; bad parameters say what is accepted.
      assert.equal((await t.call(a, 'GET', '/v1/constraints')).body.length, 1, 'admins see every tenant');
      const bobU = await t.call(a, 'POST', '/v1/users', { tenant: 'admin', name: 'bob', role: 'member' });
      const bob = (await t.call(a, 'POST', '/v1/tokens', { name: 'bob', userId: bobU.body.id })).body
        .token as string;
      assert.equal((await t.call(bob, 'GET', `/v1/constraints/${c.body.id}`)).status, 404);
      assert.equal((await t.call(bob, 'DELETE', `/v1/constraints/${c.body.id}`)).status, 404);
      assert.equal(
        (await t.call(bob, 'POST', '/v1/constraints', { name: 'x', type: 'ban', vms: [d1] })).status,
        404,
      );
      const hosts = await t.call(ann, 'POST', '/v1/constraints', { name: 'h', type: 'ban', hosts: ['r1-a'] });
      assert.equal(hosts.status, 403);
      assert.match(hosts.body.message, /where: zone, rack, tier or datacenter/);
      const bad = await t.call(ann, 'POST', '/v1/constraints', { name: 'm', type: 'max-per-host' });
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /max-per-host needs max/);
      assert.equal((await t.call(ann, 'DELETE', '/v1/constraints/db-racks')).status, 204);
      assert.equal((await t.call(ann, 'GET', `/v1/constraints/${c.body.id}`)).status, 404);
    });

    test('server groups with a cap per host: at most two members share a host', async () => {
      const w = await world([{ name: 'h1' }, { name: 'h2' }]);
      const g = await w.t.call(w.a, 'POST', '/v1/server-groups', {
        name: 'pairs',
        policy: 'soft-affinity',
        maxPerHost: 2,
      });
      assert.equal(g.status, 201);
      assert.equal(g.body.maxPerHost, 2);
      const ids = [];
      for (let i = 0; i < 4; i++) ids.push(await w.vm(`p${i}`, { serverGroup: 'pairs' }));
      const where = await Promise.all(ids.map((id) => w.hostOf(id)));
      // Soft affinity prefers one host, the hard cap allows two there.
      assert.deepEqual(
        [...new Set(where)].map((h) => where.filter((x) => x === h).length),
        [2, 2],
      );
      const r = await w.t.call(w.a, 'POST', '/v1/vms', {
        name: 'p4',
        flavor: 'm1.small',
        image: 'tiny',
        serverGroup: 'pairs',
      });
      assert.equal(r.status, 409);
      assert.match(r.body.message, /max-per-host .*at most 2 per host/);
    });
  });
}
