/**
 * Live migration of a VM to another host.
 *
 * Uses: `cp.claims`, `cp.drivers`, `cp.metering`, `cp.operations`, `cp.scheduler`, `cp.vmReads`.
 */
import { needsBlockMigration } from '../../core/storage/host-storage.ts';
import { hostRef } from '../../core/host-driver.ts';
import { ControlError } from '../errors.ts';
import type { HostRow } from '../inventory/hosts.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import { ASSUMED_VM_UTILIZATION } from '../telemetry/energy.ts';

/** How a migration is asked for: the target (a host id or name; placement chooses when absent) and the mode. */
export interface MigrateOptions {
  toHost?: string;
  mode?: 'stop-and-copy' | 'precopy' | 'postcopy';
  downtimeTargetMs?: number;
  bandwidthMbps?: number;
}

/** What became of a migration: its operation's id, and the error when it failed. */
export interface MigrateOutcome {
  opId: string;
  status: 'succeeded' | 'failed';
  error?: string;
}

/** Live migration of a VM to another host. */
export class Migrate extends Service {
  /**
   * Live-migrate a VM to another host (chosen by placement when not given). Capacity is claimed on
   * the target first; on failure the VM stays where it was and the claim is given back.
   * @returns the migration's operation record (as `GET /v1/operations/ID` shows it)
   */
  async migrateVm(p: Principal, id: string, o: MigrateOptions) {
    const { opId } = await this.migrateVmOutcome(p, id, o);
    return this.cp.operations.getOperation(p, opId);
  }

