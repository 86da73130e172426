/**
 * The data center at a glance: the dashboard totals and the /metrics snapshot.
 *
 * Uses: `cp.energy`, `cp.hosts` (/metrics).
 */
import { PostgresAdapter, sql } from 'kysely';
import { authorize, reachesAllTenants } from '../authz.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import { RUNNING_ON_HOST, VM_CPU_NOW_INDEX, vmCpuNowSql } from '../store/migrations/0940-overview-demand.ts';
import { hostLoad } from '../telemetry/metrics.ts';

/** The data center at a glance: the dashboard totals and the /metrics snapshot. */
export class OverviewService extends Service {
  /**
   * The data center at a glance (the dashboard's totals): hosts and VMs by state, power now, energy
   * today (IT and × PUE, as of the last metrics report: the dashboard polls this, so it writes nothing), and the share of hosts that are on whose VMs ask for more CPU than they
   * have. Members get their tenant's VMs and energy only.
   */
  async overview(p: Principal) {
    authorize(p, 'overview:read');
    const all = reachesAllTenants(p, 'overview:read');
    const day = this.now().slice(0, 10);
    // Counted and summed in the store (issue 15): reading every VM's CPU history took a second at
    // 100,000 VMs. Every VM has a flavor (a foreign key), so no join is needed to count them.
    let cq = this.db
      .selectFrom('vms')
      .select(['state', (eb) => eb.fn.countAll<number | string>().as('n')])
      .where('deleted_at', 'is', null)
      .groupBy('state');
    if (!all) cq = cq.where('tenant_id', '=', p.tenantId);
    const vmStates = (await cq.execute()).map((r) => ({ state: r.state, n: Number(r.n) }));
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
      vms: {
        total: vmStates.reduce((a, r) => a + r.n, 0),
        byState: Object.fromEntries(vmStates.map((r) => [r.state, r.n])),
      },
      energyTodayKWh: energyKWh,
      facilityEnergyTodayKWh: energyKWh * pue,
      pue,
    };
    if (!all) return out;
    // The hosts' columns the figures need, and of the CPU history only its head (the last sample).
    const hosts = await this.db
      .selectFrom('hosts')
      .select([
        'id',
        'state',
        'vcpus',
        'power_model',
        sql<string>`substr(cpu_history, 1, 40)`.as('cpu_history'),
      ])
      .where('deleted_at', 'is', null)
      .execute();
    const demand = await this.hostDemand();
    const on = hosts.filter((h) => h.state === 'up' || h.state === 'maintenance');
    const overloaded = on.filter((h) => (demand.get(h.id) ?? 0) > h.vcpus + 1e-9).length;
    const byState = hosts.reduce<Record<string, number>>((m, h) => {
      m[h.state] = (m[h.state] ?? 0) + 1;
      return m;
    }, {});
    return {
      ...out,
      hosts: { total: hosts.length, byState },
      powerW: hosts.reduce((a, h) => a + hostLoad(h).powerW, 0),
      overloadedHosts: overloaded,
      slaViolation: on.length ? overloaded / on.length : 0,
    };
  }

  /**
   * Each host's CPU demand: the vCPUs of its running VMs × their last CPU sample (0 when none),
   * summed per host and flavor in the store (on SQLite from the index of migration 0940).
   */
  private async hostDemand(): Promise<Map<string, number>> {
    const isPg = this.db.getExecutor().adapter instanceof PostgresAdapter;
    const rows = await sql<{
      host_id: string;
      flavor_id: string;
      cpu: number | string;
    }>`select host_id, flavor_id, sum(${sql.raw(vmCpuNowSql(isPg))}) as cpu from vms ${sql.raw(isPg ? '' : `indexed by ${VM_CPU_NOW_INDEX} `)}where ${sql.raw(RUNNING_ON_HOST)} group by host_id, flavor_id`.execute(
      this.db,
    );
    const vcpus = new Map(
      (await this.db.selectFrom('flavors').select(['id', 'vcpus']).execute()).map((f) => [f.id, f.vcpus]),
    );
    const demand = new Map<string, number>();
    for (const r of rows.rows)
      demand.set(r.host_id, (demand.get(r.host_id) ?? 0) + vcpus.get(r.flavor_id)! * Number(r.cpu));
    return demand;
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
