/**
 * High availability: evacuating a failed host, the failover reserve, heartbeat timeouts.
 *
 * Uses: `cp.claims`, `cp.drivers`, `cp.hosts`, `cp.metering`, `cp.scheduler`, `cp.restarts`, `cp.vmCreate`.
 */
import { authorize } from '../authz.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import { haRetryDelayS } from './ha-retry.ts';

/** High availability: evacuating a failed host, the failover reserve, heartbeat timeouts. */
export class HighAvailability extends Service {
  /**
   * A host failed: restart its HA VMs elsewhere, highest priority first (Masakari's instance
   * recovery); its other VMs go to error. Each HA VM is restarted once: its move to the new host is
   * one transaction, so a repeated evacuation finds it gone from the failed host; VMs already in
   * error are left alone, so the HA controller can evacuate a failed host again until it is empty.
   */
  async evacuate(p: Principal, hostId: string) {
    const vms = await this.db
      .selectFrom('vms')
      .innerJoin('flavors', 'flavors.id', 'vms.flavor_id')
      .innerJoin('images', 'images.id', 'vms.image_id')
      .select([
        'vms.id',
        'vms.name',
        'vms.tenant_id',
        'vms.ha',
        'vms.ha_priority',
        'vms.state',
        'vms.server_group_id',
        'vms.zone',
        'vms.tier',
        'vms.flavor_id',
        'flavors.vcpus',
        'flavors.memory_mib',
        'flavors.disk_gib',
        'flavors.name as flavor',
        'images.name as image',
        'vms.image_id',
      ])
      .where('vms.host_id', '=', hostId)
      .where('vms.deleted_at', 'is', null)
      // Lost VMs stay lost; an HA VM whose restart failed (in error) is tried again: room may have appeared.
      .where((eb) => eb.or([eb('vms.state', '!=', 'error'), eb('vms.ha', '=', 1)]))
      .orderBy('vms.ha_priority', 'desc')
      .orderBy('vms.name')
      .execute();
    const restarted: string[] = [],
      failed: { vm: string; reason: string }[] = [];
    for (const v of vms) {
      if (Number(v.ha) !== 1) {
        await this.markError(v, hostId, 'vm.lost', { reason: 'its host failed and it is not HA' });
        continue;
      }
      // Its local volumes are on the failed host: no other host has their data (Masakari and Nova do
      // not evacuate instances on local disks without shared storage). It waits for its host.
      const local = await this.localVolumesOn(v.id, hostId);
      if (local.length) {
        await this.waitForHost(v, hostId, local);
        continue;
      }
      const opId = this.ctx.ids.uuid();
      let moved = false;
      try {
        let target = '';
        this.cp.opRecords.track(opId);
        await this.db.transaction().execute(async (trx) => {
          await this.cp.opRecords.holdVm(trx, v);
          // The VM's constraints hold for the restart too (its failed host counts as nowhere).
          const placed = await this.cp.scheduler.placeAndClaim(trx, {
            vm: { id: v.id, name: v.name, serverGroupId: v.server_group_id, zone: v.zone, tier: v.tier },
            flavor: v,
            exclude: [hostId],
          });
          const d = placed.decision;
          target = placed.hostId;
          await this.cp.claims.releaseHost(trx, hostId, v);
          await trx
            .updateTable('vms')
            .set({ host_id: target, state: 'building', updated_at: this.now() })
            .where('id', '=', v.id)
            .where('host_id', '=', hostId)
            .execute();
          // Recorded with the move: a crash before the guest runs leaves it to the reconciler.
          await this.cp.opRecords.begin(trx, {
            id: opId,
            tenantId: v.tenant_id,
            vmId: v.id,
            kind: 'ha-restart',
            hostId: target,
            detail: { from: hostId },
          });
          const failed = await trx
            .selectFrom('hosts')
            .select('name')
            .where('id', '=', hostId)
            .executeTakeFirst();
          await this.event(trx, {
            tenantId: v.tenant_id,
            vmId: v.id,
            hostId: target,
            actor: 'ha',
            kind: 'vm.ha.restarting',
            detail: { from: failed?.name ?? hostId, priority: Number(v.ha_priority), why: d.explanation },
          });
        });
        moved = true;
        const host = await this.db
          .selectFrom('hosts')
          .selectAll()
          .where('id', '=', target)
          .executeTakeFirstOrThrow();
        const drv = this.cp.drivers.driverFor(host);
        if (!(await drv.get(v.id)))
          await drv.create({
            id: v.id,
            memoryMiB: v.memory_mib,
            vcpus: v.vcpus,
            ...(await this.cp.memoryProfiles.guestMemory(this.db, v.tenant_id, {
              hostId: host.id,
              memoryMiB: v.memory_mib,
            })),
            ...(await this.cp.volumes.guestStorage(this.db, v.id, v.image_id)),
            ...(await this.cp.networkPush.prepareGuest(v.id, host.id)),
          });
        const g = await drv.get(v.id);
        if (g && g.state !== 'running') await drv.start(v.id);
        await this.db.transaction().execute(async (trx) => {
          await trx
            .updateTable('vms')
            .set({ state: 'running', updated_at: this.now() })
            .where('id', '=', v.id)
            .execute();
          await trx
            .updateTable('operations')
            .set({
              status: 'succeeded',
              finished_at: this.now(),
              result: JSON.stringify({ state: 'running' }),
            })
            .where('id', '=', opId)
            .execute();
          // Usage moves to the new host (the billing class stays "running").
          await this.cp.metering.restartUsage(trx, v.id, v.tenant_id, target, v.flavor_id);
          await this.event(trx, {
            tenantId: v.tenant_id,
            vmId: v.id,
            hostId: target,
            actor: 'ha',
            kind: 'vm.ha.restarted',
            detail: { on: host.name },
          });
        });
        restarted.push(v.name);
      } catch (e) {
        // Not running anywhere: the VM is in error (not "running" on the failed host), with the
        // reason; starting it again places it once there is room.
        const reason = (e as Error).message;
        failed.push({ vm: v.name, reason });
        // Retried by the HA loop while its host is failed: say why once, not on every attempt.
        if (v.state === 'error' && !moved) continue;
        await this.db.transaction().execute(async (trx) => {
          await trx
            .updateTable('vms')
            .set({ state: 'error', updated_at: this.now() })
            .where('id', '=', v.id)
            .execute();
          await this.cp.metering.meter(trx, v.id, 'error');
          await trx
            .updateTable('operations')
            .set({ status: 'failed', finished_at: this.now(), error: reason })
            .where('id', '=', opId)
            .execute();
          await this.event(trx, {
            tenantId: v.tenant_id,
            vmId: v.id,
            hostId,
            actor: 'ha',
            kind: 'vm.ha.failed',
            detail: {
              reason,
              stage: moved ? 'restart' : 'placement',
              next: 'start it again (POST /v1/vms/{id}/actions {"action":"start"}) when there is room',
            },
          });
        });
      }
    }
    return { restarted, failed };
  }

