/**
 * Creating a VM: the quota claim, the host from the scheduler (with the VM's server group, zone and
 * tier pins and the constraints it joins), the record, then the driver; the shared end of every VM
 * operation.
 *
 * Uses: `cp.claims`, `cp.constraints`, `cp.drivers`, `cp.energy`, `cp.metering`, `cp.operations`,
 * `cp.scheduler`.
 */
import { authorize } from '../authz.ts';
import type { PlacementDecision } from '../../policies/placement/pipeline.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import type { Db } from '../store/open-store.ts';
import type { VmTable } from '../store/schema.ts';
import type { Insertable } from 'kysely';
import { Service } from '../service.ts';
import { physnetFences } from '../network/physnet-fences.ts';
import { storageFences } from '../storage/storage-fences.ts';
import { MAX_VM_METADATA } from './vm-attributes.ts';
import type { VmState } from '../vm-states.ts';

/** How an operation ended, as `finish` recorded it (the fields of its API answer). */
export interface OpOutcome {
  status: 'succeeded' | 'failed';
  result: { state: VmState | null } | null;
  error: string | null;
  finishedAt: string;
}

/** The attributes of a VM a create may set beyond nubis's own (migration 0962, for Nova's API). */
export type VmAttributes = Partial<
  Pick<
    Insertable<VmTable>,
    'metadata' | 'tags' | 'description' | 'access_ipv4' | 'access_ipv6' | 'disk_config'
  >
>;

