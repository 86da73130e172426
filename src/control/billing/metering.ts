/**
 * Usage records follow VM state (open, close, restart on a new host or flavor).
 *
 * Uses: no other service.
 */
import { Service } from '../service.ts';
import type { Db } from '../store/open-store.ts';
import type { VmState } from '../vm-states.ts';

/** Usage records follow VM state (open, close, restart on a new host or flavor). */
export class Metering extends Service {
  /** A running VM changed host or flavor: close its open usage interval and open a running one there. */
  async restartUsage(trx: Db, vmId: string, tenantId: string, hostId: string, flavorId: string) {
    await trx
      .updateTable('usage')
      .set({ end_at: this.now() })
      .where('vm_id', '=', vmId)
      .where('end_at', 'is', null)
      .execute();
    await trx
      .insertInto('usage')
      .values({
        vm_id: vmId,
        tenant_id: tenantId,
        host_id: hostId,
        flavor_id: flavorId,
        class: 'running',
        start_at: this.now(),
        end_at: null,
      })
      .execute();
  }

  /** Close the VM's open usage interval and open one for its new billing class (same transaction as the state change). */
  async meter(trx: Db, vmId: string, state: VmState | 'error') {
    const at = this.now();
    const cls =
      state === 'running' || state === 'suspended' || state === 'migrating' || state === 'resizing'
        ? 'running'
        : state === 'stopped'
          ? 'stopped'
          : null;
    const open = await trx
      .selectFrom('usage')
      .selectAll()
      .where('vm_id', '=', vmId)
      .where('end_at', 'is', null)
      .executeTakeFirst();
    if (open && open.class === cls) return;
    if (open) await trx.updateTable('usage').set({ end_at: at }).where('id', '=', open.id).execute();
    if (!cls) return;
    const v = await trx
      .selectFrom('vms')
      .select(['tenant_id', 'host_id', 'flavor_id'])
      .where('id', '=', vmId)
      .executeTakeFirstOrThrow();
    await trx
      .insertInto('usage')
      .values({
        vm_id: vmId,
        tenant_id: v.tenant_id,
        host_id: v.host_id,
        flavor_id: v.flavor_id,
        class: cls,
        start_at: at,
        end_at: null,
      })
      .execute();
  }
}
