/**
 * Property (fast-check) on the in-process control plane with simulated hosts (SQLite): random small
 * clusters (zones, racks, tiers), random server groups and stated constraints, random sequences of
 * creates (pinned, grouped, joining constraints), migrations with and without a target, drains, host
 * failures (HA), plan audits and applies, resizes and deletes. After every step: every hard
 * constraint holds (checked from scratch by the core's checkers over the store), no host's counters
 * exceed its capacity, every live VM is on exactly one host that exists (its guest too), and host
 * and tenant counters equal the sums of their VMs' flavors.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { checkAll, constraintState } from '../src/core/constraints/index.ts';
import { ControlPlane, seedDemo, type Principal } from '../src/control/control-plane.ts';
import { ControlError } from '../src/control/errors.ts';
import { openStore } from '../src/control/store/open-store.ts';
import { createHostDrivers } from '../src/drivers/host-drivers.ts';
import { SimHypervisorDriver } from '../src/drivers/sim/sim-driver.ts';
import { SimClock } from '../src/runtime/clock.ts';

const FLAVORS = ['m1.tiny', 'm1.small', 'm1.medium', 'm1.large'];
const POLICIES = ['affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity'];

type Step =
  | { k: 'create'; flavor: number; group: number; zone: number; tier: number; ha: boolean; join: number }
  | { k: 'migrate'; vm: number; to: number; target: boolean }
  | { k: 'drain'; host: number }
  | { k: 'fail'; host: number }
  | { k: 'up'; host: number }
  | { k: 'plan'; policy: number }
  | { k: 'resize'; vm: number; flavor: number }
  | { k: 'delete'; vm: number }
  | { k: 'constrain'; type: number; vms: number[]; n: number };

const arbStep: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      k: fc.constant('create' as const),
      flavor: fc.nat(3),
      group: fc.nat(3),
      zone: fc.nat(3),
      tier: fc.nat(3),
      ha: fc.boolean(),
      join: fc.nat(3),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant('migrate' as const),
      vm: fc.nat(),
      to: fc.nat(),
      target: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('drain' as const), host: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('fail' as const), host: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('up' as const), host: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('plan' as const), policy: fc.nat(2) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('resize' as const), vm: fc.nat(), flavor: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('delete' as const), vm: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('constrain' as const),
      type: fc.nat(5),
      vms: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
      n: fc.integer({ min: 1, max: 2 }),
    }),
  },
);

const arbWorld = fc.record({
  hosts: fc.array(
    fc.record({ zone: fc.nat(1), rack: fc.nat(2), gpu: fc.boolean(), vcpus: fc.constantFrom(4, 8) }),
    { minLength: 2, maxLength: 5 },
  ),
  groups: fc.array(
    fc.record({
      policy: fc.nat(3),
      maxPerHost: fc.option(fc.integer({ min: 1, max: 2 }), { nil: undefined }),
      spreadOver: fc.option(fc.constantFrom('rack' as const, 'zone' as const), { nil: undefined }),
    }),
    { maxLength: 3 },
  ),
  steps: fc.array(arbStep, { minLength: 5, maxLength: 25 }),
});

/** Every invariant, from the store and the driver, recomputed from scratch. */
async function checkInvariants(cp: ControlPlane, sim: SimHypervisorDriver, after: string) {
  const db = cp.db;
  const hosts = await db.selectFrom('hosts').selectAll().execute();
  const vms = await db
    .selectFrom('vms')
    .innerJoin('flavors', 'flavors.id', 'vms.flavor_id')
    .select([
      'vms.id',
      'vms.name',
      'vms.tenant_id',
      'vms.host_id',
      'vms.state',
      'flavors.vcpus',
      'flavors.memory_mib',
      'flavors.disk_gib',
    ])
    .where('vms.deleted_at', 'is', null)
    .execute();
  const byId = new Map(hosts.map((h) => [h.id, h]));
  // Capacity, and host counters equal to the sums of their VMs' flavors.
  for (const h of hosts) {
    const on = vms.filter((v) => v.host_id === h.id);
    const sum = (k: 'vcpus' | 'memory_mib' | 'disk_gib') => on.reduce((s, v) => s + v[k], 0);
    assert.deepEqual(
      [Number(h.used_vcpus), Number(h.used_memory_mib), Number(h.used_disk_gib), Number(h.vm_count)],
      [sum('vcpus'), sum('memory_mib'), sum('disk_gib'), on.length],
      `${after}: counters of ${h.name}`,
    );
    assert.ok(
      sum('vcpus') <= h.vcpus * h.cpu_ratio - h.reserved_vcpus &&
        sum('memory_mib') <= h.memory_mib * h.memory_ratio - h.reserved_memory_mib &&
        sum('disk_gib') <= h.disk_gib * h.disk_ratio - h.reserved_disk_gib,
      `${after}: ${h.name} over capacity`,
    );
  }
  // Every live VM on exactly one host that exists; a running VM's guest exists.
  for (const v of vms) {
    assert.ok(v.host_id && byId.has(v.host_id), `${after}: ${v.name} (${v.state}) is on no host`);
    if (v.state === 'running') assert.ok(await sim.get(v.id), `${after}: ${v.name} runs but has no guest`);
  }
  // Tenant counters.
  for (const t of await db.selectFrom('tenants').selectAll().execute()) {
    const mine = vms.filter((v) => v.tenant_id === t.id);
    assert.deepEqual(
      [Number(t.used_vms), Number(t.used_vcpus), Number(t.used_memory_mib), Number(t.used_disk_gib)],
      [
        mine.length,
        mine.reduce((s, v) => s + v.vcpus, 0),
        mine.reduce((s, v) => s + v.memory_mib, 0),
        mine.reduce((s, v) => s + v.disk_gib, 0),
      ],
      `${after}: counters of tenant ${t.name}`,
    );
  }
  // Every hard constraint holds (VMs on failed hosts run nowhere).
  const state = constraintState(
    hosts.map((h) => ({
      id: h.id,
      name: h.name,
      zone: h.zone,
      rack: h.rack,
      tier: h.tier,
      datacenter: h.datacenter,
    })),
    vms
      .filter((v) => v.host_id && byId.get(v.host_id)!.state !== 'failed')
      .map((v) => [v.id, v.host_id!] as const),
    new Map(vms.map((v) => [v.id, v.name])),
  );
  const broken = checkAll(await cp.constraintReader.all(db), state);
  assert.deepEqual(
    broken.map((b) => b.message),
    [],
    after,
  );
}

