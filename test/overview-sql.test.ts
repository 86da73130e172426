/**
 * The overview counts VMs and sums each host's CPU demand in the database (issue 15); on random VM and
 * host states it gives the figures of the former scan of every VM row (kept here as the reference).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { ControlPlane } from '../src/control/control-plane.ts';
import type { Principal } from '../src/control/principal.ts';
import type { Db } from '../src/control/store/open-store.ts';
import { hostLoad } from '../src/control/telemetry/metrics.ts';
import { controlPlane, storeBackends } from './helpers/control.ts';

/** The overview's host and VM figures as the former code computed them: every VM row read and parsed. */
async function reference(db: Db, cp: ControlPlane, p: Principal, all: boolean) {
  const count = (rows: { state: string }[]) =>
    rows.reduce<Record<string, number>>((m, r) => {
      m[r.state] = (m[r.state] ?? 0) + 1;
      return m;
    }, {});
  let vq = db
    .selectFrom('vms')
    .innerJoin('flavors', 'flavors.id', 'vms.flavor_id')
    .select(['vms.state', 'vms.host_id', 'vms.cpu_history', 'flavors.vcpus'])
    .where('vms.deleted_at', 'is', null);
  if (!all) vq = vq.where('vms.tenant_id', '=', p.tenantId);
  const vms = await vq.execute();
  const out = { vms: { total: vms.length, byState: count(vms) } };
  if (!all) return out;
  const hosts = await cp.hosts.hostRows();
  const demand = new Map<string, number>();
  for (const v of vms)
    if (v.state === 'running' && v.host_id)
      demand.set(
        v.host_id,
        (demand.get(v.host_id) ?? 0) + v.vcpus * ((JSON.parse(v.cpu_history) as number[])[0] ?? 0),
      );
  const on = hosts.filter((h) => h.state === 'up' || h.state === 'maintenance');
  const overloaded = on.filter((h) => (demand.get(h.id) ?? 0) > h.vcpus + 1e-9).length;
  return {
    ...out,
    hosts: { total: hosts.length, byState: count(hosts) },
    powerW: hosts.reduce((a, h) => a + hostLoad(h).powerW, 0),
    overloadedHosts: overloaded,
    slaViolation: on.length ? overloaded / on.length : 0,
  };
}

const VMS = 24;
const sample = fc.oneof(
  fc.double({ min: 0, max: 1, noNaN: true }),
  fc.constantFrom(0, 1, 0.5, 1e-7, 0.1 + 0.2),
  fc.constant(null),
);
const vmState = fc.record({
  state: fc.constantFrom('running', 'running', 'stopped', 'error', 'building'),
  host: fc.nat({ max: 4 }), // 4: no host
  history: fc.array(sample, { maxLength: 4 }),
  flavor: fc.nat({ max: 3 }),
});

for (const backend of storeBackends()) {
  test(
    `overview on ${backend.name}: SQL counts and demand equal the scan of every VM on random states`,
    { skip: backend.skip },
    async () => {
      const s = await backend.url();
      const t = await controlPlane(s.url, 4);
      try {
        const r = await t.call(t.adminToken, 'POST', '/v1/vms', {
          name: 'v0',
          flavor: 'm1.small',
          image: 'tiny',
        });
        assert.equal(r.body.status, 'succeeded', JSON.stringify(r.body));
        const tpl = await t.db.selectFrom('vms').selectAll().executeTakeFirstOrThrow();
        await t.db
          .insertInto('vms')
          .values(
            Array.from({ length: VMS - 1 }, (_, i) => ({ ...tpl, id: `vm-copy-${i}`, name: `copy-${i}` })),
          )
          .execute();
        const vmIds = (await t.db.selectFrom('vms').select('id').orderBy('id').execute()).map((v) => v.id);
        const hostIds = (await t.db.selectFrom('hosts').select('id').orderBy('name').execute()).map(
          (h) => h.id,
        );
        const flavorIds = (await t.db.selectFrom('flavors').select('id').orderBy('name').execute()).map(
          (f) => f.id,
        );
        await fc.assert(
          fc.asyncProperty(
            fc.array(vmState, { minLength: VMS, maxLength: VMS }),
            fc.array(fc.constantFrom('up', 'maintenance', 'down', 'failed'), { minLength: 4, maxLength: 4 }),
            fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 4, maxLength: 4 }),
            async (vms, hostStates, hostVcpus) => {
              for (const [i, v] of vms.entries())
                await t.db
                  .updateTable('vms')
                  .set({
                    state: v.state,
                    host_id: v.host < hostIds.length ? hostIds[v.host]! : null,
                    cpu_history: JSON.stringify(v.history),
                    flavor_id: flavorIds[v.flavor % flavorIds.length]!,
                  })
                  .where('id', '=', vmIds[i]!)
                  .execute();
              for (const [i, id] of hostIds.entries())
                await t.db
                  .updateTable('hosts')
                  .set({ state: hostStates[i % 4]!, vcpus: hostVcpus[i % 4]! })
                  .where('id', '=', id)
                  .execute();
              const got = await t.cp.overview(t.admin);
              const want = await reference(t.db, t.cp, t.admin, true);
              assert.ok('hosts' in got && 'hosts' in want);
              assert.deepEqual(got.vms, want.vms);
              assert.deepEqual(got.hosts, want.hosts);
              assert.equal(got.overloadedHosts, want.overloadedHosts);
              assert.equal(got.slaViolation, want.slaViolation);
              assert.equal(got.powerW, want.powerW);
            },
          ),
          { numRuns: backend.name === 'SQLite' ? 60 : 15 },
        );
      } finally {
        await t.close();
        await s.drop();
      }
    },
  );
}
