/**
 * With measured memory hosts, the scheduler's indexed path (the host index for static hosts, cached
 * memory views for measured ones) answers as the scan of every host row with a full read of the
 * memory model: property (fast-check) on the in-process control plane (SQLite) over random clusters
 * mixing static and measured hosts, random creates (presets, zones, server groups, an image whose
 * running VMs predict the new VM's memory), deletes, migrations (chosen or to a given host), profiles
 * recorded, and writes by "another process" in plain SQL (a host's memory policy and risk, a profile's
 * working set, a tenant's sharing choice, the sharing weight), which only the store's triggers
 * (0910-host-version, 0982-memory-version) tell the cache about. Then the triggers on SQLite and
 * PostgreSQL (NUBIS_TEST_PG_URL): after each plain-SQL write, the indexed decision is the scan's.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { sql } from 'kysely';
import { ControlPlane, seedDemo, type Principal } from '../src/control/control-plane.ts';
import { ControlError } from '../src/control/errors.ts';
import type { Scheduler } from '../src/control/scheduler/scheduler.ts';
import { SHARING_WEIGHT_SETTING } from '../src/control/scheduler/memory-placement.ts';
import { openStore } from '../src/control/store/open-store.ts';
import { syntheticFingerprint } from '../src/core/memory/fingerprint.ts';
import type { GuestMemoryProfile } from '../src/core/memory/profile.ts';
import { createHostDrivers } from '../src/drivers/host-drivers.ts';
import { SimHypervisorDriver } from '../src/drivers/sim/sim-driver.ts';
import { SimClock } from '../src/runtime/clock.ts';
import { controlPlane, storeBackends } from './helpers/control.ts';

const FLAVORS = ['m1.tiny', 'm1.small', 'm1.medium', 'm1.large'];
const PRESETS = ['pack', 'spread', 'first-fit'] as const;
const POLICIES = ['affinity', 'anti-affinity', 'soft-anti-affinity'];

type Step =
  | { k: 'create'; flavor: number; preset: number; zone: number; group: number }
  | { k: 'delete'; vm: number }
  | { k: 'migrate'; vm: number }
  | { k: 'migrate-to'; vm: number; host: number }
  | { k: 'profile'; vm: number; ws: number; seed: number; bits: number; fp: boolean }
  | { k: 'policy'; host: number; measured: boolean; risk: number }
  | { k: 'ws'; vm: number; ws: number }
  | { k: 'sharing'; private: boolean }
  | { k: 'weight'; w: number };

const arbStep: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      k: fc.constant('create' as const),
      flavor: fc.nat(3),
      preset: fc.nat(2),
      zone: fc.nat(3),
      group: fc.nat(4),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('delete' as const), vm: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('migrate' as const), vm: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({ k: fc.constant('migrate-to' as const), vm: fc.nat(), host: fc.nat() }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant('profile' as const),
      vm: fc.nat(),
      ws: fc.integer({ min: 100, max: 8000 }),
      seed: fc.nat(2),
      bits: fc.integer({ min: 1, max: 3 }),
      fp: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant('policy' as const),
      host: fc.nat(),
      measured: fc.boolean(),
      risk: fc.constantFrom(0.001, 0.01, 0.2),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant('ws' as const),
      vm: fc.nat(),
      ws: fc.integer({ min: 0, max: 16000 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('sharing' as const), private: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('weight' as const), w: fc.constantFrom(0, 1, 5) }) },
);

const arbWorld = fc.record({
  hosts: fc.array(
    fc.record({
      vcpus: fc.constantFrom(8, 16),
      memGiB: fc.constantFrom(16, 32),
      zone: fc.nat(1),
      rack: fc.nat(2),
      measured: fc.boolean(),
    }),
    { minLength: 1, maxLength: 7 },
  ),
  steps: fc.array(arbStep, { minLength: 1, maxLength: 30 }),
});

/** Wrap `decide`: every indexed decision is also made by the scan, and both answers are kept. */
function compareDecisions(s: Scheduler) {
  const pairs: { fast: unknown; scan: unknown; whole?: boolean; measured?: boolean }[] = [];
  const decide = s.decide.bind(s);
  s.decide = async (db, r, o = {}) => {
    const got = await decide(db, r, o);
    if (o.fast) {
      const want = await decide(db, r);
      const pick = (d: typeof got.decision) => ({ host: d.hostId, score: d.ranked[0]?.score });
      const winner = want.decision.hostId
        ? await db
            .selectFrom('hosts')
            .select('memory_policy')
            .where('id', '=', want.decision.hostId)
            .executeTakeFirst()
        : undefined;
      // A given target: the whole decision (reasons of a refusal too) must be the scan's.
      pairs.push(
        r.toHost === undefined
          ? {
              fast: pick(got.decision),
              scan: pick(want.decision),
              measured: winner?.memory_policy === 'measured',
            }
          : { fast: got.decision, scan: want.decision, whole: true },
      );
    }
    return got;
  };
  return pairs;
}