/** Thrown inside a create's transaction when its host claim lost a race: it rolls back and decides again. */
const LOST_RACE = Symbol('lost-race');

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
      /** Constraints (names or ids in the tenant) the new VM joins: judged when placing it. */
      constraints?: string[];
      /** Networks (names or ids of the caller's) to put one new port on each, in order (NICs). */
      networks?: string[];
      /** Existing free ports of the caller's to attach (after the networks' ones). */
      ports?: string[];
      /** Security groups of the new ports (default: the tenant's `default` group). */
      securityGroups?: string[];
      /** A key pair (name) of the tenant: its public key is served by the metadata service. */
      key?: string;
      /** User data for cloud-init (at most 64 KiB). */
      userData?: string;
      /** Available volumes of the tenant (names or ids) to attach at build, in order. */
      volumes?: string[];
      /** Attributes of the record asked for through Nova's API (metadata, description, access IPs...). */
      attrs?: VmAttributes;
      /** Called once the VM is recorded (building), before its guest is built. */
      onRecorded?: (vmId: string, opId: string) => void;
    },
  ) {
    authorize(p, 'vm:create');
    const meta = o.attrs?.metadata ? Object.keys(JSON.parse(o.attrs.metadata) as object).length : 0;
    if (meta > MAX_VM_METADATA)
      throw new ControlError('QUOTA_EXCEEDED', `A VM may have at most ${MAX_VM_METADATA} metadata items`);
    await this.cp.energy.promoteBooted({ ifBooting: true });
    const flavor = await this.db
      .selectFrom('flavors')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', o.flavor), eb('name', '=', o.flavor)]))
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (!flavor) throw new ControlError('NOT_FOUND', `No flavor "${o.flavor}"; see GET /v1/flavors`);
    // The catalog's images, public ones and the tenant's own uploads (another tenant's: NOT_FOUND).
    const image = await this.cp.images.visible(this.db, p, o.image);
    if (image.status !== 'active')
      throw new ControlError(
        'INVALID_STATE',
        `Image "${image.name}" is ${image.status}: wait for its upload`,
      );
    // The image's own minimums (Glance's min_ram, min_disk), as Nova checks them against the flavor.
    if (Number(image.min_ram) > flavor.memory_mib)
      throw new ControlError(
        'BAD_REQUEST',
        `Flavor "${flavor.name}" has ${flavor.memory_mib} MiB of memory: image "${image.name}" needs at least ${image.min_ram} MiB`,
      );
    if (flavor.disk_gib > 0 && Number(image.min_disk) > flavor.disk_gib)
      throw new ControlError(
        'BAD_REQUEST',
        `Flavor "${flavor.name}" has a ${flavor.disk_gib} GiB disk: image "${image.name}" needs at least ${image.min_disk} GiB`,
      );
    await this.cp.keypairs.checkVmAccess(p, o);
    const group = o.serverGroup ? await this.cp.scheduler.groupFor(p, o.serverGroup) : undefined;
    const vmId = this.ctx.ids.uuid(),
      opId = this.ctx.ids.uuid();
    let decision!: PlacementDecision;
    const join = await this.cp.constraints.toJoin(this.db, p, vmId, o.constraints ?? []);
    // Networks that live on a physnet fence the VM to the hosts wired to it.
    const fences = await physnetFences(
      this.db,
      [],
      [{ vmId, networkIds: await this.cp.ports.networksOf(p, o) }],
    );
    // Volumes attached at build: their pool (and a local volume's host) fence the VM.
    const vols = await Promise.all(
      (o.volumes ?? []).map((r) => this.cp.volumes.find(this.db, p, r, 'volume:write')),
    );
    for (const v of vols)
      if (v.state !== 'available' || v.vm_id)
        throw new ControlError(
          'INVALID_STATE',
          `Volume "${v.name}" is ${v.state}: only an available volume attaches`,
        );
    if (vols.length)
      fences.push(...(await storageFences(this.db, [], [{ vmId, volumeIds: vols.map((v) => v.id) }])));
    this.cp.opRecords.track(opId);
    const req = {
      vm: { id: vmId, name: o.name, serverGroupId: group?.id, zone: o.zone, tier: o.tier, fresh: true },
      flavor,
      preset: o.preset,
      extra: [...join.extra, ...fences],
      image: { imageId: image.id, tenantId: p.tenantId },
    };
    let createdAt = '';
    /** The VM, its ports, volumes and constraints, the operation and the event (no claim). */
    const record = async (trx: Db) => {
      createdAt = this.now();
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
          created_at: createdAt,
          updated_at: createdAt,
          deleted_at: null,
          ha: o.ha ? 1 : 0,
          ha_priority: o.haPriority ?? 0,
          zone: o.zone ?? null,
          tier: o.tier ?? null,
          key_name: o.key ?? null,
          user_data: o.userData ?? null,
          user_id: p.userId,
          ...o.attrs,
        })
        .execute();
      await this.cp.ports.forNewVm(trx, p, vmId, o);
      for (const v of vols)
        await this.cp.volumes.transition(trx, v, ['available'], 'in-use', { vm_id: vmId });
      await join.commit(trx);
      await trx
        .insertInto('operations')
        .values({
          id: opId,
          tenant_id: p.tenantId,
          vm_id: vmId,
          kind: 'create',
          status: 'running',
          idempotency_key: null,
          result: null,
          error: null,
          created_at: createdAt,
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
    };
    // The records first, the claims on the tenant's usage and the host last: their row locks
    // (PostgreSQL) are then held only until the commit. A host claim that loses a race rolls the
    // attempt back and decides again; the last attempt, no host that fits, and an HA VM (its
    // admission check counts the HA VMs recorded, this one apart) take the claims-first path, whose
    // errors (quota before placement, powering a host on) are those of a single request.
    for (let attempt = 0; ; attempt++) {
      const lost = await this.db
        .transaction()
        .execute(async (trx) => {
          const picked =
            o.ha || attempt >= 3
              ? undefined
              : (await this.cp.scheduler.decide(trx, req, { fast: true })).decision;
          if (!picked?.hostId) {
            await this.cp.claims.claimQuota(trx, p.tenantId, flavor);
            const placed = await this.cp.scheduler.placeAndClaim(trx, req, { powerOn: p });
            decision = placed.decision;
            if (o.ha) await this.cp.claims.admitHa(trx, o.name, placed.hostId, flavor);
            await record(trx);
            return false;
          }
          decision = picked;
          await record(trx);
          // Tenant then host, the order of every claim and release (no deadlock between them).
          await this.cp.claims.claimQuota(trx, p.tenantId, flavor);
          if (!(await this.cp.claims.claimHost(trx, picked.hostId, flavor))) throw LOST_RACE;
          return false;
        })
        .catch((e: unknown) => {
          if (e === LOST_RACE) return true;
          throw e;
        });
      if (!lost) break;
    }
    o.onRecorded?.(vmId, opId);
    const host = await this.db
      .selectFrom('hosts')
      .selectAll()
      .where('id', '=', decision.hostId!)
      .executeTakeFirstOrThrow();
    const outcome = await this.finish(
      p,
      opId,
      vmId,
      host.id,
      async () => {
        const d = this.cp.drivers.driverFor(host);
        // The host's network is ready before the guest exists (a failed push fails the create).
        const net = await this.cp.networkPush.prepareGuest(vmId, host.id);
        await d.create({
          id: vmId,
          memoryMiB: flavor.memory_mib,
          vcpus: flavor.vcpus,
          ...(await this.cp.memoryProfiles.guestMemory(this.db, p.tenantId, {
            hostId: host.id,
            memoryMiB: flavor.memory_mib,
          })),
          // A registry image: the host fetches it once and caches it by checksum; attached volumes.
          ...(await this.cp.volumes.guestStorage(this.db, vmId, image.id)),
          ...net,
        });
        // Not a write of its own: nothing reads a create's step (the reconciler asks the driver
        // whether the guest exists), and a commit wait here was a third of a create's. The crash
        // hook of the tests still fires at this point; the outcome records `driver-done`.
        this.ctx.onStep?.('guest-created', 'create');
        await d.start(vmId);
        return 'running';
      },
      p.tenantId,
    );
    // The operation as recorded (no re-read: this request wrote every field of it).
    return {
      id: opId,
      tenantId: p.tenantId,
      vmId,
      kind: 'create',
      status: outcome.status,
      result: outcome.result,
      error: outcome.error,
      createdAt,
      finishedAt: outcome.finishedAt,
    };
  }

  /** The tenant that owns a VM: its events are filed there, whoever acted (an admin, automation). */
  private async ownerOf(trx: Db, vmId: string): Promise<string | null> {
    const v = await trx.selectFrom('vms').select('tenant_id').where('id', '=', vmId).executeTakeFirst();
    return v?.tenant_id ?? null;
  }

  /**
   * Run the hypervisor side of an operation and record its outcome (the VM goes to error if it fails).
   * `owner`: the VM's tenant when the caller knows it (else it is read). Returns the operation's
   * outcome as recorded.
   */
  async finish(
    p: Principal,
    opId: string,
    vmId: string,
    hostId: string | null,
    work: () => Promise<VmState | null>,
    owner?: string,
  ): Promise<OpOutcome> {
    return this.cp.opRecords.during(opId, this.#finish(p, opId, vmId, hostId, work, owner));
  }

  async #finish(
    p: Principal,
    opId: string,
    vmId: string,
    hostId: string | null,
    work: () => Promise<VmState | null>,
    owner?: string,
  ): Promise<OpOutcome> {
    const peers = await this.cp.networkPush.peerHostsOf(vmId);
    try {
      const to = await work();
      // The step `driver-done` is recorded with the outcome, in its transaction (one write less; the
      // reconciler reads the driver, not the step). The crash hook of the tests still fires here.
      this.ctx.onStep?.('driver-done', '');
      const done: OpOutcome = {
        status: 'succeeded',
        result: { state: to },
        error: null,
        finishedAt: this.now(),
      };
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
          if (to === 'deleted') await this.cp.ports.releaseVm(trx, vmId);
          if (to === 'deleted') await this.cp.volumes.releaseVm(trx, vmId);
        }
        await trx
          .updateTable('operations')
          .set({
            status: 'succeeded',
            finished_at: done.finishedAt,
            result: JSON.stringify(done.result),
            step: 'driver-done',
            updated_at: done.finishedAt,
          })
          .where('id', '=', opId)
          .execute();
        await this.event(trx, {
          tenantId: owner ?? (await this.ownerOf(trx, vmId)),
          vmId,
          hostId,
          actor: p.userName,
          kind: `vm.${to ?? 'updated'}`,
        });
      });
      // A deleted VM's ports are gone from its host and from its peers' flood lists (the resync retries a failure).
      if (to === 'deleted' && peers.length) await this.cp.networkPush.push(peers);
      return done;
    } catch (e) {
      const failed: OpOutcome = {
        status: 'failed',
        result: null,
        error: (e as Error).message,
        finishedAt: this.now(),
      };
      await this.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('vms')
          .set({ state: 'error', updated_at: this.now() })
          .where('id', '=', vmId)
          .execute();
        await this.cp.metering.meter(trx, vmId, 'error');
        await trx
          .updateTable('operations')
          .set({ status: 'failed', finished_at: failed.finishedAt, error: failed.error })
          .where('id', '=', opId)
          .execute();
        await this.event(trx, {
          tenantId: owner ?? (await this.ownerOf(trx, vmId)),
          vmId,
          hostId,
          actor: p.userName,
          kind: 'vm.error',
          detail: { error: (e as Error).message },
        });
      });
      return failed;
    }
  }
}