  /** The names of VM `vmId`'s volumes in local pools that live on host `hostId`, in name order. */
  async localVolumesOn(vmId: string, hostId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('volumes')
      .innerJoin('storage_pools', 'storage_pools.id', 'volumes.pool_id')
      .select('volumes.name')
      .where('volumes.vm_id', '=', vmId)
      .where('volumes.host_id', '=', hostId)
      .where('volumes.deleted_at', 'is', null)
      .where('storage_pools.kind', '!=', 'shared')
      .orderBy('volumes.name')
      .execute();
    return rows.map((r) => r.name);
  }

  /** Why a VM with local volumes on host `hostName` cannot run elsewhere, as events and errors say it. */
  static waitingReason(hostName: string, volumes: readonly string[]): string {
    const v =
      volumes.length === 1 ? `local volume ${volumes[0]} is` : `local volumes ${volumes.join(', ')} are`;
    return `waiting for host ${hostName}: its ${v} there`;
  }

  /**
   * An HA VM whose local volumes are on its failed host stays there in `error` (start, stop and delete
   * stay allowed) with one `vm.ha.waiting` event; `restartReturned()` starts it when the host is back.
   */
  private async waitForHost(
    v: { id: string; tenant_id: string; state: string },
    hostId: string,
    volumes: string[],
  ) {
    if (v.state === 'error') return; // said once, not on every pass of the HA loop
    const host = await this.db.selectFrom('hosts').select('name').where('id', '=', hostId).executeTakeFirst();
    await this.markError(v, hostId, 'vm.ha.waiting', {
      reason: HighAvailability.waitingReason(host?.name ?? hostId, volumes),
      host: host?.name ?? hostId,
      volumes,
      next: 'it restarts on that host when the host is up again; or delete it',
    });
  }

