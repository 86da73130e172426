/**
 * Starting a VM again where its host cannot run it: an HA VM whose restart failed, or a VM whose host
 * failed or was switched off. It is placed like a create (capacity claimed on the new host, given
 * back on the old one), recorded as a `start` operation before anything runs, and built there.
 *
 * Uses: `cp.claims`, `cp.drivers`, `cp.opRecords`, `cp.operations`, `cp.scheduler` (placeAndClaim), `cp.vmCreate`.
 */
import { ControlError } from '../errors.ts';
import type { HostRow } from '../inventory/hosts.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import { HighAvailability } from './ha.ts';
import type { VmRow } from './vm-reads.ts';

/** Starting a VM again on another host, and re-creating a lost guest. */
export class Restarts extends Service {
  /**
   * Start `v` on a host placement picks (its own host is gone, failed, off or in maintenance).
   * @throws ControlError NO_HOST_FITS naming why no host takes it (the VM stays as it was);
   *   INVALID_STATE when its local volumes are on its host (it waits for that host)
   */
  async startElsewhere(p: Principal, v: VmRow) {
    // Its local volumes are on its host: no other host has their data, so it can only start there.
    const local = v.host_id ? await this.cp.ha.localVolumesOn(v.id, v.host_id) : [];
    if (local.length) {
      const h = await this.db
        .selectFrom('hosts')
        .select('name')
        .where('id', '=', v.host_id!)
        .executeTakeFirst();
      throw new ControlError(
        'INVALID_STATE',
        `Cannot start VM "${v.name}" elsewhere: ${HighAvailability.waitingReason(h?.name ?? v.host_id!, local)}; start it when that host is up again (an HA VM restarts there by itself), or delete it`,
        { volumes: local },
      );
    }
    const flavor = await this.db
      .selectFrom('flavors')
      .selectAll()
      .where('id', '=', v.flavor_id)
      .executeTakeFirstOrThrow();
    const opId = this.ctx.ids.uuid();
    let target!: HostRow;
    this.cp.opRecords.track(opId);
    await this.db.transaction().execute(async (trx) => {
      await this.cp.opRecords.holdVm(trx, v);
      // The one scheduler places it (its pins, server group and constraints judged) and claims the room.
      const placed = await this.cp.scheduler
        .placeAndClaim(trx, {
          vm: { id: v.id, name: v.name, serverGroupId: v.server_group_id, zone: v.zone, tier: v.tier },
          flavor,
          exclude: v.host_id ? [v.host_id] : [],
        })
        .catch((e: unknown) => {
          if (e instanceof ControlError && e.code === 'NO_HOST_FITS')
            throw new ControlError(
              'NO_HOST_FITS',
              `Cannot start VM "${v.name}" elsewhere: ${e.message}`,
              e.details,
            );
          throw e;
        });
      const d = placed.decision;
      if (v.host_id) await this.cp.claims.releaseHost(trx, v.host_id, flavor);
      target = await trx
        .selectFrom('hosts')
        .selectAll()
        .where('id', '=', placed.hostId)
        .executeTakeFirstOrThrow();
      await trx
        .updateTable('vms')
        .set({ host_id: target.id, state: 'building', updated_at: this.now() })
        .where('id', '=', v.id)
        .execute();
      await this.cp.opRecords.begin(trx, {
        id: opId,
        tenantId: v.tenant_id,
        vmId: v.id,
        kind: 'start',
        hostId: target.id,
        detail: { from: v.host_id },
      });
      await this.event(trx, {
        tenantId: v.tenant_id,
        vmId: v.id,
        hostId: target.id,
        actor: p.userName,
        kind: 'vm.placed',
        detail: { name: v.name, from: v.host_id, why: d.explanation },
      });
    });
    await this.cp.vmCreate.finish(p, opId, v.id, target.id, async () => {
      await this.recreate(v, target);
      return 'running';
    });
    return this.cp.operations.getOperation(p, opId);
  }

  /** Build `v`'s guest on `host` (if it is not there) and start it. */
  async recreate(
    v: Pick<VmRow, 'id' | 'flavor_id' | 'image_id' | 'tenant_id'>,
    host: HostRow,
  ): Promise<void> {
    const f = await this.db
      .selectFrom('flavors')
      .select(['vcpus', 'memory_mib'])
      .where('id', '=', v.flavor_id)
      .executeTakeFirstOrThrow();
    const image = await this.db
      .selectFrom('images')
      .select(['id', 'name'])
      .where('id', '=', v.image_id)
      .executeTakeFirstOrThrow();
    const d = this.cp.drivers.driverFor(host);
    const g = await d.get(v.id);
    if (!g)
      await d.create({
        id: v.id,
        memoryMiB: f.memory_mib,
        vcpus: f.vcpus,
        ...(await this.cp.memoryProfiles.guestMemory(this.db, v.tenant_id, {
          hostId: host.id,
          memoryMiB: f.memory_mib,
        })),
        ...(await this.cp.volumes.guestStorage(this.db, v.id, image.id)),
        ...(await this.cp.networkPush.prepareGuest(v.id, host.id)),
      });
    if (!g || g.state !== 'running') await d.start(v.id);
  }
}
