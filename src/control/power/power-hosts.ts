/**
 * Switching hosts on and off.
 *
 * Uses: `cp.drivers`, `cp.energy`, `cp.hosts`.
 */
import { authorize } from '../authz.ts';
import { sql } from 'kysely';
import { hostRef } from '../../core/host-driver.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';

/** Switching hosts on and off. */
export class PowerHosts extends Service {
  /**
   * Switch a host on or off. Off: the host must be empty; a real host's agent runs its
   * power-control command (then the host stops reporting). On: a switched-off real host cannot run
   * anything, so another agent that is up runs the command for it (IPMI, Wake-on-LAN) and the host
   * is "booting" until its agent reports; simulated hosts switch at once.
   */
  async powerHost(
    p: Principal,
    ref: string,
    action: 'on' | 'off',
    o: { reason?: string; actor?: string } = {},
  ) {
    authorize(p, 'host:operate');
    const h = await this.cp.hosts.getHost(p, ref);
    const row = await this.db
      .selectFrom('hosts')
      .selectAll()
      .where('id', '=', h.id)
      .executeTakeFirstOrThrow();
    await this.cp.energy.integrateEnergy();
    let result: unknown = null;
    if (action === 'off') {
      if (row.state === 'off') return { host: h.name, state: 'off', result };
      if (Number(row.vm_count) > 0)
        throw new ControlError(
          'INVALID_STATE',
          `Cannot switch ${h.name} off: ${row.vm_count} VM(s) still on it; drain it first`,
        );
    } else if (row.state !== 'off')
      throw new ControlError('INVALID_STATE', `Cannot switch ${h.name} on: it is ${row.state}`, {
        state: row.state,
      });
    // A host switches itself off; a switched-off real host is switched on by another agent that is up
    // (IPMI, Wake-on-LAN); a simulated host's simulated BMC answers for it.
    const helper =
      action === 'on' && row.driver === 'qemu'
        ? await this.db
            .selectFrom('hosts')
            .selectAll()
            .where('driver', '=', 'qemu')
            .where('state', '=', 'up')
            .where('id', '!=', row.id)
            .orderBy(sql`zone = ${row.zone}`, 'desc')
            .orderBy('name')
            .executeTakeFirst()
        : row;
    if (!helper)
      throw new ControlError(
        'BACKEND',
        `Cannot switch ${h.name} on: no other agent is up to run the power-control command`,
      );
    // The operation is recorded before the host is switched: a crash in between leaves it to the reconciler.
    const opId = this.ctx.ids.uuid();
    this.cp.opRecords.track(opId);
    await this.db
      .insertInto('operations')
      .values({
        id: opId,
        tenant_id: p.tenantId,
        vm_id: null,
        kind: `power-${action}`,
        status: 'running',
        idempotency_key: null,
        result: null,
        error: null,
        created_at: this.now(),
        finished_at: null,
        ...this.cp.opRecords.fields({ hostId: row.id, detail: { via: helper.name } }),
      })
      .execute();
    try {
      const r = await this.cp.drivers.driverFor(helper).power(action, hostRef(row));
      result = row.driver === 'qemu' ? (action === 'on' ? { via: helper.name, ...r } : r) : null;
    } catch (e) {
      await this.db
        .updateTable('operations')
        .set({ status: 'failed', finished_at: this.now(), error: (e as Error).message })
        .where('id', '=', opId)
        .execute();
      throw new ControlError('BACKEND', `Cannot switch ${h.name} ${action}: ${(e as Error).message}`);
    }
    const bootS = this.ctx.simBootS ?? 0;
    const to = action === 'off' ? 'off' : row.driver === 'qemu' || bootS > 0 ? 'booting' : 'up';
    const bootUntil =
      action === 'on' && row.driver !== 'qemu' && bootS > 0
        ? new Date((this.ctx.clock.now() + bootS) * 1000).toISOString()
        : null;
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('hosts')
        .set({ state: to, boot_until: bootUntil })
        .where('id', '=', h.id)
        .execute();
      await trx
        .updateTable('operations')
        .set({ status: 'succeeded', finished_at: this.now(), result: JSON.stringify({ state: to }) })
        .where('id', '=', opId)
        .execute();
      await this.event(trx, {
        hostId: h.id,
        actor: o.actor ?? p.userName,
        kind: action === 'off' ? 'host.powered-off' : 'host.powered-on',
        detail: { reason: o.reason ?? 'requested', result },
      });
    });
    // After the commit: a create's check for booted hosts then sees this one.
    if (bootUntil) this.cp.energy.noteBooting();
    return { host: h.name, state: to, result };
  }
}
