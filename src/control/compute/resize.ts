/**
 * Resizing a VM to another flavor: stopped (in place) or running (through a migration when its host
 * lacks room).
 *
 * Uses: `cp.claims`, `cp.drivers`, `cp.metering`, `cp.migrations`, `cp.operations`, `cp.scheduler`,
 * `cp.vmCreate`.
 */
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import type { Db } from '../store/open-store.ts';
import type { VmRow } from './vm-reads.ts';

/** Resizing a VM to another flavor: stopped (in place) or running (through a migration when its host lacks room). */
export class Resize extends Service {
  /**
   * Cold resize (vertical): a stopped VM gets another flavor on its host if the difference fits
   * there; otherwise it is refused (migrate it first). Quota and host counters move by the difference.
   */
  async resizeVm(p: Principal, v: VmRow, flavorRef: string | undefined) {
    if (!flavorRef) throw new ControlError('BAD_REQUEST', 'resize needs flavor');
    if (v.state === 'running') return this.resizeRunning(p, v, flavorRef);
    if (v.state !== 'stopped')
      throw new ControlError(
        'INVALID_STATE',
        `Cannot resize VM "${v.name}" (${v.id}): it is ${v.state}; only running (live or with a restart) and stopped VMs resize`,
        { state: v.state },
      );
    const [from, to] = await Promise.all([
      this.db.selectFrom('flavors').selectAll().where('id', '=', v.flavor_id).executeTakeFirstOrThrow(),
      this.db
        .selectFrom('flavors')
        .selectAll()
        .where((eb) => eb.or([eb('id', '=', flavorRef), eb('name', '=', flavorRef)]))
        .executeTakeFirst(),
    ]);
    if (!to) throw new ControlError('NOT_FOUND', `No flavor "${flavorRef}"`);
    const delta = {
      vcpus: to.vcpus - from.vcpus,
      memory_mib: to.memory_mib - from.memory_mib,
      disk_gib: to.disk_gib - from.disk_gib,
    };
    const opId = this.ctx.ids.uuid();
    await this.db.transaction().execute(async (trx) => {
      // Claim the difference (a negative difference always fits).
      const grow = {
        vcpus: Math.max(0, delta.vcpus),
        memory_mib: Math.max(0, delta.memory_mib),
        disk_gib: Math.max(0, delta.disk_gib),
      };
      await this.cp.claims.claimQuota(trx, v.tenant_id, grow, 0);
      await giveBack(trx, 'tenants', v.tenant_id!, delta, grow);
      if (v.host_id) {
        const ok = await this.cp.claims.claimHost(trx, v.host_id, grow, 0);
        if (!ok) {
          const h = await trx
            .selectFrom('hosts')
            .select('name')
            .where('id', '=', v.host_id)
            .executeTakeFirstOrThrow();
          throw new ControlError(
            'NO_HOST_FITS',
            `Flavor ${to.name} does not fit on ${h.name} next to its other VMs; migrate the VM first`,
          );
        }
        await giveBack(trx, 'hosts', v.host_id!, delta, grow);
      }
      await trx
        .updateTable('vms')
        .set({ flavor_id: to.id, updated_at: this.now() })
        .where('id', '=', v.id)
        .execute();
      await trx
        .insertInto('operations')
        .values({
          id: opId,
          tenant_id: v.tenant_id,
          vm_id: v.id,
          kind: 'resize',
          status: 'succeeded',
          idempotency_key: null,
          result: JSON.stringify({ from: from.name, to: to.name }),
          error: null,
          created_at: this.now(),
          finished_at: this.now(),
        })
        .execute();
      await this.event(trx, {
        tenantId: v.tenant_id,
        vmId: v.id,
        hostId: v.host_id,
        actor: p.userName,
        kind: 'vm.resized',
        detail: { from: from.name, to: to.name },
      });
    });
    // The hypervisor's definition follows: re-create the (stopped) guest with the new size.
    const host = v.host_id
      ? await this.db.selectFrom('hosts').selectAll().where('id', '=', v.host_id).executeTakeFirst()
      : undefined;
    if (host) {
      const d = this.cp.drivers.driverFor(host);
      const g = await d.get(v.id);
      if (g) {
        await d.delete(v.id);
        await d.create({ ...g.spec, memoryMiB: to.memory_mib, vcpus: to.vcpus });
      }
    }
    return this.cp.operations.getOperation(p, opId);
  }

