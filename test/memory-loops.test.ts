/**
 * The memory model's loops and its invariant (issue 17): the balloon-target loop sets the policy's
 * targets on measured hosts (only when they move by more than its threshold, each change an event);
 * the profile loop asks drivers of hosts without an agent for their guests' profiles; and a property
 * (fast-check): across random creates, migrations, deletes and profile reports on measured hosts,
 * the guaranteed memory of a host never exceeds its memory.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { ControlPlane, Principal } from '../src/control/control-plane.ts';
import { balloonTargetsController, memoryProfilesController } from '../src/control/controllers/memory.ts';
import { ControlError } from '../src/control/errors.ts';
import type { GuestMemoryProfile } from '../src/core/memory/profile.ts';
import { balloonTargets } from '../src/policies/memory-overcommit.ts';
import { controlPlane, storeBackends } from './helpers/control.ts';

const profile = (ws: number, memoryMiB = 4096): GuestMemoryProfile => ({
  at: '2027-01-15T08:00:00.000Z',
  memoryMiB,
  residentMiB: ws,
  workingSetMiB: ws,
  mergeable: true,
});

async function host(cp: ControlPlane, admin: Principal, name: string, memoryMiB: number, memoryRatio = 1) {
  return cp.createHost(admin, {
    name,
    vcpus: 64,
    memoryMiB,
    diskGiB: 4000,
    cpuRatio: 4,
    memoryRatio,
    driver: 'sim',
  } as Parameters<ControlPlane['createHost']>[1]);
}

for (const backend of storeBackends()) {
  describe(`memory loops (${backend.name})`, () => {
    if (backend.skip) return void test('skipped', { skip: backend.skip });

    test('the balloon loop sets the policy targets on a measured host, again only when they move past the threshold', async () => {
      const { url, drop } = await backend.url();
      const t = await controlPlane(url, 0);
      try {
        const { cp, admin, db } = t;
        const h = await host(cp, admin, 'h1', 12288);
        await cp.hostEdits.updateHost(admin, h.id, { memoryPolicy: 'measured', memoryRisk: 0.05 });
        const ids: string[] = [];
        for (const [i, ws] of [1000, 1500, 2500].entries()) {
          const op = await cp.createVm(admin, { name: `v${i}`, flavor: 'm1.medium', image: 'tiny' });
          ids.push(op.vmId!);
          await cp.memoryProfiles.record(db, h.id, [{ vmId: op.vmId!, profile: profile(ws) }]);
        }
        const loop = balloonTargetsController(cp, { intervalS: 60, thresholdMiB: 64 });
        await loop.tick(0);
        const settings = (await cp.memoryProfiles.measuredHosts(db))[0]!;
        const vms = (await cp.memoryProfiles.vmsOn(db, [settings])).get(h.id)!;
        const want = balloonTargets(12288, vms, { risk: 0.05, headroomMiB: 64, sharingCredit: 0.9 });
        for (const tg of want.targets) assert.equal((await t.sim.metrics(tg.id)).balloonMiB, tg.targetMiB);
        const events = async () =>
          (await db.selectFrom('events').selectAll().where('kind', '=', 'host.balloon-targets').execute())
            .length;
        assert.equal(await events(), 1);
        // Nothing moved: no new call, no new event.
        await loop.tick(60);
        assert.equal(await events(), 1);
        // One VM's working set grows well past the threshold: its target follows.
        for (let i = 0; i < 5; i++)
          await cp.memoryProfiles.record(db, h.id, [{ vmId: ids[0]!, profile: profile(3000) }]);
        await loop.tick(120);
        assert.equal(await events(), 2);
        assert.ok((await t.sim.metrics(ids[0]!)).balloonMiB > want.targets[0]!.targetMiB);
      } finally {
        await t.close();
        await drop();
      }
    });

    test('the profile loop stores what the driver of a host without an agent measures', async () => {
      const { url, drop } = await backend.url();
      const t = await controlPlane(url, 0);
      try {
        const { cp, admin, db } = t;
        await host(cp, admin, 'h1', 16384);
        const op = await cp.createVm(admin, { name: 'v', flavor: 'm1.medium', image: 'tiny' });
        const asked: string[] = [];
        // The driver of a simulated host, with a memoryProfile that records what it was asked.
        const drivers = {
          driverFor: (h: Parameters<ControlPlane['drivers']['driverFor']>[0]) =>
            Object.assign(Object.create(cp.drivers.driverFor(h)), {
              memoryProfile: async (id: string) => {
                asked.push(id);
                return profile(1234);
              },
            }),
        };
        const fake = {
          db,
          ctx: cp.ctx,
          memoryProfiles: cp.memoryProfiles,
          drivers,
        } as unknown as ControlPlane;
        await memoryProfilesController(fake, { intervalS: 60 }).tick(0);
        assert.deepEqual(asked, [op.vmId]);
        assert.equal((await cp.memoryProfiles.get(db, op.vmId!))?.workingSetMiB, 1234);
      } finally {
        await t.close();
        await drop();
      }
    });

    test('property: on measured hosts the guaranteed memory never exceeds a host memory, whatever the creates, moves and profiles', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            guarantees: fc.array(fc.constantFrom(0.25, 0.5, 1), { minLength: 2, maxLength: 3 }),
            risk: fc.constantFrom(0.001, 0.01, 0.2),
            steps: fc.array(
              fc.oneof(
                fc.record({ k: fc.constant('create' as const), flavor: fc.nat(2) }),
                fc.record({ k: fc.constant('delete' as const), vm: fc.nat() }),
                fc.record({ k: fc.constant('migrate' as const), vm: fc.nat(), host: fc.nat() }),
                fc.record({ k: fc.constant('profile' as const), vm: fc.nat(), ws: fc.nat(4096) }),
              ),
              { minLength: 5, maxLength: 25 },
            ),
          }),
          async (w) => {
            const { url, drop } = await backend.url();
            const t = await controlPlane(url, 0);
            try {
              const { cp, admin, db } = t;
              await cp.setQuotas(admin, admin.tenantId, {
                vms: 1000,
                vcpus: 10000,
                memoryMiB: 1e8,
                diskGiB: 1e6,
              });
              const hosts: string[] = [];
              for (const [i, g] of w.guarantees.entries()) {
                // A static ratio of 3 would overbook the guarantees: only the measured claim holds them.
                const h = await host(cp, admin, `h${i}`, 8192, 3);
                await cp.hostEdits.updateHost(admin, h.id, {
                  memoryPolicy: 'measured',
                  memoryRisk: w.risk,
                  memoryGuarantee: g,
                });
                hosts.push(h.id);
              }
              let n = 0;
              for (const s of w.steps) {
                const vms = await db
                  .selectFrom('vms')
                  .select(['id', 'host_id'])
                  .where('deleted_at', 'is', null)
                  .orderBy('name')
                  .execute();
                const vm = (k: number) => vms[k % Math.max(1, vms.length)];
                try {
                  if (s.k === 'create')
                    await cp.createVm(admin, {
                      name: `v${n++}`,
                      flavor: ['m1.small', 'm1.medium', 'm1.large'][s.flavor]!,
                      image: 'tiny',
                    });
                  else if (s.k === 'delete' && vm(s.vm)) await cp.vmAction(admin, vm(s.vm)!.id, 'delete');
                  else if (s.k === 'migrate' && vm(s.vm))
                    await cp.migrateVm(admin, vm(s.vm)!.id, { toHost: hosts[s.host % hosts.length] });
                  else if (s.k === 'profile' && vm(s.vm)?.host_id)
                    await cp.memoryProfiles.record(db, vm(s.vm)!.host_id!, [
                      { vmId: vm(s.vm)!.id, profile: profile(s.ws) },
                    ]);
                } catch (e) {
                  if (!(e instanceof ControlError)) throw e;
                }
                const rows = await db
                  .selectFrom('vms')
                  .innerJoin('flavors', 'flavors.id', 'vms.flavor_id')
                  .innerJoin('hosts', 'hosts.id', 'vms.host_id')
                  .select([
                    'hosts.id',
                    'hosts.memory_mib',
                    'hosts.memory_guarantee',
                    'flavors.memory_mib as vm_mib',
                  ])
                  .where('vms.deleted_at', 'is', null)
                  .execute();
                const g = new Map<string, number>();
                for (const r of rows) g.set(r.id, (g.get(r.id) ?? 0) + r.vm_mib * Number(r.memory_guarantee));
                for (const r of rows)
                  assert.ok(
                    g.get(r.id)! <= r.memory_mib,
                    `host ${r.id}: ${g.get(r.id)} MiB guaranteed of ${r.memory_mib}`,
                  );
              }
            } finally {
              await t.close();
              await drop();
            }
          },
        ),
        { numRuns: backend.name === 'SQLite' ? 12 : 4, seed: 17 },
      );
    });
  });
}
