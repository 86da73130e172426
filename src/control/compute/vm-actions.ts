/**
 * VM lifecycle actions: start, stop, reboot, suspend, resume, snapshot, restore, delete, resize,
 * clone.
 *
 * Uses: `cp.drivers`, `cp.operations`, `cp.resizes`, `cp.vmCreate`, `cp.vmReads`.
 */
import { ControlError } from '../errors.ts';
import type { DriverHost } from './drivers.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import { allowedActions, VM_ACTIONS, type VmAction, type VmState } from '../vm-states.ts';

/** VM lifecycle actions: start, stop, reboot, suspend, resume, snapshot, restore, delete, resize, clone. */
export class VmActions extends Service {
  /**
   * Run a lifecycle action; an action the state does not allow is INVALID_STATE naming the state, as
   * is a second operation on a VM while one runs, except a delete: it waits for the operation this
   * process is carrying out on the VM (a create still building: Nova deletes BUILD servers too), then runs.
   * A VM that changed between the read and the hold is judged again once, as it is now.
   */
  async vmAction(
    p: Principal,
    id: string,
    action: VmAction,
    o: { snapshotName?: string; flavor?: string; name?: string } = {},
  ) {
    try {
      return await this.#vmAction(p, id, action, o);
    } catch (e) {
      const d = e instanceof ControlError ? e.details : undefined;
      // The VM changed between the read and the hold (another operation ended): judge it again as it is now.
      if (d?.changed === true) return this.#vmAction(p, id, action, o);
      if (action === 'delete' && d?.busy === true && (await this.cp.opRecords.settled(String(d.vmId))))
        return this.#vmAction(p, id, action, o);
      throw e;
    }
  }

  async #vmAction(
    p: Principal,
    id: string,
    action: VmAction,
    o: { snapshotName?: string; flavor?: string; name?: string } = {},
  ) {
    const v = await this.cp.vmReads.vmRow(p, id, 'vm:action');
    if (action === 'clone') {
      if (!(VM_ACTIONS.clone.from as readonly string[]).includes(v.state))
        throw new ControlError('INVALID_STATE', `Cannot clone VM "${v.name}" (${v.id}): it is ${v.state}`, {
          state: v.state,
        });
      // A clone is a new VM of the same flavor and image (and server group), placed and charged like
      // any create, with copies of the VM's volumes (copy-on-write clones in the same pool).
      const name = o.name ?? `${v.name}-clone`;
      const volumes: string[] = [];
      for (const d of await this.cp.volumes.disksOfVm(this.db, v.id)) {
        const src = await this.cp.volumes.get(p, d.volumeId);
        const c = await this.cp.volumes.create(p, {
          name: `${name}-${src.name}`.slice(0, 63),
          sizeGiB: src.sizeGiB,
          fromVolume: src.id,
        });
        volumes.push(c.id);
      }
      return this.cp.vmCreate.createVm(p, {
        volumes,
        name,
        flavor: v.flavor_id,
        image: v.image_id,
        serverGroup: v.server_group_id ?? undefined,
        zone: v.zone ?? undefined,
        tier: v.tier ?? undefined,
      });
    }
    if (action === 'resize') return this.cp.resizes.resizeVm(p, v, o.flavor);
    if (action === 'restore' && !o.snapshotName)
      throw new ControlError('BAD_REQUEST', 'restore needs snapshotName');
    const t = VM_ACTIONS[action];
    if (!(t.from as readonly string[]).includes(v.state)) {
      throw new ControlError(
        'INVALID_STATE',
        `Cannot ${action} VM "${v.name}" (${v.id}): it is ${v.state}; allowed now: ${allowedActions(v.state as VmState).join(', ') || 'nothing'}`,
        { state: v.state },
      );
    }
    const host = v.host_id
      ? await this.db.selectFrom('hosts').selectAll().where('id', '=', v.host_id).executeTakeFirst()
      : undefined;
    // A VM whose host is gone, failed or off starts elsewhere (placed like a create).
    if (action === 'start' && (!host || host.state !== 'up')) return this.cp.restarts.startElsewhere(p, v);
    if (action === 'restore') await this.needSnapshot(v, host, o.snapshotName!);
    const opId = this.ctx.ids.uuid();
    this.cp.opRecords.track(opId);
    await this.db.transaction().execute(async (trx) => {
      await this.cp.opRecords.holdVm(trx, v);
      await this.cp.opRecords.begin(trx, {
        id: opId,
        tenantId: v.tenant_id,
        vmId: v.id,
        kind: action,
        hostId: v.host_id,
        detail: { snapshotName: o.snapshotName },
      });
      await this.event(trx, {
        tenantId: v.tenant_id,
        vmId: v.id,
        hostId: v.host_id,
        actor: p.userName,
        kind: `vm.${action}.requested`,
      });
    });
    await this.cp.vmCreate.finish(p, opId, v.id, v.host_id, async () => {
      // A host that is not in service (failed, off) cannot be asked: deleting or stopping the VM
      // still works (its guest, if the host comes back, is removed by the reconciler).
      const reachable = host && (host.state === 'up' || host.state === 'maintenance');
      const d =
        host && (reachable || (action !== 'delete' && action !== 'stop'))
          ? this.cp.drivers.driverFor(host)
          : undefined;
      const exists = d ? await d.get(v.id) : undefined;
      switch (action) {
        case 'start':
          if (exists && exists.state !== 'running') await d!.start(v.id);
          else if (!exists && d) await this.cp.restarts.recreate(v, host!);
          break;
        case 'stop':
          if (exists?.state === 'running' || exists?.state === 'paused') await d!.stop(v.id);
          break;
        case 'reboot':
          await d?.reboot(v.id);
          break;
        case 'suspend':
          await d?.pause(v.id);
          break;
        case 'resume':
          await d?.resume(v.id);
          break;
        case 'snapshot':
          await d?.snapshot(v.id, o.snapshotName ?? `snap-${Math.round(this.ctx.clock.now())}`);
          break;
        case 'restore':
          await d?.restore(v.id, o.snapshotName!);
          break;
        case 'delete':
          if (exists) await d!.delete(v.id);
          break;
      }
      return t.to;
    });
    return this.cp.operations.getOperation(p, opId);
  }

  /** Refuse a restore of a snapshot the VM does not have, before anything changes (404 naming its snapshots). */
  private async needSnapshot(v: { id: string; name: string }, host: DriverHost | undefined, name: string) {
    const have = host ? await this.cp.drivers.driverFor(host).listSnapshots(v.id) : [];
    if (!have.includes(name))
      throw new ControlError(
        'NOT_FOUND',
        `VM "${v.name}" has no snapshot "${name}"; ${have.length ? `its snapshots: ${have.join(', ')}` : 'it has no snapshots'}`,
        { snapshots: have },
      );
  }
}
