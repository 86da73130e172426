/**
 * The scheduler's in-memory host index answers as the scan of every host row does: property
 * (fast-check) on the in-process control plane (SQLite), random creates (presets, zones, server
 * groups), deletes, migrations (chosen or to a given host), host failures and returns, and writes by "another process" (host
 * counters and states changed by plain SQL, which only the store's version triggers tell the index
 * about). Every indexed decision is compared with the scan's on the same transaction.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { sql } from 'kysely';
import { ControlPlane, seedDemo, type Principal } from '../src/control/control-plane.ts';
import { ControlError } from '../src/control/errors.ts';
import type { Scheduler } from '../src/control/scheduler/scheduler.ts';
import { openStore } from '../src/control/store/open-store.ts';
import { createHostDrivers } from '../src/drivers/host-drivers.ts';
import { SimHypervisorDriver } from '../src/drivers/sim/sim-driver.ts';
import { SimClock } from '../src/runtime/clock.ts';

const FLAVORS = ['m1.tiny', 'm1.small', 'm1.medium', 'm1.large', 'm1.xlarge'];
const PRESETS = ['pack', 'spread', 'first-fit'] as const;
const POLICIES = ['affinity', 'anti-affinity', 'soft-anti-affinity'];

type Step =
  | { k: 'create'; flavor: number; preset: number; zone: number; group: number }
  | { k: 'delete'; vm: number }
  | { k: 'migrate'; vm: number }
  | { k: 'migrate-to'; vm: number; host: number }
  | { k: 'state'; host: number; state: number }
  | { k: 'other'; host: number; vcpus: number; state: number };

const arbStep: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      k: fc.constant('create' as const),
      flavor: fc.nat(4),
      preset: fc.nat(2),
      zone: fc.nat(3),
      group: fc.nat(4),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('delete' as const), vm: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('migrate' as const), vm: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ k: fc.constant('migrate-to' as const), vm: fc.nat(), host: fc.nat() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.constant('state' as const), host: fc.nat(), state: fc.nat(2) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('other' as const),
      host: fc.nat(),
      vcpus: fc.integer({ min: -4, max: 8 }),
      state: fc.nat(4),
    }),
  },
);

const arbWorld = fc.record({
  hosts: fc.array(fc.record({ vcpus: fc.constantFrom(4, 8, 16), zone: fc.nat(1), rack: fc.nat(2) }), {
    minLength: 1,
    maxLength: 8,
  }),
  steps: fc.array(arbStep, { minLength: 1, maxLength: 30 }),
});

/** Wrap `decide`: every indexed decision is also made by the scan, and both answers are kept. */
function compareDecisions(s: Scheduler) {
  const pairs: {
    fast: string | null;
    scan: string | null;
    fastScore?: number;
    scanScore?: number;
    /** A given target: the whole decision (reasons of a refusal too) must be the scan's. */
    fastWhole?: unknown;
    scanWhole?: unknown;
  }[] = [];
  const decide = s.decide.bind(s);
  s.decide = async (db, r, o = {}) => {
    const got = await decide(db, r, o);
    if (o.fast) {
      const want = await decide(db, r);
      pairs.push({
        fast: got.decision.hostId,
        scan: want.decision.hostId,
        fastScore: got.decision.ranked[0]?.score,
        scanScore: want.decision.ranked[0]?.score,
        ...(r.toHost === undefined ? {} : { fastWhole: got.decision, scanWhole: want.decision }),
      });
    }
    return got;
  };
  return pairs;
}

test('property: the scheduler index chooses the host the scan of every host row chooses', async () => {
  let targeted = 0;
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
                driver: 'sim',
              } as Parameters<ControlPlane['createHost']>[1])
            ).id,
          );
        const groups: string[] = [];
        for (const [i, p] of POLICIES.entries()) {
          await cp.createServerGroup(admin, `g${i}`, p);
          groups.push(`g${i}`);
        }
        const pairs = compareDecisions(cp.scheduler);
        let n = 0;
        for (const s of w.steps) {
          const vms = await db
            .selectFrom('vms')
            .select('id')
            .where('deleted_at', 'is', null)
            .orderBy('name')
            .execute();
          const vm = (k: number) => vms[k % Math.max(1, vms.length)]?.id;
          const host = (k: number) => hostIds[k % hostIds.length]!;
          try {
            if (s.k === 'create')
              await cp.createVm(admin, {
                name: `v${n++}`,
                flavor: FLAVORS[s.flavor]!,
                image: 'tiny',
                preset: PRESETS[s.preset],
                zone: s.zone < 2 ? `z${s.zone}` : undefined,
                serverGroup: groups[s.group],
              });
            else if (s.k === 'delete' && vm(s.vm)) await cp.vmAction(admin, vm(s.vm)!, 'delete');
            else if (s.k === 'migrate' && vm(s.vm)) await cp.migrateVm(admin, vm(s.vm)!, {});
            else if (s.k === 'migrate-to' && vm(s.vm))
              await cp.migrateVm(admin, vm(s.vm)!, { toHost: host(s.host) });
            else if (s.k === 'state')
              await cp.setHostState(
                admin,
                host(s.host),
                (['up', 'failed', 'maintenance'] as const)[s.state]!,
              );
            else if (s.k === 'other')
              // Another API process (or a writer that does not tell the scheduler): plain SQL.
              await sql`update hosts set used_vcpus = max(0, used_vcpus + ${s.vcpus}),
                state = case when ${s.state} = 0 then 'maintenance' when ${s.state} = 1 then 'up' else state end
                where id = ${host(s.host)}`.execute(db);
          } catch (e) {
            if (!(e instanceof ControlError)) throw e;
          }
        }
        for (const p of pairs) {
          assert.equal(p.fast, p.scan);
          assert.equal(p.fastScore, p.scanScore);
          assert.deepEqual(p.fastWhole, p.scanWhole);
        }
        targeted += pairs.filter((p) => p.fastWhole).length;
      } finally {
        await db.destroy();
      }
    }),
    { numRuns: 40, seed: 15 },
  );
  // Migrations to a given host were judged (and compared) too.
  assert.ok(targeted > 0);
});
