/**
 * Measured CPU utilization of VMs and hosts (histories for plans and plots).
 *
 * Uses: `cp.energy`.
 */
import { authorize } from '../authz.ts';
import { sql } from 'kysely';
import { powerW } from '../../models/power.ts';
import { LOAD_HISTORY } from '../../policies/plans/load-plan.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import type { Db } from '../store/open-store.ts';
import { parsePower } from './energy.ts';

/** A host's latest CPU utilization and power draw (0 W when not on). */
export function hostLoad(h: { state: string; power_model: string; cpu_history: string }) {
  const cpu = firstSample(h.cpu_history) ?? 0;
  const on = h.state === 'up' || h.state === 'maintenance';
  return { cpu, powerW: on ? powerW(parsePower(h.power_model), Math.min(1, Math.max(0, cpu))) : 0 };
}

/**
 * Set text columns on many rows in a few statements (UPDATE ... FROM VALUES works on SQLite 3.33+
 * and PostgreSQL; VALUES columns are column1, column2... on both). `values` maps a row's id to its
 * columns' values, in the order of `columns`.
 */
export async function bulkSet(
  db: Db,
  table: 'vms' | 'hosts',
  columns: ('cpu_history' | 'cpu_times')[],
  values: Map<string, string[]>,
): Promise<void> {
  const rows = [...values];
  const set = sql.join(columns.map((c, i) => sql`${sql.ref(c)} = ${sql.ref(`v.column${i + 2}`)}`));
  // At most 999 parameters per statement (SQLite's old default limit).
  const per = Math.floor(999 / (columns.length + 1));
  for (let i = 0; i < rows.length; i += per) {
    const chunk = rows.slice(i, i + per);
    await sql`update ${sql.table(table)} set ${set} from (values ${sql.join(chunk.map(([id, v]) => sql`(${sql.join([id, ...v])})`))}) as v where ${sql.ref(`${table}.id`)} = v.column1`.execute(
      db,
    );
  }
}

/**
 * `[x, ...history]` cut to `keep` samples, as JSON, from a JSON array of numbers as
 * `JSON.stringify` wrote it: the same text as parsing, prepending, slicing and stringifying.
 */
export function prependSample(history: string, x: number, keep: number): string {
  const head = JSON.stringify(x);
  if (keep <= 1) return `[${head}]`;
  if (history.length <= 2) return `[${head}]`;
  // Keep the first keep-1 stored samples: cut at the (keep-1)th comma, if there is one.
  let at = 0;
  for (let n = 0; n < keep - 1; n++) {
    at = history.indexOf(',', at + 1);
    if (at < 0) return `[${head},${history.slice(1)}`;
  }
  return `[${head},${history.slice(1, at)}]`;
}

/** The first number of a JSON array of numbers as `JSON.stringify` wrote it (undefined when empty). */
export function firstSample(history: string): number | undefined {
  if (history.length <= 2) return undefined;
  const end = history.indexOf(',');
  const head = history.slice(1, end < 0 ? -1 : end);
  // A NaN sample was stored as null: JSON.parse would give null, which callers default with ??.
  return head === 'null' ? undefined : Number(head);
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
    authorize(p, 'metrics:record');
    await this.cp.energy.integrateEnergy();
    const unknown: string[] = [];
    await this.db.transaction().execute(async (trx) => {
      const vms = await trx
        .selectFrom('vms')
        .innerJoin('flavors', 'flavors.id', 'vms.flavor_id')
        .select([
          'vms.id',
          'vms.name',
          'vms.host_id',
          'vms.state',
          'vms.cpu_history',
          'vms.cpu_times',
          'flavors.vcpus',
        ])
        .where('vms.deleted_at', 'is', null)
        .execute();
      const t = Math.round(this.ctx.clock.now());
      const byRef = new Map<string, (typeof vms)[number]>();
      for (const v of vms) {
        byRef.set(v.name, v);
        byRef.set(v.id, v);
      }
      const changed = new Map<string, string[]>();
      for (const x of samples) {
        const v = byRef.get(x.vm);
        if (!v) {
          unknown.push(x.vm);
          continue;
        }
        v.cpu_history = prependSample(v.cpu_history, Math.min(1, Math.max(0, x.cpu)), LOAD_HISTORY);
        // A VM sampled twice in one report gets both samples but one time (as it always had).
        changed.set(v.id, [v.cpu_history, prependSample(v.cpu_times, t, LOAD_HISTORY)]);
      }
      await bulkSet(trx, 'vms', ['cpu_history', 'cpu_times'], changed);
      // Host utilization follows from its running VMs' (for the plots and the energy), summed in the
      // store's order of the VMs (rowid), as a join on the host index gives them.
      const demand = new Map<string, number>();
      for (const v of vms)
        if (v.state === 'running' && v.host_id && v.vcpus)
          demand.set(v.host_id, (demand.get(v.host_id) ?? 0) + v.vcpus * (firstSample(v.cpu_history) ?? 0));
      const hosts = await trx
        .selectFrom('hosts')
        .select(['id', 'vcpus', 'state', 'cpu_history', 'cpu_times'])
        .execute();
      const hostRows = new Map<string, string[]>();
      for (const h of hosts) {
        const on = h.state === 'up' || h.state === 'maintenance';
        const sample = on ? Math.min(1, (demand.get(h.id) ?? 0) / h.vcpus) : 0;
        hostRows.set(h.id, [
          prependSample(h.cpu_history, sample, HOST_HISTORY),
          prependSample(h.cpu_times, t, HOST_HISTORY),
        ]);
      }
      await bulkSet(trx, 'hosts', ['cpu_history', 'cpu_times'], hostRows);
    });
    return { recorded: samples.length - unknown.length, unknown };
  }
}
