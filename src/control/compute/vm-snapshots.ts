/**
 * A VM's snapshots: list them (as its host's driver keeps them) and delete one.
 *
 * Uses: `cp.vmReads`, `cp.drivers`.
 */
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';

/** A VM's snapshots: list and delete. */
export class VmSnapshots extends Service {
  private async guest(p: Principal, ref: string, op: 'vm:read' | 'vm:action') {
    const v = await this.cp.vmReads.vmRow(p, ref, op);
    const host = v.host_id
      ? await this.db.selectFrom('hosts').selectAll().where('id', '=', v.host_id).executeTakeFirst()
      : undefined;
    const d = host ? this.cp.drivers.driverFor(host) : undefined;
    return { v, d, info: d ? await d.get(v.id) : undefined };
  }

  /** The VM's snapshot names, oldest first (none while it has no host). */
  async listSnapshots(p: Principal, ref: string) {
    const { v, info } = await this.guest(p, ref, 'vm:read');
    return { vmId: v.id, vm: v.name, snapshots: (info?.snapshots ?? []).map((name) => ({ name })) };
  }

  /** Delete one snapshot of the VM (NOT_FOUND naming the snapshots it has otherwise). */
  async deleteSnapshot(p: Principal, ref: string, name: string) {
    const { v, d, info } = await this.guest(p, ref, 'vm:action');
    if (!d || !info?.snapshots.includes(name))
      throw new ControlError(
        'NOT_FOUND',
        `VM "${v.name}" has no snapshot "${name}"; it has: ${info?.snapshots.join(', ') || 'none'}`,
      );
    await d.deleteSnapshot(v.id, name);
    await this.db.transaction().execute((trx) =>
      this.event(trx, {
        tenantId: v.tenant_id,
        vmId: v.id,
        hostId: v.host_id,
        actor: p.userName,
        kind: 'vm.snapshot.deleted',
        detail: { name },
      }),
    );
  }
}