const profile = (ws: number, fp?: { seed: number; bits: number }): GuestMemoryProfile => ({
  at: '2027-01-15T08:00:00.000Z',
  memoryMiB: 4096,
  residentMiB: ws,
  workingSetMiB: ws,
  mergeable: true,
  ...(fp
    ? {
        fingerprint: syntheticFingerprint({
          sampleBits: fp.bits,
          zeroPages: 500,
          segments: [
            { seed: fp.seed, pages: 3000 },
            { seed: 100 + fp.seed * 7 + fp.bits, pages: 1000 },
          ],
        }),
      }
    : {}),
});

test('property: with measured hosts, the indexed scheduler chooses the host (and score) of the full scan', async () => {
  let measuredWins = 0;
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
        for (const [i, h] of w.hosts.entries()) {
          const id = (
            await cp.createHost(admin, {
              name: `h${i}`,
              vcpus: h.vcpus,
              memoryMiB: h.memGiB * 1024,
              diskGiB: 400,
              cpuRatio: 1,
              zone: `z${h.zone}`,
              rack: `r${h.rack}`,
              driver: 'sim',
            } as Parameters<ControlPlane['createHost']>[1])
          ).id;
          hostIds.push(id);
          if (h.measured) await sql`update hosts set memory_policy = 'measured' where id = ${id}`.execute(db);
        }
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
            .select(['id', 'host_id'])
            .where('deleted_at', 'is', null)
            .orderBy('name')
            .execute();
          const vm = (k: number) => vms[k % Math.max(1, vms.length)];
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
            else if (s.k === 'delete' && vm(s.vm)) await cp.vmAction(admin, vm(s.vm)!.id, 'delete');
            else if (s.k === 'migrate' && vm(s.vm)) await cp.migrateVm(admin, vm(s.vm)!.id, {});
            else if (s.k === 'migrate-to' && vm(s.vm))
              await cp.migrateVm(admin, vm(s.vm)!.id, { toHost: host(s.host) });
            else if (s.k === 'profile' && vm(s.vm)?.host_id) {
              const v = vm(s.vm)!;
              await cp.memoryProfiles.record(db, v.host_id!, [
                { vmId: v.id, profile: profile(s.ws, s.fp ? s : undefined) },
              ]);
            }
            // Another API process (or a writer that does not tell the scheduler): plain SQL.
            else if (s.k === 'policy')
              await sql`update hosts set memory_policy = ${s.measured ? 'measured' : 'static'},
                memory_risk = ${s.risk} where id = ${host(s.host)}`.execute(db);
            else if (s.k === 'ws' && vm(s.vm))
              await sql`update vm_memory_profiles set ws_mean_mib = ${s.ws} where vm_id = ${vm(s.vm)!.id}`.execute(
                db,
              );
            else if (s.k === 'sharing')
              await sql`update tenants set memory_sharing = ${s.private ? 'private' : 'shared'}
                where id = ${admin.tenantId}`.execute(db);
            else if (s.k === 'weight')
              await sql`insert into settings (key, value) values (${SHARING_WEIGHT_SETTING}, ${String(s.w)})
                on conflict (key) do update set value = excluded.value`.execute(db);
          } catch (e) {
            if (!(e instanceof ControlError)) throw e;
          }
        }
        for (const p of pairs) assert.deepEqual(p.fast, p.scan);
        measuredWins += pairs.filter((p) => p.measured).length;
        targeted += pairs.filter((p) => p.whole).length;
      } finally {
        await db.destroy();
      }
    }),
    { numRuns: 40, seed: 17 },
  );
  // Measured hosts won decisions, and migrations to a given host were judged (and compared) too.
  assert.ok(measuredWins > 0);
  assert.ok(targeted > 0);
});

