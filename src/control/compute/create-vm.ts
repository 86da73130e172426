/**
 * Creating a VM: quota and host claims, the record, then the driver; the shared end of every VM
 * operation.
 *
 * Uses: `cp.claims`, `cp.drivers`, `cp.energy`, `cp.metering`, `cp.operations`, `cp.powerOn`,
 * `cp.scheduler`.
 */
import type { PlacementDecision } from '../../policies/placement/pipeline.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import type { Db } from '../store/open-store.ts';
import { Service } from '../service.ts';
import type { VmState } from '../vm-states.ts';

/** Creating a VM: quota and host claims, the record, then the driver; the shared end of every VM operation. */
export class CreateVm extends Service {
  /**
   * Create a VM: quota, placement and the record in one transaction, then build it on its host.
   * Returns the operation (idempotent under retry with the same key).
   */
  async createVm(
    p: Principal,
    o: {
      name: string;
      flavor: string;
      image: string;
      serverGroup?: string;
      preset?: string;
      zone?: string;
      tier?: string;
      ha?: boolean;
      haPriority?: number;
      idempotencyKey?: string;
    },
  ) {
    this.require(p, 'admin', 'member');
    const again = await this.cp.operations.existingOperation(p, o.idempotencyKey);
    if (again) return again;
    await this.cp.energy.promoteBooted();
    const flavor = await this.db
      .selectFrom('flavors')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', o.flavor), eb('name', '=', o.flavor)]))
      .executeTakeFirst();
    if (!flavor) throw new ControlError('NOT_FOUND', `No flavor "${o.flavor}"; see GET /v1/flavors`);
    const image = await this.db
      .selectFrom('images')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', o.image), eb('name', '=', o.image)]))
      .executeTakeFirst();
    if (!image) throw new ControlError('NOT_FOUND', `No image "${o.image}"; see GET /v1/images`);
    const group = o.serverGroup ? await this.cp.scheduler.groupFor(p, o.serverGroup) : undefined;
    const vmId = this.ctx.ids.uuid(),
      opId = this.ctx.ids.uuid();
    let decision!: PlacementDecision;
    this.cp.opRecords.track(opId);
    await this.db.transaction().execute(async (trx) => {
      await this.cp.claims.claimQuota(trx, p.tenantId, flavor);
      // Place, then claim the host; if a concurrent request took the room first, place again.
      for (let attempt = 0; ; attempt++) {
        decision = await this.cp.scheduler.placement(
          p,
          { flavor: flavor.id, serverGroup: group?.id, preset: o.preset, zone: o.zone, tier: o.tier },
          trx,
        );
        if (!decision.hostId && attempt < 3 && (await this.cp.powerOn.powerOnFor(trx, p, o.name, flavor, o)))
          continue;
        if (!decision.hostId)
          throw new ControlError('NO_HOST_FITS', decision.explanation, { rejected: decision.rejected });
        if (await this.cp.claims.claimHost(trx, decision.hostId, flavor)) {
          if (o.ha) await this.cp.claims.admitHa(trx, o.name, decision.hostId, flavor);
          break;
        }
        if (attempt >= 5)
          throw new ControlError(
            'NO_HOST_FITS',
            `Hosts kept filling up while placing "${o.name}"; try again`,
          );
      }
      const at = this.now();
      await trx
        .insertInto('vms')
        .values({
          id: vmId,
          tenant_id: p.tenantId,
          name: o.name,
          flavor_id: flavor.id,
          image_id: image.id,
          host_id: decision.hostId,
          server_group_id: group?.id ?? null,
          state: 'building',
          created_at: at,
          updated_at: at,
          deleted_at: null,
          ha: o.ha ? 1 : 0,
          ha_priority: o.haPriority ?? 0,
        })
        .execute();
      await trx
        .insertInto('operations')
        .values({
          id: opId,
          tenant_id: p.tenantId,
          vm_id: vmId,
          kind: 'create',
          status: 'running',
          idempotency_key: o.idempotencyKey ?? null,
          result: null,
          error: null,
          created_at: at,
          finished_at: null,
          ...this.cp.opRecords.fields({ hostId: decision.hostId }),
        })
        .execute();
      await this.event(trx, {
        tenantId: p.tenantId,
        vmId,
        hostId: decision.hostId,
        actor: p.userName,
        kind: 'vm.placed',
        detail: { name: o.name, flavor: flavor.name, image: image.name, why: decision.explanation },
      });
    });
    const host = await this.db
      .selectFrom('hosts')
      .selectAll()
      .where('id', '=', decision.hostId!)
      .executeTakeFirstOrThrow();
    await this.finish(p, opId, vmId, host.id, async () => {
      const d = this.cp.drivers.driverFor(host);
      await d.create({
        id: vmId,
        memoryMiB: flavor.memory_mib,
        vcpus: flavor.vcpus,
        image: { kernel: `image://${image.name}` },
      });
      await this.cp.opRecords.step(opId, 'guest-created', 'create');
      await d.start(vmId);
      return 'running';
    });
    return this.cp.operations.getOperation(p, opId);
  }

  /** The tenant that owns a VM: its events are filed there, whoever acted (an admin, automation). */
  private async ownerOf(trx: Db, vmId: string): Promise<string | null> {
    const v = await trx.selectFrom('vms').select('tenant_id').where('id', '=', vmId).executeTakeFirst();
    return v?.tenant_id ?? null;
  }

  /** Run the hypervisor side of an operation and record its outcome (the VM goes to error if it fails). */
  async finish(
    p: Principal,
    opId: string,
    vmId: string,
    hostId: string | null,
    work: () => Promise<VmState | null>,
  ) {
    try {
      const to = await work();
      await this.cp.opRecords.step(opId, 'driver-done');
      await this.db.transaction().execute(async (trx) => {
        if (to) {
          await trx
            .updateTable('vms')
            .set({
              state: to,
              updated_at: this.now(),
              ...(to === 'deleted' ? { deleted_at: this.now() } : {}),
            })
            .where('id', '=', vmId)
            .execute();
          await this.cp.metering.meter(trx, vmId, to);
          if (to === 'deleted') await this.cp.claims.release(trx, vmId);
        }
        await trx
          .updateTable('operations')
          .set({ status: 'succeeded', finished_at: this.now(), result: JSON.stringify({ state: to }) })
          .where('id', '=', opId)
          .execute();
        await this.event(trx, {
          tenantId: await this.ownerOf(trx, vmId),
          vmId,
          hostId,
          actor: p.userName,
          kind: `vm.${to ?? 'updated'}`,
        });
      });
    } catch (e) {
      await this.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('vms')
          .set({ state: 'error', updated_at: this.now() })
          .where('id', '=', vmId)
          .execute();
        await this.cp.metering.meter(trx, vmId, 'error');
        await trx
          .updateTable('operations')
          .set({ status: 'failed', finished_at: this.now(), error: (e as Error).message })
          .where('id', '=', opId)
          .execute();
        await this.event(trx, {
          tenantId: await this.ownerOf(trx, vmId),
          vmId,
          hostId,
          actor: p.userName,
          kind: 'vm.error',
          detail: { error: (e as Error).message },
        });
      });
    }
  }
}
