/**
 * Energy: integrating host power over time, boot completion, energy reports, PUE.
 *
 * Uses: no other service.
 */
import { authorize, tenantFilter } from '../authz.ts';
import { attributeHostPower, idlePowerW, maxPowerW, type PowerModelSpec } from '../../models/power.ts';
import { parseBillingTime } from '../billing/period.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import { firstSample } from './metrics.ts';

/** CPU utilization assumed for energy attribution while no host metrics arrive. */
export const ASSUMED_VM_UTILIZATION = 0.1;

/**
 * Power attributed to a VM on its host: the host's idle power shared by vCPU share, plus its
 * dynamic power at the VM's utilization, W (linear model; SPECpower tables use idle and peak).
 */
export function vmPowerW(
  powerModel: string | null,
  vcpus: number,
  hostVcpus: number,
  utilization = ASSUMED_VM_UTILIZATION,
): number {
  const m = parsePower(powerModel ?? '');
  const idle = idlePowerW(m),
    max = maxPowerW(m);
  const share = vcpus / Math.max(1, hostVcpus);
  return share * (idle + (max - idle) * utilization);
}

/** A host's stored power model (a linear 100–250 W model if unreadable). */
export function parsePower(json: string): PowerModelSpec {
  try {
    const m = JSON.parse(json) as PowerModelSpec;
    if (m.type === 'specpower' || m.type === 'linear') return m;
  } catch {
    /* fall through */
  }
  return { type: 'linear', idleW: 100, maxW: 250 };
}

/** The key of a (scope, ref) pair in `pendingEnergy`'s map. */
const energyKey = (scope: string, ref: string) => `${scope}\u0000${ref}`;

/** Energy: integrating host power over time, boot completion, energy reports, PUE. */
export class Energy extends Service {
  /**
   * Integrate every host's power since the last integration (power models at the measured
   * utilization; nothing when off or failed) into energy per host, zone and tenant (a VM's share of
   * its host: idle power by vCPUs, the rest by CPU demand). Called by every metrics report and power
   * change (so the integral has no gaps) and by the energy controller; reports add the pending part
   * in memory (reads never write).
   */
  async integrateEnergy(): Promise<void> {
    const { at, day, joules: add } = await this.pendingEnergy();
    await this.db.transaction().execute(async (trx) => {
      // One statement per 200 rows (distinct keys, so no row is upserted twice in a statement).
      const rows = [...add].map(([k, joules]) => {
        const [scope, ref] = k.split('\u0000') as [string, string];
        return { scope, ref, day, joules };
      });
      for (let i = 0; i < rows.length; i += 200) {
        await trx
          .insertInto('energy')
          .values(rows.slice(i, i + 200))
          .onConflict((oc) =>
            oc
              .columns(['scope', 'ref', 'day'])
              .doUpdateSet((eb) => ({ joules: eb('energy.joules', '+', eb.ref('excluded.joules')) })),
          )
          .execute();
      }
      await trx.updateTable('hosts').set({ energy_at: at }).execute();
    });
    await this.promoteBooted();
  }

  /**
   * The energy not integrated yet: each host's power since its last integration, by scope and ref
   * (`host`, `zone`, `tenant`), J, all on the current UTC day. Reads only: reports add it in memory.
   */
  async pendingEnergy(): Promise<{ at: string; day: string; joules: Map<string, number> }> {
    const now = this.ctx.clock.now();
    const at = this.now(),
      day = at.slice(0, 10);
    const hosts = await this.db
      .selectFrom('hosts')
      .select(['id', 'zone', 'state', 'vcpus', 'power_model', 'energy_at', 'boot_until'])
      .execute();
    const vms = await this.db
      .selectFrom('vms')
      .innerJoin('flavors', 'flavors.id', 'vms.flavor_id')
      .select(['vms.host_id', 'vms.tenant_id', 'vms.cpu_history', 'flavors.vcpus'])
      .where('vms.deleted_at', 'is', null)
      .where('vms.state', 'in', ['running', 'migrating', 'resizing'])
      .execute();
    const on = new Map<string, { tenant: string; vcpus: number; cpu: number }[]>();
    for (const v of vms)
      if (v.host_id) {
        let l = on.get(v.host_id);
        if (!l) on.set(v.host_id, (l = []));
        l.push({
          tenant: v.tenant_id,
          vcpus: v.vcpus,
          cpu: firstSample(v.cpu_history) ?? ASSUMED_VM_UTILIZATION,
        });
      }
    const add = new Map<string, number>();
    const bump = (scope: string, ref: string, j: number) => {
      const k = energyKey(scope, ref);
      add.set(k, (add.get(k) ?? 0) + j);
    };
    for (const h of hosts) {
      const from = h.energy_at ? Date.parse(h.energy_at) / 1000 : now;
      let dt = now - from;
      if (dt <= 0) continue;
      if (h.state === 'booting') {
        // Switching on draws peak power (the simulator's transition model) until the host is up.
        const until = h.boot_until ? Math.min(now, Date.parse(h.boot_until) / 1000) : now;
        const j = maxPowerW(parsePower(h.power_model)) * Math.max(0, until - from);
        bump('host', h.id, j);
        bump('zone', h.zone, j);
        dt = now - Math.max(from, until);
        if (dt <= 0) continue;
      } else if (h.state !== 'up' && h.state !== 'maintenance') continue;
      const share = attributeHostPower(parsePower(h.power_model), h.vcpus, on.get(h.id) ?? []);
      bump('host', h.id, share.totalW * dt);
      bump('zone', h.zone, share.totalW * dt);
      for (const [tenant, w] of share.byOwner) bump('tenant', tenant, w * dt);
    }
    return { at, day, joules: add };
  }

