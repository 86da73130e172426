import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { controlPlane, storeBackends } from './helpers/control.ts';

for (const backend of storeBackends()) {
  describe(`control plane API on ${backend.name}`, () => {
    if (backend.skip) return void test(`every test on ${backend.name}`, { skip: backend.skip });
    let t: Awaited<ReturnType<typeof controlPlane>>;
    let drop: () => Promise<void>;
    const tok: Record<string, string> = {};
    before(async () => {
      const s = await backend.url();
      drop = s.drop;
      t = await controlPlane(s.url, 4);
      tok.admin = t.adminToken;
      for (const [tenant, quotas] of [
        ['acme', { vms: 5 }],
        ['globex', {}],
      ] as const)
        assert.equal((await t.call(tok.admin, 'POST', '/v1/tenants', { name: tenant, quotas })).status, 201);
      for (const [tenant, user, role] of [
        ['acme', 'ann', 'member'],
        ['acme', 'rita', 'reader'],
        ['acme', 'otto', 'operator'],
        ['globex', 'bob', 'member'],
      ]) {
        const u = await t.call(tok.admin, 'POST', '/v1/users', { tenant, name: user, role });
        assert.equal(u.status, 201);
        tok[user!] = (
          await t.call(tok.admin, 'POST', '/v1/tokens', { name: `${user}-cli`, userId: u.body.id })
        ).body.token;
      }
    });
    after(async () => {
      await t.close();
      await drop();
    });

    test('the auth matrix: each role and tenant against each endpoint', async () => {
      const vm = await t.call(tok.ann, 'POST', '/v1/vms', {
        name: 'matrix',
        flavor: 'm1.small',
        image: 'tiny',
      });
      assert.equal(vm.status, 202);
      const id = vm.body.vmId;
      const rows: [string, string, string, unknown, Record<string, number>][] = [
        // method, path, what, body, expected status per caller (none = no token)
        [
          'GET',
          '/v1/hosts',
          'hosts are for operators',
          undefined,
          { admin: 200, otto: 200, ann: 403, rita: 403, bob: 403, none: 401 },
        ],
        [
          'POST',
          '/v1/tenants',
          'tenants are for admins',
          { name: 'x1' },
          { admin: 201, otto: 403, ann: 403, rita: 403, none: 401 },
        ],
        [
          'GET',
          `/v1/vms/${id}`,
          'a VM is visible to its tenant and to operators; another tenant gets 404',
          undefined,
          { admin: 200, otto: 200, ann: 200, rita: 200, bob: 404, none: 401 },
        ],
        [
          'POST',
          `/v1/vms/${id}/actions`,
          'readers cannot act; another tenant gets 404',
          { action: 'reboot' },
          { rita: 403, bob: 404, otto: 403, ann: 202 },
        ],
        [
          'POST',
          '/v1/vms',
          'readers and operators cannot create',
          { name: 'm2', flavor: 'm1.tiny', image: 'tiny' },
          { rita: 403, otto: 403, bob: 202 },
        ],
        [
          'GET',
          '/v1/flavors',
          'flavors are for everyone signed in',
          undefined,
          { ann: 200, rita: 200, bob: 200, none: 401 },
        ],
        [
          'POST',
          '/v1/flavors',
          'flavors are created by admins',
          { name: 'f9', vcpus: 1, memoryMiB: 128, diskGiB: 1 },
          { ann: 403, otto: 403, admin: 201 },
        ],
      ];
      for (const [method, path, what, body, expect] of rows) {
        for (const [who, status] of Object.entries(expect)) {
          const r = await t.call(who === 'none' ? undefined : tok[who], method, path, body);
          assert.equal(r.status, status, `${method} ${path} as ${who} (${what}): ${JSON.stringify(r.body)}`);
        }
      }
      // Members see only their tenant's VMs.
      const listed = (await t.call(tok.bob, 'GET', '/v1/vms')).body.map((v: { name: string }) => v.name);
      assert.deepEqual(listed, ['m2']);
    });

    test('a VM goes through its lifecycle; impossible transitions are 409 naming the state', async () => {
      const op = await t.call(tok.ann, 'POST', '/v1/vms', {
        name: 'life',
        flavor: 'm1.medium',
        image: 'tiny',
      });
      assert.equal(op.body.status, 'succeeded');
      const id = op.body.vmId;
      let vm = (await t.call(tok.ann, 'GET', `/v1/vms/${id}`)).body;
      assert.equal(vm.state, 'running');
      assert.deepEqual(vm.allowedActions, [
        'stop',
        'reboot',
        'suspend',
        'snapshot',
        'restore',
        'resize',
        'clone',
        'delete',
      ]);
      assert.equal((await t.sim.get(id))!.state, 'running', 'the hypervisor runs it');
      assert.equal((await t.call(tok.ann, 'POST', `/v1/vms/${id}/actions`, { action: 'stop' })).status, 202);
      vm = (await t.call(tok.ann, 'GET', `/v1/vms/${id}`)).body;
      assert.equal(vm.state, 'stopped');
      const again = await t.call(tok.ann, 'POST', `/v1/vms/${id}/actions`, { action: 'stop' });
      assert.equal(again.status, 409);
      assert.match(
        again.body.message,
        /Cannot stop VM "life" .*: it is stopped; allowed now: start, snapshot, restore, resize, clone, delete/,
      );
      assert.equal(
        (await t.call(tok.ann, 'POST', `/v1/vms/${id}/actions`, { action: 'start' })).body.status,
        'succeeded',
      );
      assert.equal((await t.call(tok.ann, 'DELETE', `/v1/vms/${id}`)).status, 202);
      assert.equal((await t.call(tok.ann, 'GET', `/v1/vms/${id}`)).status, 404);
      assert.equal(await t.sim.get(id), undefined);
      const kinds = (await t.call(tok.ann, 'GET', `/v1/events?vm=${id}`)).body
        .map((e: { kind: string }) => e.kind)
        .reverse();
      assert.deepEqual(kinds, [
        'vm.placed',
        'vm.running',
        'vm.stop.requested',
        'vm.stopped',
        'vm.start.requested',
        'vm.running',
        'vm.delete.requested',
        'vm.deleted',
      ]);
    });

    test('snapshot and restore, resize running (with a restart) and stopped (cold, within the host), clone', async () => {
      const id = (await t.call(tok.bob, 'POST', '/v1/vms', { name: 'rs', flavor: 'm1.small', image: 'tiny' }))
        .body.vmId;
      assert.equal(
        (await t.call(tok.bob, 'POST', `/v1/vms/${id}/actions`, { action: 'snapshot', snapshotName: 's1' }))
          .body.status,
        'succeeded',
      );
      assert.equal(
        (await t.call(tok.bob, 'POST', `/v1/vms/${id}/actions`, { action: 'restore', snapshotName: 's1' }))
          .body.status,
        'succeeded',
      );
      assert.equal(
        (await t.call(tok.bob, 'POST', `/v1/vms/${id}/actions`, { action: 'restore' })).status,
        400,
      );
      // Running, 1 → 2 vCPUs: the driver cannot add vCPUs live, so it restarts with the new size.
      const hot = (
        await t.call(tok.bob, 'POST', `/v1/vms/${id}/actions`, { action: 'resize', flavor: 'm1.medium' })
      ).body;
      assert.equal(hot.status, 'succeeded', JSON.stringify(hot));
      assert.equal(hot.result.how, 'restart');
      assert.equal((await t.call(tok.bob, 'GET', `/v1/vms/${id}`)).body.state, 'running');
      assert.equal((await t.sim.get(id))!.spec.vcpus, 2);
      await t.call(tok.bob, 'POST', `/v1/vms/${id}/actions`, { action: 'stop' });
      const hostBefore = (
        await t.call(
          tok.admin,
          'GET',
          `/v1/hosts/${(await t.call(tok.admin, 'GET', `/v1/vms/${id}`)).body.hostId}`,
        )
      ).body.used;
      assert.equal(
        (await t.call(tok.bob, 'POST', `/v1/vms/${id}/actions`, { action: 'resize', flavor: 'm1.large' }))
          .body.status,
        'succeeded',
      );
      const vm = (await t.call(tok.bob, 'GET', `/v1/vms/${id}`)).body;
      assert.equal(vm.flavor, 'm1.large');
      assert.equal(vm.hostId, undefined, 'members do not see hosts');
      const hostAfter = (
        await t.call(
          tok.admin,
          'GET',
          `/v1/hosts/${(await t.call(tok.admin, 'GET', `/v1/vms/${id}`)).body.hostId}`,
        )
      ).body.used;
      // m1.medium → m1.large: +2 vCPUs, +4096 MiB, +40 GiB on the same host
      assert.deepEqual(
        {
          v: hostAfter.vcpus - hostBefore.vcpus,
          m: hostAfter.memoryMiB - hostBefore.memoryMiB,
          d: hostAfter.diskGiB - hostBefore.diskGiB,
        },
        { v: 2, m: 4096, d: 40 },
      );
      assert.equal((await t.sim.get(id))!.spec.memoryMiB, 8192, 'the hypervisor definition follows');
      const clone = await t.call(tok.bob, 'POST', `/v1/vms/${id}/actions`, {
        action: 'clone',
        name: 'rs-copy',
      });
      assert.equal(clone.body.status, 'succeeded');
      assert.equal((await t.call(tok.bob, 'GET', `/v1/vms/${clone.body.vmId}`)).body.flavor, 'm1.large');
    });

    test('quotas refuse with what is used and what is left', async () => {
      // acme may have 5 VMs; matrix, life (deleted) and these
      const made: number[] = [];
      for (let i = 0; i < 6; i++)
        made.push(
          (await t.call(tok.ann, 'POST', '/v1/vms', { name: `q${i}`, flavor: 'm1.tiny', image: 'tiny' }))
            .status,
        );
      const refused = await t.call(tok.ann, 'POST', '/v1/vms', {
        name: 'qx',
        flavor: 'm1.tiny',
        image: 'tiny',
      });
      assert.equal(refused.status, 403);
      assert.equal(refused.body.code, 'QUOTA_EXCEEDED');
      assert.match(refused.body.message, /Quota exceeded for vms: used 5 of 5, requested 1, left 0/);
      assert.equal(made.filter((s) => s === 202).length, 4);
    });

    test('no host fits: the answer gives every host and filter; dry-run answers without creating', async () => {
      // within globex's quota (256 GiB) but larger than any host (128 GiB, 1 GiB reserved)
      await t.call(tok.admin, 'POST', '/v1/flavors', {
        name: 'huge',
        vcpus: 1,
        memoryMiB: 200000,
        diskGiB: 1,
      });
      const r = await t.call(tok.bob, 'POST', '/v1/vms', { name: 'huge1', flavor: 'huge', image: 'tiny' });
      assert.equal(r.status, 409);
      assert.equal(r.body.code, 'NO_HOST_FITS');
      // A member is told why by counts per filter, never which host.
      assert.equal(r.body.rejected, undefined);
      assert.deepEqual(r.body.rejectedByFilter, { CapacityFilter: 4 });
      assert.match(r.body.message, /No host has room for 1 vCPUs \/ 195\.3 GiB now \(CapacityFilter 4\)/);
      assert.doesNotMatch(r.body.message, /node-|MiB free/);
      // An admin sees every host and filter.
      const a = await t.call(tok.admin, 'POST', '/v1/vms', { name: 'huge2', flavor: 'huge', image: 'tiny' });
      assert.equal(a.body.rejected.length, 4);
      for (const x of a.body.rejected)
        assert.match(
          `${x.filter}: ${x.reason}`,
          /CapacityFilter: needs 200000 MiB memory, \d+ MiB free \(×1 overcommit\)/,
        );
      const req = { name: 'd1', flavor: 'm1.large', image: 'tiny', dryRun: true, preset: 'spread' };
      const dry = await t.call(tok.bob, 'POST', '/v1/vms', req);
      assert.equal(dry.status, 200);
      assert.equal(dry.body.hostId, undefined);
      assert.equal(dry.body.fits, true);
      assert.match(dry.body.explanation, /a host has room for 4 vCPUs \/ 8 GiB \(4 of 4 suitable\)/);
      const adminDry = await t.call(tok.admin, 'POST', '/v1/vms', req);
      assert.ok(adminDry.body.hostId);
      assert.match(adminDry.body.explanation, /spread score/);
      assert.ok(
        !(await t.call(tok.bob, 'GET', '/v1/vms')).body.some((v: { name: string }) => v.name === 'd1'),
      );
    });

    test('racing creates cannot take the same last room on a host', async () => {
      // Leave one host up with room for exactly 3 m1.xlarge (8 vCPUs, 16 GiB): 128 GiB − 1 GiB reserved − 64 GiB used.
      const hosts = (await t.call(tok.admin, 'GET', '/v1/hosts')).body;
      for (const h of hosts.slice(1))
        await t.call(tok.admin, 'PATCH', `/v1/hosts/${h.id}`, { state: 'maintenance' });
      await t.call(tok.admin, 'POST', '/v1/tenants', {
        name: 'racers',
        quotas: { vcpus: 10000, memoryMiB: 10_000_000, vms: 1000 },
      });
      const u = await t.call(tok.admin, 'POST', '/v1/users', { tenant: 'racers', name: 'r', role: 'member' });
      const rt = (await t.call(tok.admin, 'POST', '/v1/tokens', { name: 'r', userId: u.body.id })).body.token;
      const h0 = (await t.call(tok.admin, 'GET', `/v1/hosts/${hosts[0].id}`)).body;
      const room = Math.floor((131072 - 1024 - h0.used.memoryMiB) / 16384);
      const results = await Promise.all(
        Array.from({ length: room + 5 }, (_, i) =>
          t.call(rt, 'POST', '/v1/vms', { name: `race${i}`, flavor: 'm1.xlarge', image: 'tiny' }),
        ),
      );
      assert.equal(results.filter((r) => r.status === 202).length, room, `exactly ${room} fit`);
      assert.ok(results.filter((r) => r.status !== 202).every((r) => r.body.code === 'NO_HOST_FITS'));
      const after = (await t.call(tok.admin, 'GET', `/v1/hosts/${hosts[0].id}`)).body;
      assert.ok(after.used.memoryMiB <= 131072 - 1024, 'never over capacity');
      for (const h of hosts.slice(1)) await t.call(tok.admin, 'PATCH', `/v1/hosts/${h.id}`, { state: 'up' });
    });

    test('availability zones and tiers steer placement', async () => {
      await t.call(tok.admin, 'POST', '/v1/hosts', {
        name: 'gold-1',
        vcpus: 16,
        memoryMiB: 65536,
        diskGiB: 500,
        tier: 'gold',
        zone: 'zone-2',
      });
      const d = await t.call(tok.admin, 'POST', '/v1/vms', {
        name: 'g1',
        flavor: 'm1.small',
        image: 'tiny',
        tier: 'gold',
        dryRun: true,
      });
      assert.equal(d.body.ranked.length, 1);
      assert.equal(d.body.ranked[0].hostName, 'gold-1');
      const z = await t.call(tok.bob, 'POST', '/v1/vms', {
        name: 'z1',
        flavor: 'm1.small',
        image: 'tiny',
        zone: 'zone-9',
      });
      assert.equal(z.status, 409);
      assert.match(z.body.message, /No host has room for 1 vCPUs \/ 2 GiB in zone zone-9 now/);
      const za = await t.call(tok.admin, 'POST', '/v1/vms', {
        name: 'z1',
        flavor: 'm1.small',
        image: 'tiny',
        zone: 'zone-9',
      });
      assert.match(za.body.rejected[0].reason, /VM asks for zone-9/);
      assert.equal((await t.call(tok.admin, 'GET', '/v1/hosts/gold-1')).body.tier, 'gold');
    });

    test('retries with the same Idempotency-Key return the same operation and make one VM', async () => {
      const h = { 'idempotency-key': 'create-web-7' };
      const a = await t.call(
        tok.bob,
        'POST',
        '/v1/vms',
        { name: 'web7', flavor: 'm1.tiny', image: 'tiny' },
        h,
      );
      const b = await t.call(
        tok.bob,
        'POST',
        '/v1/vms',
        { name: 'web7', flavor: 'm1.tiny', image: 'tiny' },
        h,
      );
      assert.equal(a.body.id, b.body.id);
      assert.equal(
        (await t.call(tok.bob, 'GET', '/v1/vms')).body.filter((v: { name: string }) => v.name === 'web7')
          .length,
        1,
      );
    });

    test('anti-affinity spreads a server group over hosts; bad input is a 400 that names the field', async () => {
      assert.equal(
        (await t.call(tok.bob, 'POST', '/v1/server-groups', { name: 'ha', policy: 'anti-affinity' })).status,
        201,
      );
      const hosts = new Set<string>();
      for (let i = 0; i < 3; i++) {
        const op = (
          await t.call(tok.bob, 'POST', '/v1/vms', {
            name: `ha${i}`,
            flavor: 'm1.tiny',
            image: 'tiny',
            serverGroup: 'ha',
          })
        ).body;
        hosts.add((await t.call(tok.admin, 'GET', `/v1/vms/${op.vmId}`)).body.hostId);
      }
      assert.equal(hosts.size, 3);
      const bad = await t.call(tok.bob, 'POST', '/v1/vms', {
        name: 'bad name!',
        flavor: 'm1.tiny',
        image: 'tiny',
        extra: 1,
      });
      assert.equal(bad.status, 400);
      assert.match(bad.body.message, /body\.name: .*letters, digits/);
      assert.match(bad.body.message, /Unrecognized key.*extra/);
      assert.equal((await t.call(tok.bob, 'POST', '/v1/vms/x/actions', { action: 'teleport' })).status, 400);
    });

    test('revoked and expired tokens stop working, a 401 says what to send; the OpenAPI document lists the API', async () => {
      const mine = (await t.call(tok.bob, 'POST', '/v1/tokens', { name: 'short', expiresInS: 60 })).body;
      assert.equal((await t.call(mine.token, 'GET', '/v1/me')).status, 200);
      t.clock.advanceBy(61);
      assert.equal((await t.call(mine.token, 'GET', '/v1/me')).status, 401);
      const other = (await t.call(tok.bob, 'POST', '/v1/tokens', { name: 'revoke-me' })).body;
      assert.equal((await t.call(tok.bob, 'DELETE', `/v1/tokens/${other.id}`)).status, 204);
      assert.equal((await t.call(other.token, 'GET', '/v1/me')).status, 401);
      const none = await t.call(undefined, 'GET', '/v1/me');
      assert.equal(none.body.code, 'UNAUTHENTICATED');
      assert.match(
        none.body.message,
        /token is required.*Authorization: Bearer <token>.*NUBIS_TOKEN or the credentials file/,
      );
      const wrong = await t.call(other.token, 'GET', '/v1/vms');
      assert.equal(wrong.status, 401);
      assert.match(wrong.body.message, /not valid.*NUBIS_TOKEN or the credentials file/);
      assert.ok(!wrong.body.message.includes(other.token), 'the token is not echoed');
      const doc = (await t.call(undefined, 'GET', '/openapi.json')).body;
      assert.equal(doc.openapi, '3.1.0');
      assert.ok(doc.paths['/v1/vms'].post.requestBody);
      assert.ok(doc.paths['/v1/vms/{id}/actions'].post);
      const stored = await t.db.selectFrom('tokens').select('hash').execute();
      assert.ok(
        stored.every((r) => !r.hash.startsWith('nubis_')),
        'tokens are stored hashed',
      );
    });

    test('metering and invoices are exact to the second; a stopped VM pays for its disk only', async () => {
      const iso = (s: number) => new Date(s * 1000).toISOString();
      const t0 = t.clock.now();
      assert.equal(
        (
          await t.call(tok.admin, 'POST', '/v1/tariffs', {
            name: 'T1',
            validFrom: iso(t0),
            validTo: iso(t0 + 7200),
            vcpuHour: 1,
            memoryGiBHour: 0.5,
            diskGiBHour: 0.01,
            kWh: 30,
          })
        ).status,
        201,
      );
      assert.equal(
        (
          await t.call(tok.admin, 'POST', '/v1/tariffs', {
            name: 'T2',
            validFrom: iso(t0 + 7200),
            vcpuHour: 2,
            memoryGiBHour: 1,
            diskGiBHour: 0.02,
            kWh: 60,
          })
        ).status,
        201,
      );
      await t.call(tok.admin, 'POST', '/v1/tenants', { name: 'billme' });
      const u = await t.call(tok.admin, 'POST', '/v1/users', {
        tenant: 'billme',
        name: 'payer',
        role: 'member',
      });
      const payer = (await t.call(tok.admin, 'POST', '/v1/tokens', { name: 'p', userId: u.body.id })).body
        .token;
      // m1.medium: 2 vCPUs, 4 GiB, 40 GiB. Runs 1 h, stopped 1 h, runs 30 min, deleted.
      const id = (
        await t.call(payer, 'POST', '/v1/vms', { name: 'billed', flavor: 'm1.medium', image: 'tiny' })
      ).body.vmId;
      t.clock.advanceBy(3600);
      await t.call(payer, 'POST', `/v1/vms/${id}/actions`, { action: 'stop' });
      t.clock.advanceBy(3600);
      await t.call(payer, 'POST', `/v1/vms/${id}/actions`, { action: 'start' });
      t.clock.advanceBy(1800);
      await t.call(payer, 'DELETE', `/v1/vms/${id}`);
      t.clock.advanceBy(600);
      const q = `from=${encodeURIComponent(iso(t0 - 3600))}&to=${encodeURIComponent(iso(t0 + 3 * 3600))}`;
      const usage = (await t.call(payer, 'GET', `/v1/usage?${q}`)).body;
      // running 5400 s, stopped 3600 s; vCPU-h 2 × 1.5; memory 4 GiB × 1.5 h; disk 40 GiB × 2.5 h
      // energy: host linear 100→250 W, 32 vCPUs: 2/32 × (100 + 150 × 0.1) = 7.1875 W × 1.5 h
      const { energyKWh, ...rest } = usage.totals;
      assert.deepEqual(rest, {
        runningS: 5400,
        stoppedS: 3600,
        vcpuHours: 3,
        memoryGiBHours: 6,
        diskGiBHours: 100,
      });
      assert.ok(Math.abs(energyKWh - 0.01078125) < 1e-12, `${energyKWh}`);
      const inv = (await t.call(payer, 'GET', `/v1/invoices?${q}`)).body;
      // T1 (first 2 h: 1 h running, 1 h stopped): 2·1 + 4·0.5 + 80·0.01 + 0.0071875·30 = 5.015625 → 5.02
      // T2 (30 min running): 1·2 + 2·1 + 20·0.02 + 0.00359375·60 = 4.615625 → 4.62
      assert.deepEqual(
        inv.lines.map((l: { tariff: string; amount: number; runningS: number; stoppedS: number }) => [
          l.tariff,
          l.runningS,
          l.stoppedS,
          l.amount,
        ]),
        [
          ['T1', 3600, 3600, 5.02],
          ['T2', 1800, 0, 4.62],
        ],
      );
      assert.equal(inv.total, 9.64);
      const csv = await t.app.inject({
        method: 'GET',
        url: `/v1/invoices?${q}&format=csv`,
        headers: { authorization: `Bearer ${payer}` },
      });
      assert.match(csv.headers['content-type'] as string, /text\/csv/);
      assert.deepEqual(
        csv.body
          .trim()
          .split('\n')
          .map((l) => l.split(',')[0]),
        ['flavor', 'm1.medium', 'm1.medium', 'total'],
      );
      assert.match(csv.body, /,9\.64\n$/);
      // Prometheus metrics count what the database holds.
      const running = (await t.call(tok.admin, 'GET', '/v1/vms?state=running')).body.length;
      const metrics = await t.app.inject({ method: 'GET', url: '/metrics' });
      assert.match(metrics.body, new RegExp(`^nubis_vms\\{state="running"\\} ${running}$`, 'm'));
      const up = (await t.call(tok.admin, 'GET', '/v1/hosts')).body.filter(
        (h: { state: string }) => h.state === 'up',
      ).length;
      assert.match(metrics.body, new RegExp(`^nubis_hosts\\{state="up"\\} ${up}$`, 'm'));
      assert.match(
        metrics.body,
        /^nubis_http_request_duration_seconds_count\{method="POST",route="\/v1\/vms",status="202"\} \d+$/m,
      );
      // Another tenant's invoice is not yours to read.
      assert.equal((await t.call(payer, 'GET', `/v1/invoices?${q}&tenant=acme`)).status, 404);
      // Conditional GET: the same answer costs a 304 and no body; a change gives a new tag.
      const get = (etag?: string) =>
        t.app.inject({
          method: 'GET',
          url: '/v1/hosts',
          headers: { authorization: `Bearer ${tok.admin}`, ...(etag ? { 'if-none-match': etag } : {}) },
        });
      const first = await get();
      const tag = first.headers.etag as string;
      assert.match(tag, /^"[\w-]+"$/);
      assert.equal(first.headers['cache-control'], 'private, no-cache');
      const same = await get(tag);
      assert.equal(same.statusCode, 304);
      assert.equal(same.body, '');
      const hostId = JSON.parse(first.body)[0].id;
      await t.call(tok.admin, 'PATCH', `/v1/hosts/${hostId}`, { state: 'maintenance' });
      const changed = await get(tag);
      assert.equal(changed.statusCode, 200);
      assert.notEqual(changed.headers.etag, tag);
      await t.call(tok.admin, 'PATCH', `/v1/hosts/${hostId}`, { state: 'up' });
    });
  });
}
