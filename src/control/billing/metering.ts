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
    // Close the open interval of another class (any open one when the VM leaves billing)...
    let close = trx
      .updateTable('usage')
      .set({ end_at: at })
      .where('vm_id', '=', vmId)
      .where('end_at', 'is', null);
    if (cls) close = close.where('class', '!=', cls);
    await close.execute();
    if (!cls) return;
    // ...and open one for the new class from the VM's row, unless one of that class is still open:
    // two statements, the VM and its open interval are not read first.
    await trx
      .insertInto('usage')
      .columns(['vm_id', 'tenant_id', 'host_id', 'flavor_id', 'class', 'start_at'])
      .expression((eb) =>
        eb
          .selectFrom('vms')
          .select([
            'vms.id',
            'vms.tenant_id',
            'vms.host_id',
            'vms.flavor_id',
            eb.val(cls).as('class'),
            eb.val(at).as('start_at'),
          ])
          .where('vms.id', '=', vmId)
          .where(({ not, exists, selectFrom }) =>
            not(
              exists(
                selectFrom('usage')
                  .select('usage.id')
                  .where('usage.vm_id', '=', vmId)
                  .where('usage.end_at', 'is', null),
              ),
            ),
          ),
      )
      .execute();
  }
}
