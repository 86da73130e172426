/**
 * The data center at a glance: the dashboard totals and the /metrics snapshot.
 *
 * Uses: `cp.energy`, `cp.hosts`.
 */
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import { hostLoad } from '../telemetry/metrics.ts';

/** The data center at a glance: the dashboard totals and the /metrics snapshot. */
export class OverviewService extends Service {
  /**
   * The data center at a glance (the dashboard's totals): hosts and VMs by state, power now, energy
   * today (IT and × PUE, as of the last metrics report: the dashboard polls this, so it writes nothing), and the share of hosts that are on whose VMs ask for more CPU than they
   * have. Members get their tenant's VMs and energy only.
   */
  async overview(p: Principal) {
    const all = this.canSeeAll(p);
    const day = this.now().slice(0, 10);
    const count = (rows: { state: string }[]) =>
      rows.reduce<Record<string, number>>((m, r) => {
        m[r.state] = (m[r.state] ?? 0) + 1;
        return m;
      }, {});
    let vq = this.db
      .selectFrom('vms')
      .innerJoin('flavors', 'flavors.id', 'vms.flavor_id')
      .select(['vms.state', 'vms.host_id', 'vms.cpu_history', 'flavors.vcpus'])
      .where('vms.deleted_at', 'is', null);
    if (!all) vq = vq.where('vms.tenant_id', '=', p.tenantId);
    const vms = await vq.execute();
    const pue = await this.cp.energy.pue();
    let eq = this.db
      .selectFrom('energy')
      .select((eb) => eb.fn.sum<number>('joules').as('j'))
      .where('day', '=', day);
    eq = all
      ? eq.where('scope', '=', 'host')
      : eq.where('scope', '=', 'tenant').where('ref', '=', p.tenantId);
    const energyKWh = Number((await eq.executeTakeFirst())?.j ?? 0) / 3.6e6;
    const out = {
      vms: { total: vms.length, byState: count(vms) },
      energyTodayKWh: energyKWh,
      facilityEnergyTodayKWh: energyKWh * pue,
      pue,
    };
    if (!all) return out;
    const hosts = await this.cp.hosts.hostRows();
    const demand = new Map<string, number>();
    for (const v of vms)
      if (v.state === 'running' && v.host_id)
        demand.set(
          v.host_id,
          (demand.get(v.host_id) ?? 0) + v.vcpus * ((JSON.parse(v.cpu_history) as number[])[0] ?? 0),
        );
    const on = hosts.filter((h) => h.state === 'up' || h.state === 'maintenance');
    const overloaded = on.filter((h) => (demand.get(h.id) ?? 0) > h.vcpus + 1e-9).length;
    return {
      ...out,
      hosts: { total: hosts.length, byState: count(hosts) },
      powerW: hosts.reduce((a, h) => a + hostLoad(h).powerW, 0),
      overloadedHosts: overloaded,
      slaViolation: on.length ? overloaded / on.length : 0,
    };
  }

  /** Counts for /metrics. */
  async metricsSnapshot() {
    const hosts = await this.db
      .selectFrom('hosts')
      .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('state')
      .execute();
    const vms = await this.db
      .selectFrom('vms')
      .select(['state', (eb) => eb.fn.countAll<number>().as('n')])
      .where('deleted_at', 'is', null)
      .groupBy('state')
      .execute();
    const placements = await this.db
      .selectFrom('events')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('kind', '=', 'vm.placed')
      .executeTakeFirstOrThrow();
    // The same figure as the dashboard's "power now": every host's power model at its measured load.
    const powerW = (await this.cp.hosts.hostRows()).reduce((a, h) => a + hostLoad(h).powerW, 0);
    return {
      hostsByState: Object.fromEntries(hosts.map((h) => [h.state, Number(h.n)])),
      vmsByState: Object.fromEntries(vms.map((v) => [v.state, Number(v.n)])),
      placements: Number(placements.n),
      powerW,
    };
  }
}
