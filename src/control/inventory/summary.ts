/**
 * The data-center page in one compact answer: every host as columns (one array per field, racks and
 * zones as indexes into short lists) and VM counts by state, so a dashboard at 10,000 hosts and
 * 100,000 VMs draws every tile from one request and reads no VM list.
 *
 * Uses: nothing but the store (hosts and VM counts).
 */
import { allows, authorize, tenantFilter } from '../authz.ts';
import { powerW } from '../../models/power.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import { parsePower } from '../telemetry/energy.ts';
import type { DatacenterSummary, HostColumns } from './summary-types.ts';

export type { DatacenterSummary, HostColumns } from './summary-types.ts';

/**
 * The first number of a JSON array of numbers (`"[0.42,0.4,...]"` → 0.42; `"[]"` → 0): a host's
 * latest CPU sample without parsing its whole history (same value as `JSON.parse(s)[0] ?? 0`).
 */
export function firstSample(history: string): number {
  const end = history.search(/[,\]]/);
  if (end < 0) return 0;
  const head = history.slice(history.indexOf('[') + 1, end).trim();
  return head === '' ? 0 : Number(head);
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** Counts `{ key: n }` of a grouped query. */
const counts = (rows: { k: string; n: number | string | bigint }[]) =>
  Object.fromEntries(rows.map((r) => [r.k, Number(r.n)]));

/** The data-center page's one answer (see the module comment). */
export class DatacenterSummaryService extends Service {
  /**
   * VMs by state (members and readers: their tenant's) and, for admins and operators, every host as
   * columns with its racks, zones, load, allocation and VM count (unless `hosts` is false). Members
   * never see hosts.
   */
  async summary(p: Principal, o: { hosts?: boolean } = {}): Promise<DatacenterSummary> {
    authorize(p, 'overview:read');
    let vq = this.db
      .selectFrom('vms')
      .select(['state as k', (eb) => eb.fn.countAll<number>().as('n')])
      .where('deleted_at', 'is', null);
    const own = tenantFilter(p, 'overview:read');
    if (own) vq = vq.where('tenant_id', '=', own);
    const byState = counts(await vq.groupBy('state').execute());
    const vms = { total: Object.values(byState).reduce((a, n) => a + n, 0), byState };
    if (!allows(p, 'host:read') || o.hosts === false) return { vms };
    const rows = await this.db
      .selectFrom('hosts')
      .select([
        'id',
        'name',
        'state',
        'datacenter',
        'rack',
        'zone',
        'power_model',
        'cpu_history',
        'vm_count',
        'vcpus',
        'memory_mib',
        'disk_gib',
        'used_vcpus',
        'used_memory_mib',
        'used_disk_gib',
      ])
      .where('deleted_at', 'is', null)
      .orderBy('name')
      .execute();
    const c: HostColumns = {
      id: [],
      name: [],
      state: [],
      rack: [],
      zone: [],
      racks: [],
      zones: [],
      cpu: [],
      powerW: [],
      vms: [],
      used: { vcpus: [], memoryMiB: [], diskGiB: [] },
      capacity: { vcpus: [], memoryMiB: [], diskGiB: [] },
    };
    const index = (list: string[], seen: Map<string, number>, k: string) => {
      let i = seen.get(k);
      if (i === undefined) seen.set(k, (i = list.push(k) - 1));
      return i;
    };
    const rackIx = new Map<string, number>(),
      zoneIx = new Map<string, number>();
    const models = new Map<string, ReturnType<typeof parsePower>>();
    const hostStates: Record<string, number> = {};
    for (const h of rows) {
      const cpu = firstSample(h.cpu_history);
      const on = h.state === 'up' || h.state === 'maintenance';
      let model = models.get(h.power_model);
      if (!model) models.set(h.power_model, (model = parsePower(h.power_model)));
      c.id.push(h.id);
      c.name.push(h.name);
      c.state.push(h.state);
      c.rack.push(index(c.racks, rackIx, `${h.datacenter} / ${h.rack}`));
      c.zone.push(index(c.zones, zoneIx, h.zone));
      c.cpu.push(round3(cpu));
      c.powerW.push(on ? Math.round(powerW(model, Math.min(1, Math.max(0, cpu)))) : 0);
      c.vms.push(Number(h.vm_count));
      c.used.vcpus.push(Number(h.used_vcpus));
      c.used.memoryMiB.push(Number(h.used_memory_mib));
      c.used.diskGiB.push(Number(h.used_disk_gib));
      c.capacity.vcpus.push(h.vcpus);
      c.capacity.memoryMiB.push(h.memory_mib);
      c.capacity.diskGiB.push(h.disk_gib);
      hostStates[h.state] = (hostStates[h.state] ?? 0) + 1;
    }
    return { vms, hosts: { total: rows.length, byState: hostStates, columns: c } };
  }
}