  /** Puts VM V in `error` (metered as such) with an event of KIND by `ha` on host HOSTID. */
  private async markError(
    v: { id: string; tenant_id: string },
    hostId: string,
    kind: string,
    detail: Record<string, unknown>,
  ) {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('vms')
        .set({ state: 'error', updated_at: this.now() })
        .where('id', '=', v.id)
        .execute();
      await this.cp.metering.meter(trx, v.id, 'error');
      await this.event(trx, { tenantId: v.tenant_id, vmId: v.id, hostId, actor: 'ha', kind, detail });
    });
  }

  /**
   * Restart, on their own host, the HA VMs that waited for it (in `error`, with local volumes there)
   * now that it is up: of host `hostId`, or of every up host. Returns the VMs started and those that
   * failed again (they stay in `error`; the next pass tries again).
   */
  async restartReturned(p: Principal, hostId?: string) {
    let q = this.db
      .selectFrom('vms')
      .innerJoin('hosts', 'hosts.id', 'vms.host_id')
      .innerJoin('volumes', (j) =>
        j.onRef('volumes.vm_id', '=', 'vms.id').onRef('volumes.host_id', '=', 'vms.host_id'),
      )
      .innerJoin('storage_pools', 'storage_pools.id', 'volumes.pool_id')
      .select(['vms.id', 'vms.name', 'vms.tenant_id', 'vms.flavor_id', 'vms.image_id', 'vms.host_id'])
      .where('vms.ha', '=', 1)
      .where('vms.state', '=', 'error')
      .where('vms.deleted_at', 'is', null)
      .where('volumes.deleted_at', 'is', null)
      .where('storage_pools.kind', '!=', 'shared')
      .where('hosts.state', '=', 'up')
      .distinct()
      .orderBy('vms.name');
    if (hostId) q = q.where('vms.host_id', '=', hostId);
    const restarted: string[] = [],
      failed: { vm: string; reason: string }[] = [];
    for (const v of await q.execute()) {
      // Only the VMs that HA left waiting and that have not run since (a VM in error for another
      // reason is the operator's to start).
      const last = await this.db
        .selectFrom('events')
        .select(['id', 'kind'])
        .where('vm_id', '=', v.id)
        .where('kind', 'in', ['vm.ha.waiting', 'vm.ha.restarted', 'vm.running', 'vm.recovered'])
        .orderBy('id', 'desc')
        .limit(1)
        .executeTakeFirst();
      if (last?.kind !== 'vm.ha.waiting') continue;
      // A restart that failed is tried again after a back-off, not on every pass of the HA loop.
      const tries = await this.db
        .selectFrom('events')
        .select('detail')
        .where('vm_id', '=', v.id)
        .where('kind', '=', 'vm.ha.retry')
        .where('id', '>', last.id)
        .orderBy('id', 'desc')
        .execute();
      const next = tries[0]
        ? (JSON.parse(tries[0].detail) as { nextRetryAt?: string }).nextRetryAt
        : undefined;
      if (next && Date.parse(next) / 1000 > this.ctx.clock.now()) continue;
      const host = await this.db
        .selectFrom('hosts')
        .selectAll()
        .where('id', '=', v.host_id!)
        .executeTakeFirstOrThrow();
      const opId = this.ctx.ids.uuid();
      this.cp.opRecords.track(opId);
      await this.db.transaction().execute(async (trx) => {
        await this.cp.opRecords.holdVm(trx, { ...v, state: 'error' });
        await trx
          .updateTable('vms')
          .set({ state: 'building', updated_at: this.now() })
          .where('id', '=', v.id)
          .execute();
        await this.cp.opRecords.begin(trx, {
          id: opId,
          tenantId: v.tenant_id,
          vmId: v.id,
          kind: 'ha-restart',
          hostId: host.id,
          detail: { from: host.id, waited: true },
        });
      });
      await this.cp.vmCreate.finish(p, opId, v.id, host.id, async () => {
        await this.cp.restarts.recreate(v, host);
        return 'running';
      });
      const op = await this.db
        .selectFrom('operations')
        .select(['status', 'error'])
        .where('id', '=', opId)
        .executeTakeFirst();
      if (op?.status !== 'succeeded') {
        const reason = op?.error ?? 'unknown';
        failed.push({ vm: v.name, reason });
        const attempt = tries.length + 1;
        const delayS = haRetryDelayS(attempt);
        const nextRetryAt = new Date((this.ctx.clock.now() + delayS) * 1000).toISOString();
        await this.db.transaction().execute(async (trx) => {
          await this.event(trx, {
            tenantId: v.tenant_id,
            vmId: v.id,
            hostId: host.id,
            actor: 'ha',
            kind: 'vm.ha.retry',
            detail: { attempt, error: reason, delayS, nextRetryAt, on: host.name },
          });
        });
        continue;
      }
      await this.db.transaction().execute(async (trx) => {
        await this.event(trx, {
          tenantId: v.tenant_id,
          vmId: v.id,
          hostId: host.id,
          actor: 'ha',
          kind: 'vm.ha.restarted',
          detail: { on: host.name, why: 'its host is back, with its local volumes' },
        });
      });
      restarted.push(v.name);
    }
    return { restarted, failed };
  }

  async setHaFailoverHosts(p: Principal, failoverHosts: number) {
    authorize(p, 'settings:write');
    if (!(Number.isInteger(failoverHosts) && failoverHosts >= 0 && failoverHosts <= 1))
      throw new ControlError(
        'BAD_REQUEST',
        `failoverHosts must be 0 (off) or 1 (tolerate one host failure), got ${failoverHosts}`,
      );
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('settings').where('key', '=', 'ha-failover-hosts').execute();
      await trx
        .insertInto('settings')
        .values({ key: 'ha-failover-hosts', value: String(failoverHosts) })
        .execute();
    });
    return { failoverHosts };
  }

  /**
   * Declare hosts whose agent has been silent longer than `failAfterS` failed (and evacuate them).
   * Split brain is avoided by the agent fencing itself (stopping its guests) when it cannot reach the
   * control plane for longer than the same timeout; see docs/operations.md.
   */
  async checkHeartbeats(p: Principal, failAfterS: number): Promise<string[]> {
    const limit = new Date((this.ctx.clock.now() - failAfterS) * 1000).toISOString();
    const stale = await this.db
      .selectFrom('hosts')
      .select(['id', 'name'])
      .where('driver', '=', 'qemu')
      .where('state', 'in', ['up', 'maintenance'])
      .where('last_seen_at', '<', limit)
      .execute();
    for (const h of stale) await this.cp.hosts.setHostState(p, h.id, 'failed');
    return stale.map((h) => h.name);
  }
}
