/**
 * Memory-aware placement in the one scheduler (issue 17): hosts with the 'measured' memory policy
 * admit VMs by guarantee + working set at a risk (src/policies/memory-overcommit.ts) on every path
 * (create, migrate), refuse with the memory reason in the explanation, and prefer hosts whose VMs
 * share pages with the VM; profiles come in through the agents' heartbeat route (validated). On SQLite
 * and PostgreSQL (NUBIS_TEST_PG_URL).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ControlPlane, Principal } from '../src/control/control-plane.ts';
import { ControlError } from '../src/control/errors.ts';
import { syntheticFingerprint, type PageFingerprint } from '../src/core/memory/fingerprint.ts';
import type { GuestMemoryProfile } from '../src/core/memory/profile.ts';
import { admitsMemory, type VmMemory } from '../src/policies/memory-overcommit.ts';
import { controlPlane, storeBackends } from './helpers/control.ts';

const HOST_MIB = 49152;
const FLAVOR_MIB = 4096; // m1.medium
const WS_MIB = 2560;

const profile = (ws: number, fp?: PageFingerprint): GuestMemoryProfile => ({
  at: '2027-01-15T08:00:00.000Z',
  memoryMiB: FLAVOR_MIB,
  residentMiB: ws,
  workingSetMiB: ws,
  mergeable: true,
  ...(fp ? { fingerprint: fp } : {}),
});

async function host(cp: ControlPlane, admin: Principal, name: string, zone = 'z1') {
  return cp.createHost(admin, {
    name,
    vcpus: 64,
    memoryMiB: HOST_MIB,
    diskGiB: 4000,
    cpuRatio: 4,
    memoryRatio: 1,
    zone,
    driver: 'sim',
  } as Parameters<ControlPlane['createHost']>[1]);
}

/** How many measured VMs of `ws` MiB the policy admits on one host (the expected count, not hard-coded). */
function expectedCount(ws: number): number {
  const vms: VmMemory[] = [];
  for (;;) {
    const v: VmMemory = {
      id: `v${vms.length}`,
      memoryMiB: FLAVOR_MIB,
      guaranteedMiB: FLAVOR_MIB * 0.5,
      workingSet: { meanMiB: ws, sdMiB: 0 },
      mergeable: true,
    };
    if (!admitsMemory(HOST_MIB, vms, v, { risk: 0.01, headroomMiB: 64, sharingCredit: 0.9 }).ok)
      return vms.length;
    vms.push(v);
  }
}