  /**
   * `migrateVm` without reading the operation record back: its id, whether it succeeded and why not
   * (what applying a plan needs: one statement less per migration). Same checks and effects.
   */
  async migrateVmOutcome(p: Principal, id: string, o: MigrateOptions): Promise<MigrateOutcome> {
    const v = await this.cp.vmReads.vmRow(p, id, 'vm:migrate');
    // A suspended VM (its guest paused) migrates paused and stays suspended on the target.
    if (v.state !== 'running' && v.state !== 'suspended')
      throw new ControlError(
        'INVALID_STATE',
        `Cannot migrate VM "${v.name}" (${v.id}): it is ${v.state}; only running or suspended VMs migrate`,
        { state: v.state },
      );
    const from = v.state;
    const flavor = await this.db
      .selectFrom('flavors')
      .selectAll()
      .where('id', '=', v.flavor_id)
      .executeTakeFirstOrThrow();
    const src = await this.db
      .selectFrom('hosts')
      .selectAll()
      .where('id', '=', v.host_id!)
      .executeTakeFirstOrThrow();
    const opId = this.ctx.ids.uuid();
    let dst!: HostRow;
    let target: HostRow | undefined;
    this.cp.opRecords.track(opId);
    await this.db.transaction().execute(async (trx) => {
      await this.cp.opRecords.holdVm(trx, v);
      let toHost: string | undefined;
      if (o.toHost) {
        const t = await trx
          .selectFrom('hosts')
          .selectAll()
          .where((eb) => eb.or([eb('id', '=', o.toHost!), eb('name', '=', o.toHost!)]))
          .executeTakeFirst();
        if (!t) throw new ControlError('NOT_FOUND', `No host "${o.toHost}"`);
        if (t.id === src.id)
          throw new ControlError('BAD_REQUEST', `VM "${v.name}" already runs on ${t.name}`);
        if (t.driver !== src.driver)
          throw new ControlError(
            'BAD_REQUEST',
            `Cannot migrate between a ${src.driver} host and a ${t.driver} host`,
          );
        toHost = t.id;
        target = t;
      }
      // The VM's local volumes are mirrored to the destination: it needs room for them too.
      const local = await trx
        .selectFrom('volumes')
        .innerJoin('storage_pools', 'storage_pools.id', 'volumes.pool_id')
        .select((eb) => eb.fn.sum<number>('volumes.size_gib').as('gib'))
        .where('volumes.vm_id', '=', v.id)
        .where('volumes.host_id', '=', src.id)
        .where('volumes.deleted_at', 'is', null)
        .where('storage_pools.kind', '!=', 'shared')
        .executeTakeFirst();
      // The scheduler judges a target given by the caller with the same filters and constraints.
      const placed = await this.cp.scheduler.placeAndClaim(trx, {
        vm: { id: v.id, name: v.name, serverGroupId: v.server_group_id, zone: v.zone, tier: v.tier },
        flavor,
        exclude: [src.id],
        driver: src.driver,
        toHost,
        volumesGiB: Number(local?.gib ?? 0),
      });
      // A target given by the caller was read above (its counters are now stale: not used below).
      dst =
        target?.id === placed.hostId
          ? target
          : await trx
              .selectFrom('hosts')
              .selectAll()
              .where('id', '=', placed.hostId)
              .executeTakeFirstOrThrow();
      await trx
        .updateTable('vms')
        .set({ state: 'migrating', updated_at: this.now() })
        .where('id', '=', v.id)
        .execute();
      await this.cp.opRecords.begin(trx, {
        id: opId,
        tenantId: v.tenant_id,
        vmId: v.id,
        kind: 'migrate',
        hostId: src.id,
        targetHostId: dst.id,
        // The reconciler restores this state (a suspended VM's guest is paused on the target).
        ...(from === 'suspended' ? { detail: { from } } : {}),
      });
      await this.event(trx, {
        tenantId: v.tenant_id,
        vmId: v.id,
        hostId: src.id,
        actor: p.userName,
        kind: 'vm.migrate.requested',
        detail: {
          from: src.name,
          to: dst.name,
          mode: o.mode ?? (o.downtimeTargetMs ? 'planned' : 'precopy'),
        },
      });
    });
    let report: Record<string, unknown> = {};
    let error: string | undefined;
    // The VM's network peers: they learn the destination during the switch-over, the source after it.
    const peers = (await this.cp.networkPush.peerHostsOf(v.id)).filter((h) => h !== dst.id);
    const also = [{ vmId: v.id, hostId: dst.id }];
    try {
      if (peers.length) {
        // The destination's plumbing (bridge, tap, rules) is ready before the guest moves; a failure fails the migration.
        await this.cp.networkPush.push([dst.id], { strict: true, also });
        await this.cp.networkPush.push(peers, { also });
      }
      // The source host's driver moves the guest (agents stream to each other; simulated hosts move
      // it at once and report what the live-migration models predict for this VM).
      // A VM with volumes says how its disks move: local ones are mirrored (block migration). A VM
      // without volumes sends no flag (its root disk moves as before issue 13).
      const disks = await this.cp.volumes.disksOfVm(this.db, v.id);
      report = await this.cp.drivers.driverFor(src).migrate(v.id, hostRef(dst), {
        mode: o.mode,
        bandwidthMbps: o.bandwidthMbps,
        downtimeTargetMs: o.downtimeTargetMs,
        cpuUtilization: (JSON.parse(v.cpu_history) as number[])[0] ?? ASSUMED_VM_UTILIZATION,
        ...(disks.length ? { disks: needsBlockMigration(disks) ? 'mirror' : 'shared' } : {}),
      });
      await this.cp.opRecords.step(opId, 'guest-moved', 'migrate');
      await this.db.transaction().execute(async (trx) => {
        await this.cp.claims.releaseHost(trx, src.id, flavor);
        await trx
          .updateTable('vms')
          .set({ state: from, host_id: dst.id, updated_at: this.now() })
          .where('id', '=', v.id)
          .execute();
        // The VM's local volumes were mirrored: they live on the destination now.
        await trx
          .updateTable('volumes')
          .set({ host_id: dst.id, updated_at: this.now() })
          .where('vm_id', '=', v.id)
          .where('host_id', '=', src.id)
          .execute();
        await this.cp.metering.restartUsage(trx, v.id, v.tenant_id, dst.id, v.flavor_id);
        await trx
          .updateTable('operations')
          .set({ status: 'succeeded', finished_at: this.now(), result: JSON.stringify(report) })
          .where('id', '=', opId)
          .execute();
        await this.event(trx, {
          tenantId: v.tenant_id,
          vmId: v.id,
          hostId: dst.id,
          actor: p.userName,
          kind: 'vm.migrated',
          detail: { from: src.name, to: dst.name, ...report },
        });
      });
      // The source loses the VM's ports once it runs on the destination (the resync retries a failure).
      if (peers.length) await this.cp.networkPush.push([...peers, dst.id]);
    } catch (e) {
      error = (e as Error).message;
      await this.db.transaction().execute(async (trx) => {
        await this.cp.claims.releaseHost(trx, dst.id, flavor);
        await trx
          .updateTable('vms')
          .set({ state: from, updated_at: this.now() })
          .where('id', '=', v.id)
          .execute();
        await trx
          .updateTable('operations')
          .set({ status: 'failed', finished_at: this.now(), error: (e as Error).message })
          .where('id', '=', opId)
          .execute();
        await this.event(trx, {
          tenantId: v.tenant_id,
          vmId: v.id,
          hostId: src.id,
          actor: p.userName,
          kind: 'vm.migrate.failed',
          detail: { error: (e as Error).message },
        });
      });
      if (peers.length) await this.cp.networkPush.push([...peers, dst.id]);
    }
    return { opId, status: error === undefined ? 'succeeded' : 'failed', error };
  }
}