  /**
   * Resize a running VM. Live when the driver allows it: same vCPUs and memory within what the guest
   * booted with (the balloon gives and takes it back, as oVirt's memory hot-unplug / balloon resize).
   * Otherwise with a restart (stop, redefine, start). If the new size does not fit on its host,
   * placement picks another: a live resize migrates there first, a restart starts it there.
   */
  private async resizeRunning(p: Principal, v: VmRow, flavorRef: string) {
    const [from, to] = await Promise.all([
      this.db.selectFrom('flavors').selectAll().where('id', '=', v.flavor_id).executeTakeFirstOrThrow(),
      this.db
        .selectFrom('flavors')
        .selectAll()
        .where((eb) => eb.or([eb('id', '=', flavorRef), eb('name', '=', flavorRef)]))
        .executeTakeFirst(),
    ]);
    if (!to) throw new ControlError('NOT_FOUND', `No flavor "${flavorRef}"`);
    if (to.id === from.id)
      throw new ControlError('BAD_REQUEST', `VM "${v.name}" already has flavor ${to.name}`);
    let host = await this.db
      .selectFrom('hosts')
      .selectAll()
      .where('id', '=', v.host_id!)
      .executeTakeFirstOrThrow();
    const guest = await this.cp.drivers.driverFor(host).get(v.id);
    const bootMiB = guest?.spec.memoryMiB ?? from.memory_mib;
    const live = to.vcpus === from.vcpus && to.memory_mib <= bootMiB;
    const delta = {
      vcpus: to.vcpus - from.vcpus,
      memory_mib: to.memory_mib - from.memory_mib,
      disk_gib: to.disk_gib - from.disk_gib,
    };
    const grow = {
      vcpus: Math.max(0, delta.vcpus),
      memory_mib: Math.max(0, delta.memory_mib),
      disk_gib: Math.max(0, delta.disk_gib),
    };
    const free = (h: typeof host) =>
      h.vcpus * h.cpu_ratio - h.reserved_vcpus - Number(h.used_vcpus) >= grow.vcpus &&
      // A measured host: its guarantee, as the claim counts it (docs/control-plane.md, memory).
      (h.memory_policy === 'measured'
        ? (Number(h.used_memory_mib) + grow.memory_mib) * h.memory_guarantee <=
          h.memory_mib - h.reserved_memory_mib
        : h.memory_mib * h.memory_ratio - h.reserved_memory_mib - Number(h.used_memory_mib) >=
          grow.memory_mib) &&
      h.disk_gib * h.disk_ratio - h.reserved_disk_gib - Number(h.used_disk_gib) >= grow.disk_gib;
    let moved: string | null = null;
    if (!free(host)) {
      // Re-placement: where the new size fits.
      const vmRef = { id: v.id, name: v.name, serverGroupId: v.server_group_id, zone: v.zone, tier: v.tier };
      const { decision: d } = await this.cp.scheduler.decide(this.db, {
        vm: vmRef,
        flavor: to,
        exclude: [host.id],
        driver: host.driver,
      });
      if (!d.hostId)
        throw new ControlError(
          'NO_HOST_FITS',
          `Flavor ${to.name} does not fit on ${host.name} and no other host takes it: ${d.explanation}`,
          { rejected: d.rejected },
        );
      const target = await this.db
        .selectFrom('hosts')
        .selectAll()
        .where('id', '=', d.hostId)
        .executeTakeFirstOrThrow();
      if (live) {
        const op = await this.cp.migrations.migrateVm(p, v.id, { toHost: target.id });
        if (op.status !== 'succeeded')
          throw new ControlError(
            'BACKEND',
            `Resize needs ${v.name} on ${target.name}, but the migration failed: ${op.error}; it still runs on ${host.name} with ${from.name}`,
          );
      } else {
        await this.cp.drivers
          .driverFor(host)
          .stop(v.id, { force: true })
          .catch(() => undefined);
        await this.cp.drivers
          .driverFor(host)
          .delete(v.id)
          .catch(() => undefined);
        await this.db.transaction().execute(async (trx) => {
          await this.cp.scheduler.placeAndClaim(trx, { vm: vmRef, flavor: from, toHost: target.id });
          await this.cp.claims.releaseHost(trx, host.id, from);
          await trx
            .updateTable('vms')
            .set({ host_id: target.id, updated_at: this.now() })
            .where('id', '=', v.id)
            .execute();
        });
      }
      moved = target.name;
      host = target;
    }
    const opId = this.ctx.ids.uuid();
    this.cp.opRecords.track(opId);
    await this.db.transaction().execute(async (trx) => {
      await this.cp.opRecords.holdVm(trx, v);
      await this.cp.claims.claimQuota(trx, v.tenant_id, grow, 0);
      await giveBack(trx, 'tenants', v.tenant_id!, delta, grow);
      if (!(await this.cp.claims.claimHost(trx, host.id, grow, 0)))
        throw new ControlError('NO_HOST_FITS', `Flavor ${to.name} no longer fits on ${host.name}; try again`);
      await giveBack(trx, 'hosts', host.id!, delta, grow);
      await trx
        .updateTable('vms')
        .set({ flavor_id: to.id, updated_at: this.now() })
        .where('id', '=', v.id)
        .execute();
      await this.cp.metering.restartUsage(trx, v.id, v.tenant_id, host.id, to.id);
      await this.cp.opRecords.begin(trx, {
        id: opId,
        tenantId: v.tenant_id,
        vmId: v.id,
        kind: 'resize',
        hostId: host.id,
        detail: { from: from.id, to: to.id },
      });
    });
    await this.cp.vmCreate.finish(p, opId, v.id, host.id, async () => {
      const d = this.cp.drivers.driverFor(host);
      if (live) await d.setBalloon(v.id, to.memory_mib);
      else {
        const g = await d.get(v.id);
        if (g) {
          if (g.state === 'running' || g.state === 'paused') await d.stop(v.id, { force: true });
          await d.delete(v.id);
        }
        await d.create({
          ...(g?.spec ?? guest?.spec ?? { id: v.id, image: { kernel: 'image://tiny' } }),
          id: v.id,
          memoryMiB: to.memory_mib,
          vcpus: to.vcpus,
        });
        await d.start(v.id);
      }
      await this.db.transaction().execute(async (trx) =>
        this.event(trx, {
          tenantId: v.tenant_id,
          vmId: v.id,
          hostId: host.id,
          actor: p.userName,
          kind: 'vm.resized',
          detail: {
            from: from.name,
            to: to.name,
            how: live ? 'live (balloon)' : 'restart',
            ...(moved ? { movedTo: moved } : {}),
          },
        }),
      );
      return 'running';
    });
    const op = await this.cp.operations.getOperation(p, opId);
    return {
      ...op,
      result: {
        ...(op.result ?? {}),
        from: from.name,
        to: to.name,
        how: live ? 'live' : 'restart',
        movedTo: moved,
      },
    };
  }
}

type Sizes = { vcpus: number; memory_mib: number; disk_gib: number };

/**
 * The part of a resize that shrinks a counter (`delta - grow`, never positive) needs no room check:
 * apply it to a tenant's or a host's used counters (the growing part was claimed before).
 */
function giveBack(trx: Db, table: 'tenants' | 'hosts', id: string, delta: Sizes, grow: Sizes) {
  return trx
    .updateTable(table)
    .set((eb) => ({
      used_vcpus: eb('used_vcpus', '+', delta.vcpus - grow.vcpus),
      used_memory_mib: eb('used_memory_mib', '+', delta.memory_mib - grow.memory_mib),
      used_disk_gib: eb('used_disk_gib', '+', delta.disk_gib - grow.disk_gib),
    }))
    .where('id', '=', id)
    .execute();
}
