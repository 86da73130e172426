/**
 * Switch a host on when no host that is on fits a request.
 *
 * Uses: `cp.power`.
 */
import { hostRef } from '../../core/host-driver.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import type { Db } from '../store/open-store.ts';

/** Switch a host on when no host that is on fits a request. */
export class PowerOn extends Service {
  /**
   * Placement found no room: switch on a host that is off and would take the VM (in name order),
   * as consolidation switched it off. Returns whether one was switched on.
   */
  async powerOnFor(
    trx: Db,
    p: Principal,
    vmName: string,
    f: { vcpus: number; memory_mib: number; disk_gib: number; name: string },
    o: { zone?: string; tier?: string },
  ): Promise<boolean> {
    let q = trx.selectFrom('hosts').selectAll().where('state', '=', 'off').orderBy('name');
    if (o.zone) q = q.where('zone', '=', o.zone);
    if (o.tier) q = q.where('tier', '=', o.tier);
    const h = (await q.execute()).find(
      (x) =>
        x.vcpus * x.cpu_ratio - x.reserved_vcpus - Number(x.used_vcpus) >= f.vcpus &&
        x.memory_mib * x.memory_ratio - x.reserved_memory_mib - Number(x.used_memory_mib) >= f.memory_mib &&
        x.disk_gib * x.disk_ratio - x.reserved_disk_gib - Number(x.used_disk_gib) >= f.disk_gib,
    );
    if (!h) return false;
    const reason = `no host that is on has room for ${vmName} (${f.name})`;
    if (h.driver === 'qemu' || (this.ctx.simBootS ?? 0) > 0) {
      // A host takes time to boot: start it now (it is up when its agent reports, or after the
      // simulated boot time) and refuse this request with when to try again.
      const admin = { ...p, role: 'admin' as const };
      // After this transaction (which the refusal rolls back): on the clock, as every deferred act.
      this.ctx.clock.schedule(0, () => {
        this.cp.power.powerHost(admin, h.id, 'on', { reason }).catch(() => undefined);
      });
      throw new ControlError(
        'NO_HOST_FITS',
        `${reason}; switching ${h.name} on, try again when it is up${h.driver === 'qemu' ? '' : ` (in ${this.ctx.simBootS} s)`}`,
      );
    }
    // A simulated host switches on at once (its simulated BMC answers).
    await this.cp.drivers.driverFor(h).power('on', hostRef(h));
    await trx
      .updateTable('hosts')
      .set({ state: 'up' })
      .where('id', '=', h.id)
      .where('state', '=', 'off')
      .execute();
    await this.event(trx, { hostId: h.id, actor: p.userName, kind: 'host.powered-on', detail: { reason } });
    return true;
  }
}
