/**
 * Measured CPU utilization of VMs and hosts (histories for plans and plots).
 *
 * Uses: `cp.energy`.
 */
import { sql } from 'kysely';
import { powerW } from '../../models/power.ts';
import { LOAD_HISTORY } from '../../policies/plans/load-plan.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import type { Db } from '../store/open-store.ts';
import { parsePower } from './energy.ts';

/** A host's latest CPU utilization and power draw (0 W when not on). */
export function hostLoad(h: { state: string; power_model: string; cpu_history: string }) {
  const cpu = (JSON.parse(h.cpu_history) as number[])[0] ?? 0;
  const on = h.state === 'up' || h.state === 'maintenance';
  return { cpu, powerW: on ? powerW(parsePower(h.power_model), Math.min(1, Math.max(0, cpu))) : 0 };
}

/**
 * Set one text column on many rows in a few statements (UPDATE ... FROM VALUES works on SQLite
 * 3.33+ and PostgreSQL; VALUES columns are column1, column2 on both).
 */
export async function bulkSet(
  db: Db,
  table: 'vms' | 'hosts',
  column: 'cpu_history' | 'cpu_times',
  values: Map<string, string>,
): Promise<void> {
  const rows = [...values];
  for (let i = 0; i < rows.length; i += 500) {
    const chunk = rows.slice(i, i + 500);
    await sql`update ${sql.table(table)} set ${sql.ref(column)} = v.column2 from (values ${sql.join(chunk.map(([id, v]) => sql`(${id}, ${v})`))}) as v where ${sql.ref(`${table}.id`)} = v.column1`.execute(
      db,
    );
  }
}

/** Samples kept per host for the dashboard's plots (a day at 5-minute reports). */
export const HOST_HISTORY = 288;

/** A stored history as [{t, cpu}] oldest first (samples recorded before times were kept are left out). */
export function series(history: string, times: string): { t: number; cpu: number }[] {
  const h = JSON.parse(history) as number[],
    t = JSON.parse(times) as number[];
  const out: { t: number; cpu: number }[] = [];
  for (let i = Math.min(h.length, t.length) - 1; i >= 0; i--) out.push({ t: t[i]!, cpu: h[i]! });
  return out;
}

/** Measured CPU utilization of VMs and hosts (histories for plans and plots). */
export class Metrics extends Service {
  /**
   * Record measured CPU utilization of VMs (from agents' heartbeats, or a monitoring system for
   * simulated hosts): it feeds the load-aware audits, the energy accounting and the plots.
   */
  async recordMetrics(p: Principal, samples: { vm: string; cpu: number }[]) {
    this.require(p, 'admin', 'operator');
    await this.cp.energy.integrateEnergy();
    const unknown: string[] = [];
    await this.db.transaction().execute(async (trx) => {
      const vms = await trx
        .selectFrom('vms')
        .select(['id', 'name', 'cpu_history', 'cpu_times'])
        .where('deleted_at', 'is', null)
        .execute();
      const t = Math.round(this.ctx.clock.now());
      const changedTimes = new Map<string, string>();
      const byRef = new Map<string, (typeof vms)[number]>();
      for (const v of vms) {
        byRef.set(v.name, v);
        byRef.set(v.id, v);
      }
      const changed = new Map<string, string>();
      for (const x of samples) {
        const v = byRef.get(x.vm);
        if (!v) {
          unknown.push(x.vm);
          continue;
        }
        const h = [Math.min(1, Math.max(0, x.cpu)), ...(JSON.parse(v.cpu_history) as number[])].slice(
          0,
          LOAD_HISTORY,
        );
        v.cpu_history = JSON.stringify(h);
        changed.set(v.id, v.cpu_history);
        changedTimes.set(
          v.id,
          JSON.stringify([t, ...(JSON.parse(v.cpu_times) as number[])].slice(0, LOAD_HISTORY)),
        );
      }
      await bulkSet(trx, 'vms', 'cpu_history', changed);
      await bulkSet(trx, 'vms', 'cpu_times', changedTimes);
      // Host utilization follows from its VMs' (for the plots and the energy).
      const rows = await trx
        .selectFrom('hosts')
        .leftJoin('vms', (j) =>
          j
            .onRef('vms.host_id', '=', 'hosts.id')
            .on('vms.deleted_at', 'is', null)
            .on('vms.state', '=', 'running'),
        )
        .leftJoin('flavors', 'flavors.id', 'vms.flavor_id')
        .select([
          'hosts.id',
          'hosts.vcpus as cpus',
          'hosts.state',
          'hosts.cpu_history as host_history',
          'hosts.cpu_times as host_times',
          'vms.cpu_history',
          'flavors.vcpus',
        ])
        .execute();
      const util = new Map<
        string,
        { cpus: number; demand: number; history: string; times: string; state: string }
      >();
      for (const r of rows) {
        const u = util.get(r.id) ?? {
          cpus: r.cpus,
          demand: 0,
          history: r.host_history,
          times: r.host_times,
          state: r.state,
        };
        if (r.cpu_history && r.vcpus) u.demand += r.vcpus * ((JSON.parse(r.cpu_history) as number[])[0] ?? 0);
        util.set(r.id, u);
      }
      const hostHistories = new Map<string, string>(),
        hostTimes = new Map<string, string>();
      for (const [id, u] of util) {
        const sample = u.state === 'up' || u.state === 'maintenance' ? Math.min(1, u.demand / u.cpus) : 0;
        hostHistories.set(
          id,
          JSON.stringify([sample, ...(JSON.parse(u.history) as number[])].slice(0, HOST_HISTORY)),
        );
        hostTimes.set(id, JSON.stringify([t, ...(JSON.parse(u.times) as number[])].slice(0, HOST_HISTORY)));
      }
      await bulkSet(trx, 'hosts', 'cpu_history', hostHistories);
      await bulkSet(trx, 'hosts', 'cpu_times', hostTimes);
    });
    return { recorded: samples.length - unknown.length, unknown };
  }
}