  /**
   * Whether some simulated host may be booting: true at start (not known), set when a host is switched
   * on in this process, cleared by a check that finds none booting. Lets a create skip the check.
   */
  private mayBoot = true;
  /** When (clock seconds) the last check ran: `ifBooting` checks again after a second whatever the flag. */
  private checkedAt = -Infinity;

  /** A simulated host was switched on in this process: the next `promoteBooted({ ifBooting })` checks. */
  noteBooting(): void {
    this.mayBoot = true;
  }

  /**
   * Simulated hosts whose boot time has passed are up. Run by the boot controller and by the write
   * paths that place on hosts (create, audits, plans), never by reads. With `ifBooting` (a create)
   * it reads nothing when no host was booting at the last check, less than a second ago, and none
   * was switched on in this process since (one statement less per create; a host switched on by
   * another API process is seen within that second, and the leader's boot loop checks every time).
   */
  async promoteBooted(o: { ifBooting?: boolean } = {}): Promise<void> {
    const clock = this.ctx.clock.now();
    if (o.ifBooting && !this.mayBoot && clock - this.checkedAt < 1) return;
    const now = this.now();
    this.mayBoot = false;
    this.checkedAt = clock;
    const booting = await this.db
      .selectFrom('hosts')
      .select(['id', 'name', 'boot_until'])
      .where('state', '=', 'booting')
      .where('boot_until', 'is not', null)
      .orderBy('name')
      .execute();
    // Hosts still booting keep the flag: the next create checks again.
    if (booting.some((h) => h.boot_until! > now)) this.mayBoot = true;
    // ISO-8601 UTC texts of one format: their order is time order (as `boot_until <= now` in SQL).
    const ready = booting.filter((h) => h.boot_until! <= now);
    for (const h of ready) {
      await this.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('hosts')
          .set({ state: 'up', boot_until: null })
          .where('id', '=', h.id)
          .where('state', '=', 'booting')
          .execute();
        await this.event(trx, {
          hostId: h.id,
          actor: 'system',
          kind: 'host.up',
          detail: { booted: h.boot_until },
        });
      });
    }
  }

  /**
   * Energy in [from, to] (whole UTC days, both included; `YYYY-MM-DD` or ISO times) by host, zone or
   * tenant; IT energy and facility energy (× PUE).
   */
  async energyReport(p: Principal, o: { from: string; to: string; by: 'host' | 'zone' | 'tenant' }) {
    // Days of the UTC times given (YYYY-MM-DD or ISO-8601 with an offset), both included.
    const from = parseBillingTime('from', o.from).slice(0, 10),
      to = parseBillingTime('to', o.to).slice(0, 10);
    if (!(from <= to))
      throw new ControlError(
        'BAD_REQUEST',
        `from (${o.from}) must be on or before to (${o.to}): both days count`,
      );
    authorize(p, o.by === 'tenant' ? 'energy:read' : 'energy:read-infra');
    // Reads never write: the energy since the last integration is added here, not stored.
    const pending = await this.pendingEnergy();
    let q = this.db
      .selectFrom('energy')
      .select(['ref', (eb) => eb.fn.sum<number>('joules').as('j')])
      .where('scope', '=', o.by)
      .where('day', '>=', from)
      .where('day', '<=', to)
      .groupBy('ref')
      .orderBy('ref');
    const own = o.by === 'tenant' ? tenantFilter(p, 'energy:read') : undefined;
    if (own) q = q.where('ref', '=', own);
    const joules = new Map((await q.execute()).map((r) => [r.ref, Number(r.j)]));
    if (pending.day >= from && pending.day <= to)
      for (const [k, j] of pending.joules) {
        const [scope, ref] = k.split('\u0000') as [string, string];
        if (scope !== o.by || (own && ref !== own)) continue;
        joules.set(ref, (joules.get(ref) ?? 0) + j);
      }
    const rows = [...joules].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([ref, j]) => ({ ref, j }));
    const pue = await this.pue();
    const names =
      o.by === 'host'
        ? new Map(
            (await this.db.selectFrom('hosts').select(['id', 'name']).execute()).map((h) => [h.id, h.name]),
          )
        : o.by === 'tenant'
          ? new Map(
              (await this.db.selectFrom('tenants').select(['id', 'name']).execute()).map((t) => [
                t.id,
                t.name,
              ]),
            )
          : new Map<string, string>();
    const out = rows.map((r) => {
      const it = Number(r.j) / 3.6e6;
      return { ref: r.ref, name: names.get(r.ref) ?? r.ref, itKWh: it, facilityKWh: it * pue };
    });
    return {
      by: o.by,
      from,
      to,
      pue,
      rows: out,
      totals: {
        itKWh: out.reduce((s, r) => s + r.itKWh, 0),
        facilityKWh: out.reduce((s, r) => s + r.facilityKWh, 0),
      },
    };
  }

  async pue(): Promise<number> {
    const r = await this.db
      .selectFrom('settings')
      .select('value')
      .where('key', '=', 'pue')
      .executeTakeFirst();
    return r ? Number(r.value) : 1;
  }

  async setPue(p: Principal, pue: number) {
    authorize(p, 'settings:write');
    if (!(pue >= 1 && pue <= 5))
      throw new ControlError('BAD_REQUEST', `PUE must be between 1 and 5, got ${pue}`);
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('settings').where('key', '=', 'pue').execute();
      await trx
        .insertInto('settings')
        .values({ key: 'pue', value: String(pue) })
        .execute();
    });
    return { pue };
  }
}
