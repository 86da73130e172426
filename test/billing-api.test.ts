/**
 * Billing through the API: tariff windows never overlap, invoices total per currency, a fresh
 * install bills (or says plainly why not), dates as YYYY-MM-DD, and events filed under the tenant
 * that owns what they are about.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_TARIFF, seedDefaultTariff } from '../src/control/control-plane.ts';
import { controlPlane, storeBackends } from './helpers/control.ts';

type Cp = Awaited<ReturnType<typeof controlPlane>>;
const iso = (s: number) => new Date(s * 1000).toISOString();
const prices = { vcpuHour: 1, memoryGiBHour: 0.5, diskGiBHour: 0.01, kWh: 0 };

/** A tenant with a member; the member's token. */
async function tenantWithMember(t: Cp, tenant: string, user: string): Promise<string> {
  assert.equal((await t.call(t.adminToken, 'POST', '/v1/tenants', { name: tenant })).status, 201);
  const u = await t.call(t.adminToken, 'POST', '/v1/users', { tenant, name: user, role: 'member' });
  return (await t.call(t.adminToken, 'POST', '/v1/tokens', { name: user, userId: u.body.id })).body.token;
}

for (const backend of storeBackends())
  describe(`billing and events through the API on ${backend.name}`, () => {
    if (backend.skip) return void test(`every test on ${backend.name}`, { skip: backend.skip });
    let t: Cp;
    let drop: () => Promise<void>;
    before(async () => {
      const s = await backend.url();
      drop = s.drop;
      t = await controlPlane(s.url, 4);
    });
    after(async () => {
      await t.close();
      await drop();
    });

    test('a tariff whose window overlaps another is refused with 409 naming the other tariff', async () => {
      const post = (name: string, validFrom: string, validTo?: string, currency = 'EUR') =>
        t.call(t.adminToken, 'POST', '/v1/tariffs', {
          name,
          validFrom,
          ...(validTo ? { validTo } : {}),
          currency,
          ...prices,
        });
      assert.equal((await post('jan-2030', '2030-01-01', '2030-02-01')).status, 201);
      for (const [from, to, cur] of [
        ['2030-01-15', '2030-03-01', 'EUR'],
        ['2030-01-15', '2030-03-01', 'USD'], // another currency: still one price per moment
        ['2029-06-01', undefined, 'EUR'], // open-ended from before
        ['2030-01-01T12:00:00+01:00', '2030-01-02', 'EUR'],
      ] as const) {
        const r = await post('clash', from, to, cur);
        assert.equal(r.status, 409, `${from} … ${to} ${cur}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.code, 'ALREADY_EXISTS');
        assert.match(
          r.body.message,
          /overlaps tariff "jan-2030" \(2030-01-01T00:00:00\.000Z … 2030-02-01T00:00:00\.000Z\)/,
        );
        assert.deepEqual([r.body.tariff, r.body.validFrom], ['jan-2030', '2030-01-01T00:00:00.000Z']);
      }
      // Windows that only meet do not overlap: `validTo` is excluded.
      assert.equal((await post('feb-2030', '2030-02-01', '2030-03-01', 'USD')).status, 201);
      assert.equal((await post('dec-2029', '2029-12-01', '2030-01-01')).status, 201);
      const names = (await t.call(t.adminToken, 'GET', '/v1/tariffs')).body.map(
        (x: { name: string }) => x.name,
      );
      assert.deepEqual(
        names.filter((n: string) => n !== 'clash'),
        names,
        'no refused tariff was stored',
      );
    });

    test('an invoice over a EUR and a USD tariff has one total per currency and never adds them', async () => {
      const t0 = t.clock.now();
      for (const [name, from, to, currency] of [
        ['eur-hour', t0, t0 + 3600, 'EUR'],
        ['usd-hour', t0 + 3600, t0 + 7200, 'USD'],
      ] as const)
        assert.equal(
          (
            await t.call(t.adminToken, 'POST', '/v1/tariffs', {
              name,
              validFrom: iso(from),
              validTo: iso(to),
              currency,
              ...prices,
            })
          ).status,
          201,
        );
      const payer = await tenantWithMember(t, 'twocur', 'tc');
      // m1.small: 1 vCPU, 2 GiB, 20 GiB disk, running 2 h: each hour 1·1 + 2·0.5 + 20·0.01 = 2.20.
      assert.equal(
        (await t.call(payer, 'POST', '/v1/vms', { name: 'v', flavor: 'm1.small', image: 'tiny' })).status,
        202,
      );
      t.clock.advanceBy(7200);
      const q = `from=${encodeURIComponent(iso(t0))}&to=${encodeURIComponent(iso(t0 + 7200))}`;
      const inv = (await t.call(payer, 'GET', `/v1/invoices?${q}`)).body;
      assert.deepEqual(inv.totals, [
        { currency: 'EUR', amount: 2.2 },
        { currency: 'USD', amount: 2.2 },
      ]);
      assert.equal(inv.total, undefined, 'no total adds two currencies');
      assert.equal(inv.currency, undefined);
      assert.equal(inv.unbilledSeconds, 0);
      assert.equal(inv.notice, undefined);
      const csv = await t.app.inject({
        method: 'GET',
        url: `/v1/invoices?${q}&format=csv`,
        headers: { authorization: `Bearer ${payer}` },
      });
      assert.deepEqual(
        csv.body
          .trim()
          .split('\n')
          .filter((l) => l.startsWith('total,')),
        ['total,,EUR,,,,,,,2.20', 'total,,USD,,,,,,,2.20'],
      );
      // One currency: `total` and `currency` are there too.
      const first = (
        await t.call(
          payer,
          'GET',
          `/v1/invoices?from=${encodeURIComponent(iso(t0))}&to=${encodeURIComponent(iso(t0 + 3600))}`,
        )
      ).body;
      assert.deepEqual(
        [first.totals, first.total, first.currency],
        [[{ currency: 'EUR', amount: 2.2 }], 2.2, 'EUR'],
      );
    });

    test('dates are accepted as YYYY-MM-DD (midnight UTC) for usage, daily usage, invoices, energy and tariffs', async () => {
      // The simulated clock starts at 2027-01-15T08:00:00Z.
      for (const url of [
        '/v1/usage?from=2027-01-01&to=2027-02-01',
        '/v1/usage/daily?from=2027-01-01&to=2027-02-01',
        '/v1/invoices?from=2027-01-01&to=2027-02-01',
        '/v1/energy?from=2027-01-01&to=2027-02-01',
      ]) {
        const r = await t.call(t.adminToken, 'GET', url);
        assert.equal(r.status, 200, `${url}: ${JSON.stringify(r.body)}`);
        assert.match(r.body.from, /^2027-01-01/, url);
      }
      const inv = (await t.call(t.adminToken, 'GET', '/v1/invoices?from=2027-01-01&to=2027-02-01')).body;
      assert.equal(inv.from, '2027-01-01T00:00:00.000Z');
      assert.equal(inv.to, '2027-02-01T00:00:00.000Z', '`to` is the excluded end');
      const bad = await t.call(t.adminToken, 'GET', '/v1/invoices?from=2027-02-30&to=2027-03-01');
      assert.equal(bad.status, 400);
      assert.equal(bad.body.code, 'BAD_REQUEST');
      const tariff = await t.call(t.adminToken, 'POST', '/v1/tariffs', {
        name: 'y2031',
        validFrom: '2031-01-01',
        validTo: '2032-01-01',
        ...prices,
      });
      assert.equal(tariff.status, 201, JSON.stringify(tariff.body));
      assert.deepEqual(
        [tariff.body.validFrom, tariff.body.validTo],
        ['2031-01-01T00:00:00.000Z', '2032-01-01T00:00:00.000Z'],
      );
    });

    test("an admin's actions on a tenant's VM, host and user are filed under that tenant; host events under none", async () => {
      const ann = await tenantWithMember(t, 'audited', 'aud');
      const acme = (await t.call(t.adminToken, 'GET', '/v1/tenants')).body.find(
        (x: { name: string }) => x.name === 'audited',
      ).id as string;
      const vm = (await t.call(ann, 'POST', '/v1/vms', { name: 'a1', flavor: 'm1.tiny', image: 'tiny' })).body
        .vmId as string;
      const hostId = (await t.call(t.adminToken, 'GET', `/v1/vms/${vm}`)).body.hostId as string;
      const admin = (m: string, u: string, b?: unknown) => t.call(t.adminToken, m, u, b);
      assert.equal((await admin('POST', `/v1/hosts/${hostId}/drain`)).status, 200);
      assert.equal((await admin('POST', `/v1/vms/${vm}/actions`, { action: 'stop' })).status, 202);
      const user = await admin('POST', '/v1/users', { tenant: 'audited', name: 'bea', role: 'member' });
      assert.equal((await admin('POST', '/v1/tokens', { name: 'bea', userId: user.body.id })).status, 201);
      assert.equal((await admin('POST', `/v1/hosts/${hostId}/undrain`)).status, 200);

      type Ev = { kind: string; tenantId: string | null; vmId: string | null; actor: string };
      const mine = (await t.call(ann, 'GET', '/v1/events?limit=1000')).body as Ev[];
      const kinds = new Set(mine.map((e) => e.kind));
      for (const k of [
        'vm.migrate.requested',
        'vm.migrated',
        'vm.stop.requested',
        'vm.stopped',
        'user.created',
        'token.created',
      ])
        assert.ok(kinds.has(k), `the tenant sees ${k}: ${[...kinds].join(', ')}`);
      assert.ok(mine.every((e) => e.tenantId === acme));
      assert.ok(mine.some((e) => e.kind === 'vm.stopped' && e.actor === 'admin'));
      const all = (await t.call(t.adminToken, 'GET', '/v1/events?limit=1000')).body as Ev[];
      for (const e of all) {
        if (e.vmId === vm) assert.equal(e.tenantId, acme, `${e.kind} of the tenant's VM is filed under it`);
        if (e.kind.startsWith('host.')) assert.equal(e.tenantId, null, `${e.kind} is infrastructure`);
      }
    });
  });

for (const backend of storeBackends())
  describe(`a fresh install's invoice on ${backend.name}`, () => {
    if (backend.skip) return void test(`every test on ${backend.name}`, { skip: backend.skip });
    let t: Cp;
    let drop: () => Promise<void>;
    before(async () => {
      const s = await backend.url();
      drop = s.drop;
      t = await controlPlane(s.url, 2);
    });
    after(async () => {
      await t.close();
      await drop();
    });

    test('says plainly that no tariff is set and how to set one, then bills at the default tariff', async () => {
      const payer = await tenantWithMember(t, 'fresh', 'f');
      const t0 = t.clock.now();
      await t.call(payer, 'POST', '/v1/vms', { name: 'v', flavor: 'm1.small', image: 'tiny' });
      t.clock.advanceBy(3600);
      const q = `from=${encodeURIComponent(iso(t0))}&to=${encodeURIComponent(iso(t0 + 3600))}`;
      const none = (await t.call(payer, 'GET', `/v1/invoices?${q}`)).body;
      assert.deepEqual(none.totals, []);
      assert.equal(none.total, undefined, 'not a silent 0.00');
      assert.equal(none.unbilledSeconds, 3600);
      assert.match(none.notice, /^No tariff is set, so 3600 VM-second\(s\) \(1\.00 VM-hours\) of usage/);
      assert.match(none.notice, /nubis tariff create .* POST \/v1\/tariffs/);

      // nubis serve's first start creates the default tariff.
      assert.equal(await seedDefaultTariff(t.cp, t.admin), true);
      assert.equal(await seedDefaultTariff(t.cp, t.admin), false, 'only when no tariff exists');
      const inv = (await t.call(payer, 'GET', `/v1/invoices?${q}`)).body;
      // m1.small for 1 h: 1 vCPU·0.01 + 2 GiB·0.005 + 20 GiB·0.0001 = 0.022, plus its energy
      // (2/32·… W at 0.25/kWh: under a cent) → 0.02 EUR.
      assert.deepEqual(
        inv.lines.map((l: { tariff: string; currency: string }) => [l.tariff, l.currency]),
        [['default', 'EUR']],
      );
      assert.equal(DEFAULT_TARIFF.currency, 'EUR');
      assert.deepEqual(inv.totals, [{ currency: 'EUR', amount: 0.02 }]);
      assert.equal(inv.unbilledSeconds, 0);
      assert.equal(inv.notice, undefined);
    });
  });
