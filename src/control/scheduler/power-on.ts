/**
 * Switch a host on when no host that is on fits a request, unless a rule about hosts refuses it
 * (maxOnline: too many of its set on already; quarantine; overbook).
 *
 * Uses: `cp.power`.
 */
import { admitsAll, HOST_CONSTRAINT_TYPES } from '../../core/constraints/index.ts';
import { hostRef } from '../../core/host-driver.ts';
import { rowToConstraint } from '../constraints/constraint-reader.ts';
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
    const admits = await this.hostRulesAdmit(trx, f);
    const h = (await q.execute()).find(
      (x) =>
        admits(x.id) &&
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

  /** Whether the hard rules about hosts let a new VM of this flavor switch a host on and run there. */
  private async hostRulesAdmit(trx: Db, f: { vcpus: number; memory_mib: number; disk_gib: number }) {
    const rules = (
      await trx
        .selectFrom('constraints')
        .selectAll()
        .where('type', 'in', [...HOST_CONSTRAINT_TYPES])
        .where('hard', '=', 1)
        .execute()
    ).map(rowToConstraint);
    if (!rules.length) return () => true;
    const hosts = await trx.selectFrom('hosts').selectAll().where('deleted_at', 'is', null).execute();
    const vm = '(new VM)';
    const state = {
      hosts: new Map(
        hosts.map((h) => [
          h.id,
          { id: h.id, name: h.name, zone: h.zone, rack: h.rack, tier: h.tier, datacenter: h.datacenter },
        ]),
      ),
      placement: new Map<string, string[]>(),
      online: new Set(hosts.filter((h) => h.state !== 'off').map((h) => h.id)),
      capacity: new Map(
        hosts.map((h) => [h.id, { vcpus: h.vcpus, memoryMiB: h.memory_mib, diskGiB: h.disk_gib }]),
      ),
      used: new Map(
        hosts.map((h) => [
          h.id,
          {
            vcpus: Number(h.used_vcpus),
            memoryMiB: Number(h.used_memory_mib),
            diskGiB: Number(h.used_disk_gib),
          },
        ]),
      ),
      demand: new Map([[vm, { vcpus: f.vcpus, memoryMiB: f.memory_mib, diskGiB: f.disk_gib }]]),
    };
    return (hostId: string) => !admitsAll(rules, state, vm, hostId);
  }
}