for (const backend of storeBackends()) {
  describe(`memory-aware indexed placement sees other processes' writes (${backend.name})`, () => {
    if (backend.skip) return void test('skipped', { skip: backend.skip });

    test("after each plain-SQL write to what memory placement reads, the indexed decision is the scan's", async () => {
      const { url, drop } = await backend.url();
      const t = await controlPlane(url, 4);
      try {
        const { cp, admin, db } = t;
        await cp.setQuotas(admin, admin.tenantId, { vms: 1000, vcpus: 10000, memoryMiB: 1e8, diskGiB: 1e6 });
        const hosts = await db.selectFrom('hosts').select(['id', 'name']).orderBy('name').execute();
        const [a, b] = [hosts[0]!.id, hosts[1]!.id];
        await sql`update hosts set memory_policy = 'measured' where id in (${a}, ${b})`.execute(db);
        const vmIds: string[] = [];
        for (let i = 0; i < 6; i++)
          vmIds.push(
            (
              await cp.createVm(admin, {
                name: `v${i}`,
                flavor: 'm1.medium',
                image: 'tiny',
                preset: 'first-fit',
              })
            ).vmId!,
          );
        const placed = await db
          .selectFrom('vms')
          .select(['id', 'host_id'])
          .where('id', 'in', vmIds)
          .execute();
        for (const [i, v] of placed.entries())
          await cp.memoryProfiles.record(db, v.host_id!, [
            { vmId: v.id, profile: profile(1000 + i * 100, { seed: i % 2, bits: 2 }) },
          ]);
        const image = await db
          .selectFrom('images')
          .select('id')
          .where('name', '=', 'tiny')
          .executeTakeFirstOrThrow();
        const flavor = { vcpus: 2, memory_mib: 4096, disk_gib: 40, name: 'm1.medium' };
        const answers = new Set<string>();
        const check = async (what: string) => {
          for (const preset of ['pack', 'spread']) {
            const r = {
              vm: { id: 'new-vm', name: 'new', fresh: true },
              flavor,
              preset,
              image: { imageId: image.id, tenantId: admin.tenantId },
            };
            const fast = (await cp.scheduler.decide(db, r, { fast: true })).decision;
            const scan = (await cp.scheduler.decide(db, r)).decision;
            assert.equal(fast.hostId, scan.hostId, `${what} (${preset})`);
            assert.equal(fast.ranked[0]?.score, scan.ranked[0]?.score, `${what} (${preset})`);
            answers.add(`${preset} ${scan.hostId} ${scan.ranked[0]?.score}`);
          }
        };
        await check('start');
        const writes: [string, () => Promise<unknown>][] = [
          ['working sets grow', () => sql`update vm_memory_profiles set ws_mean_mib = 60000`.execute(db)],
          ["a host's risk", () => sql`update hosts set memory_risk = 0.3 where id = ${a}`.execute(db)],
          [
            "a host's guarantee",
            () => sql`update hosts set memory_guarantee = 1 where id = ${b}`.execute(db),
          ],
          [
            'a profile removed',
            () => sql`delete from vm_memory_profiles where vm_id = ${vmIds[0]!}`.execute(db),
          ],
          [
            'the tenant opts out of sharing',
            () => sql`update tenants set memory_sharing = 'private' where id = ${admin.tenantId}`.execute(db),
          ],
          [
            'a VM deleted',
            () => sql`update vms set deleted_at = '2027-01-01' where id = ${vmIds[1]!}`.execute(db),
          ],
          ['a VM moved', () => sql`update vms set host_id = ${b} where id = ${vmIds[2]!}`.execute(db)],
          [
            'a host no longer measured',
            () => sql`update hosts set memory_policy = 'static' where id = ${a}`.execute(db),
          ],
          ['working sets shrink', () => sql`update vm_memory_profiles set ws_mean_mib = 100`.execute(db)],
          [
            'a host measured again',
            () => sql`update hosts set memory_policy = 'measured' where id = ${a}`.execute(db),
          ],
        ];
        for (const [what, write] of writes) {
          await write();
          await check(what);
        }
        // The writes changed the answers (the check compared decisions that moved).
        assert.ok(answers.size > 2, [...answers].join('; '));
      } finally {
        await t.close();
        await drop();
      }
    });
  });
}