for (const backend of storeBackends()) {
  describe(`memory-aware placement (${backend.name})`, () => {
    if (backend.skip) return void test('skipped', { skip: backend.skip });

    test('a measured host takes more VMs than the static rule, and create and migrate are refused with the memory reason when it is full at the risk', async () => {
      const { url, drop } = await backend.url();
      const t = await controlPlane(url, 0);
      try {
        const { cp, admin, db } = t;
        await cp.setQuotas(admin, admin.tenantId, { vms: 1000, vcpus: 10000, memoryMiB: 1e8, diskGiB: 1e6 });
        const src = await host(cp, admin, 'a-static');
        const movers: string[] = [];
        for (const n of ['mover-1', 'mover-2']) {
          const op = await cp.createVm(admin, { name: n, flavor: 'm1.medium', image: 'tiny' });
          movers.push(op.vmId!);
          await cp.memoryProfiles.record(db, src.id, [{ vmId: op.vmId!, profile: profile(WS_MIB) }]);
        }
        await cp.setHostState(admin, src.id, 'maintenance');
        const dst = await host(cp, admin, 'b-measured');
        const r = await t.call(t.adminToken, 'PATCH', `/v1/hosts/${dst.id}`, {
          memoryPolicy: 'measured',
          memoryRisk: 0.01,
        });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        const staticCount = Math.floor(HOST_MIB / FLAVOR_MIB);
        const want = expectedCount(WS_MIB);
        assert.ok(want > staticCount, `the policy admits ${want}, the static rule ${staticCount}`);
        let placed = 0;
        let refusal: ControlError | undefined;
        for (let i = 0; i < 40 && !refusal; i++) {
          if (placed === staticCount + 1) {
            // Past the static rule's count: a migration to the measured host is admitted.
            const op = await cp.migrateVm(admin, movers[0]!, { toHost: dst.id });
            assert.equal(op.status, 'succeeded', op.error ?? '');
            placed++;
            continue;
          }
          try {
            const op = await cp.createVm(admin, { name: `v${i}`, flavor: 'm1.medium', image: 'tiny' });
            await cp.memoryProfiles.record(db, dst.id, [{ vmId: op.vmId!, profile: profile(WS_MIB) }]);
            // Its guarantee is the floor of the agent's balloon loop.
            assert.equal((await t.sim.get(op.vmId!))?.spec.minMemoryMiB, FLAVOR_MIB * 0.5);
            placed++;
          } catch (e) {
            if (!(e instanceof ControlError)) throw e;
            refusal = e;
          }
        }
        assert.equal(placed, want);
        assert.equal(refusal?.code, 'NO_HOST_FITS');
        assert.match(refusal!.message, /memory: expected memory .* at a 0\.01 risk/);
        const mig = await cp.migrateVm(admin, movers[1]!, { toHost: dst.id }).catch((e: unknown) => e);
        assert.ok(mig instanceof ControlError, String(mig));
        assert.match(mig.message, /memory: expected memory .* at a 0\.01 risk/);
        // The guarantee alone (half of each flavor) is far from full: the risk refused, not the claim.
        const row = await db
          .selectFrom('hosts')
          .selectAll()
          .where('id', '=', dst.id)
          .executeTakeFirstOrThrow();
        assert.ok(Number(row.used_memory_mib) * 0.5 <= HOST_MIB);
        assert.equal(Number(row.used_memory_mib), want * FLAVOR_MIB);
      } finally {
        await t.close();
        await drop();
      }
    });

    test('the sharing-aware scorer prefers the host whose VMs share pages with the new VM, and says how much', async () => {
      const { url, drop } = await backend.url();
      const t = await controlPlane(url, 0);
      try {
        const { cp, admin, db } = t;
        const a = await host(cp, admin, 'h-a');
        const b = await host(cp, admin, 'h-b');
        for (const h of [a, b])
          await cp.hostEdits.updateHost(admin, h.id, { memoryPolicy: 'measured', memoryRisk: 0.05 });
        const os = (seed: number) =>
          syntheticFingerprint({ sampleBits: 4, zeroPages: 1000, segments: [{ seed, pages: 200_000 }] });
        // One VM of image "tiny" on h-b (its content: seed 7), one of image "debian-12" on h-a (seed 9).
        await cp.setHostState(admin, a.id, 'maintenance');
        const onB = await cp.createVm(admin, { name: 'same-image', flavor: 'm1.medium', image: 'tiny' });
        await cp.memoryProfiles.record(db, b.id, [{ vmId: onB.vmId!, profile: profile(WS_MIB, os(7)) }]);
        await cp.setHostState(admin, a.id, 'up');
        await cp.setHostState(admin, b.id, 'maintenance');
        const onA = await cp.createVm(admin, {
          name: 'other-image',
          flavor: 'm1.medium',
          image: 'debian-12',
        });
        await cp.memoryProfiles.record(db, a.id, [{ vmId: onA.vmId!, profile: profile(WS_MIB, os(9)) }]);
        await cp.setHostState(admin, b.id, 'up');
        // A new "tiny" VM is predicted from the running one: it shares its pages with h-b's VM.
        const d = await cp.scheduler.placement(admin, { flavor: 'm1.medium', name: 'new' });
        const dd = await cp.scheduler.decide(db, {
          vm: { id: '(new VM)', name: 'new', fresh: true },
          flavor: { vcpus: 2, memory_mib: FLAVOR_MIB, disk_gib: 40 },
          image: {
            imageId: (await cp.listImages(admin)).find((i) => i.name === 'tiny')!.id,
            tenantId: admin.tenantId,
          },
        });
        assert.equal(dd.decision.hostId, b.id, dd.decision.explanation);
        assert.match(dd.decision.explanation, /shares ~\d+ MiB with the host's VMs/);
        assert.ok(d.hostId, d.explanation);
        // Weight 0: the sharing no longer decides (both hosts score the same: name order, h-a).
        cp.scheduler.sharingWeight = 0;
        const d0 = await cp.scheduler.decide(db, {
          vm: { id: '(new VM)', name: 'new', fresh: true },
          flavor: { vcpus: 2, memory_mib: FLAVOR_MIB, disk_gib: 40 },
          image: {
            imageId: (await cp.listImages(admin)).find((i) => i.name === 'tiny')!.id,
            tenantId: admin.tenantId,
          },
        });
        assert.equal(d0.decision.hostId, a.id, d0.decision.explanation);
        // What if: h-b's demand with a VM of the same content (on h-a) shares its 781 MiB of pages with
        // h-b's VM; with the other image's VM only the zero pages.
        await cp.setHostState(admin, b.id, 'maintenance');
        const twin = await cp.createVm(admin, { name: 'tiny-2', flavor: 'm1.medium', image: 'tiny' });
        await cp.memoryProfiles.record(db, a.id, [{ vmId: twin.vmId!, profile: profile(WS_MIB, os(7)) }]);
        await cp.setHostState(admin, b.id, 'up');
        const same = await cp.memoryReads.hostMemory(admin, b.id, { with: ['tiny-2'] });
        const other = await cp.memoryReads.hostMemory(admin, b.id, { with: [onA.vmId!] });
        assert.ok(same.with!.sharedWithHostMiB > 600, JSON.stringify(same.with));
        assert.ok(other.with!.sharedWithHostMiB < 10, JSON.stringify(other.with));
        assert.equal(same.with!.admitted, true, same.with!.reason);
        assert.ok(same.with!.demand.expectedMiB < other.with!.demand.expectedMiB);
        await assert.rejects(
          cp.memoryReads.hostMemory(admin, b.id, { with: ['same-image'] }),
          /already runs on this host/,
        );
        await assert.rejects(cp.memoryReads.hostMemory(admin, b.id, { with: ['nope'] }), /No VM "nope"/);
      } finally {
        await t.close();
        await drop();
      }
    });

    test("profiles are stored for the host's own VMs only, with a running mean and deviation", async () => {
      const { url, drop } = await backend.url();
      const t = await controlPlane(url, 0);
      try {
        const { cp, admin, db } = t;
        const h = await host(cp, admin, 'h1');
        const op = await cp.createVm(admin, { name: 'v', flavor: 'm1.medium', image: 'tiny' });
        const s1 = await cp.memoryProfiles.record(db, h.id, [
          { vmId: op.vmId!, profile: profile(1000) },
          { vmId: 'not-mine', profile: profile(1000) },
        ]);
        assert.deepEqual(s1, { stored: 1, ignored: 1 });
        await cp.memoryProfiles.record(db, h.id, [{ vmId: op.vmId!, profile: profile(2000) }]);
        const p = await cp.memoryProfiles.get(db, op.vmId!);
        assert.equal(p?.workingSetMiB, 2000);
        assert.equal(p?.samples, 2);
        assert.ok(p!.wsMeanMiB > 1000 && p!.wsMeanMiB < 2000);
        assert.ok(p!.wsSdMiB > 0);
        const none = await cp.memoryProfiles.get(db, 'not-mine');
        assert.equal(none, undefined);
        // A new VM is predicted from a running VM of its image, one of its own tenant first.
        const other = await cp.createTenant(admin, 'globex');
        const op2 = await cp.createVm(admin, { name: 'w', flavor: 'm1.medium', image: 'tiny' });
        await cp.memoryProfiles.record(db, h.id, [
          { vmId: op2.vmId!, profile: { ...profile(3000), at: '2027-01-15T09:00:00.000Z' } },
        ]);
        await db.updateTable('vms').set({ tenant_id: other.id }).where('id', '=', op2.vmId!).execute();
        const image = (
          await db.selectFrom('vms').select('image_id').where('id', '=', op.vmId!).executeTakeFirstOrThrow()
        ).image_id;
        const mine = await cp.memoryProfiles.predict(db, { imageId: image, tenantId: admin.tenantId });
        assert.equal(mine?.fromVm, op.vmId);
        const theirs = await cp.memoryProfiles.predict(db, { imageId: image, tenantId: other.id });
        assert.equal(theirs?.fromVm, op2.vmId);
        const stranger = await cp.memoryProfiles.predict(db, { imageId: image, tenantId: 'nobody' });
        assert.equal(stranger?.fromVm, op2.vmId, 'the latest of any tenant');
        await db.updateTable('vms').set({ tenant_id: admin.tenantId }).where('id', '=', op2.vmId!).execute();
      } finally {
        await t.close();
        await drop();
      }
    });

    test("a private tenant's VMs run with mem-merge off and never count as sharing; the memory routes show no hashes", async () => {
      const { url, drop } = await backend.url();
      const t = await controlPlane(url, 0);
      try {
        const { cp, admin, db } = t;
        const h = await host(cp, admin, 'h1');
        const r = await t.call(t.adminToken, 'PATCH', `/v1/tenants/${admin.tenantId}`, {
          memorySharing: 'private',
        });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.equal(r.body.memorySharing, 'private');
        const op = await cp.createVm(admin, { name: 'secret', flavor: 'm1.medium', image: 'tiny' });
        assert.equal((await t.sim.get(op.vmId!))?.spec.mergeable, false);
        const fp = syntheticFingerprint({ sampleBits: 2, segments: [{ seed: 1, pages: 4000 }] });
        await cp.memoryProfiles.record(db, h.id, [{ vmId: op.vmId!, profile: profile(WS_MIB, fp) }]);
        const vms = (
          await cp.memoryProfiles.vmsOn(db, [{ id: h.id, policy: 'measured', risk: 0.01, guarantee: 0.5 }])
        ).get(h.id)!;
        assert.equal(vms[0]?.mergeable, false);
        assert.equal(vms[0]?.fingerprint, undefined);
        const vm = await t.call(t.adminToken, 'GET', `/v1/vms/${op.vmId}/memory`);
        assert.equal(vm.status, 200);
        assert.equal(vm.body.workingSetMiB, WS_MIB);
        assert.equal(vm.body.fingerprint.pages, 4000);
        assert.doesNotMatch(JSON.stringify(vm.body), /hashes|counts/);
        const hm = await t.call(t.adminToken, 'GET', `/v1/hosts/${h.id}/memory`);
        assert.equal(hm.status, 200);
        assert.equal(hm.body.policy, 'static');
        assert.equal(hm.body.vms.length, 1);
        assert.equal(hm.body.demand.sharedMiB, 0);
        assert.doesNotMatch(JSON.stringify(hm.body), /hashes/);
        // Back to shared: a new VM merges again.
        await t.call(t.adminToken, 'PATCH', `/v1/tenants/${admin.tenantId}`, { memorySharing: 'shared' });
        const op2 = await cp.createVm(admin, { name: 'open', flavor: 'm1.medium', image: 'tiny' });
        assert.equal((await t.sim.get(op2.vmId!))?.spec.mergeable, true);
      } finally {
        await t.close();
        await drop();
      }
    });

    test('the heartbeat route refuses an invalid memory profile naming the field', async () => {
      const { url, drop } = await backend.url();
      const t = await controlPlane(url, 0);
      try {
        const r = await t.call('x', 'POST', '/v1/agents/heartbeat', {
          guests: [
            { id: 'g1', cpu: 0.1 },
            { id: 'g2', memory: { ...profile(100), workingSetMiB: -1 } },
          ],
        });
        assert.equal(r.status, 400);
        assert.match(JSON.stringify(r.body), /guests\[1\]\.memory: workingSetMiB must be/);
      } finally {
        await t.close();
        await drop();
      }
    });
  });
}