test('property: every path through the one scheduler keeps hard constraints, capacity and counters', async () => {
  await fc.assert(
    fc.asyncProperty(arbWorld, async (w) => {
      const db = await openStore(':memory:');
      const clock = new SimClock(1_800_000_000);
      const sim = new SimHypervisorDriver(clock);
      const cp = new ControlPlane({ db, clock, hostDrivers: createHostDrivers({ sim }) });
      try {
        const admin = (await cp.authenticate((await cp.bootstrap('t'))!))! as Principal;
        await seedDemo(cp, admin, 0);
        await cp.setQuotas(admin, admin.tenantId, { vms: 1000, vcpus: 10000, memoryMiB: 1e8, diskGiB: 1e6 });
        const hostIds: string[] = [];
        for (const [i, h] of w.hosts.entries())
          hostIds.push(
            (
              await cp.createHost(admin, {
                name: `h${i}`,
                vcpus: h.vcpus,
                memoryMiB: h.vcpus * 2048,
                diskGiB: 400,
                cpuRatio: 1,
                zone: `z${h.zone}`,
                rack: `r${h.rack}`,
                tier: h.gpu ? 'gpu' : 'general',
                driver: 'sim',
              } as Parameters<ControlPlane['createHost']>[1])
            ).id,
          );
        const groups: string[] = [];
        for (const [i, g] of w.groups.entries()) {
          await cp.createServerGroup(admin, `g${i}`, POLICIES[g.policy]!, {
            maxPerHost: g.maxPerHost,
            spreadOver: g.spreadOver,
          });
          groups.push(`g${i}`);
        }
        const constraints: string[] = [];
        let n = 0;
        const live = async () =>
          await db
            .selectFrom('vms')
            .select(['id', 'state'])
            .where('deleted_at', 'is', null)
            .orderBy('name')
            .execute();
        for (const [i, s] of w.steps.entries()) {
          const label = `step ${i} ${JSON.stringify(s)}`;
          const vms = await live();
          const pick = (k: number) => vms[k % Math.max(1, vms.length)];
          try {
            if (s.k === 'create') {
              await cp.createVm(admin, {
                name: `v${n++}`,
                flavor: FLAVORS[s.flavor]!,
                image: 'tiny',
                serverGroup: groups[s.group],
                zone: s.zone === 0 ? 'z0' : s.zone === 1 ? 'z1' : undefined,
                tier: s.tier === 0 ? 'gpu' : undefined,
                ha: s.ha,
                constraints: constraints[s.join] ? [constraints[s.join]!] : [],
              });
            } else if (s.k === 'migrate') {
              const v = pick(s.vm);
              if (v)
                await cp.migrateVm(admin, v.id, s.target ? { toHost: hostIds[s.to % hostIds.length] } : {});
            } else if (s.k === 'drain') await cp.drainHost(admin, hostIds[s.host % hostIds.length]!);
            else if (s.k === 'fail')
              await cp.setHostState(admin, hostIds[s.host % hostIds.length]!, 'failed');
            else if (s.k === 'up') await cp.setHostState(admin, hostIds[s.host % hostIds.length]!, 'up');
            else if (s.k === 'plan') {
              const plan = await cp.auditPlan(admin, {
                policy: ['reservation', 'spread:0.05', 'thr-mmt:0.8'][s.policy],
                spareHosts: 0,
              });
              if (plan.id && plan.status === 'proposed') await cp.applyPlan(admin, plan.id);
            } else if (s.k === 'resize') {
              const v = pick(s.vm);
              if (v) await cp.vmAction(admin, v.id, 'resize', { flavor: FLAVORS[s.flavor] });
            } else if (s.k === 'delete') {
              const v = pick(s.vm);
              if (v) await cp.vmAction(admin, v.id, 'delete');
            } else {
              const type = (['anti-affinity', 'max-per-host', 'spread', 'fence', 'ban', 'affinity'] as const)[
                s.type
              ]!;
              const name = `c${constraints.length}`;
              const c = await cp.constraints.createConstraint(admin, {
                name,
                type,
                vms: [...new Set(s.vms.map((k) => pick(k)?.id).filter((x): x is string => !!x))],
                ...(type === 'max-per-host' ? { max: s.n } : {}),
                ...(type === 'spread' ? { over: 'rack' as const, maxPerDomain: s.n } : {}),
                ...(type === 'fence' || type === 'ban' ? { where: { zone: `z${s.n - 1}` } } : {}),
              });
              // Only constraints the cluster keeps now: a broken one is stated but not the property's.
              if (c.violations.length) await cp.constraints.deleteConstraint(admin, c.id);
              else constraints.push(name);
            }
          } catch (e) {
            if (!(e instanceof ControlError)) throw e;
          }
          await checkInvariants(cp, sim, label);
        }
      } finally {
        await db.destroy();
      }
    }),
    { numRuns: 100, seed: 10 },
  );
});
