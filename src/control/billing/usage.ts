/**
 * Usage of a tenant: per VM, per report line, per day.
 *
 * Uses: `cp.tenancy`.
 */
import { authorize, authorizeTenantObject } from '../authz.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import { ASSUMED_VM_UTILIZATION, vmPowerW } from '../telemetry/energy.ts';
import { parsePeriod } from './period.ts';

/** Usage of a tenant: per VM, per report line, per day. */
export class UsageReports extends Service {
  /** The tenant whose usage is read: the caller's own, or (admins only: authz `usage:read`) any. */
  private async tenantScope(p: Principal, tenant?: string): Promise<string> {
    authorize(p, 'usage:read');
    if (!tenant || tenant === p.tenantId) return p.tenantId;
    const t = await this.cp.tenancy.tenantByRef(tenant);
    authorizeTenantObject(p, 'usage:read', t.id, `No tenant "${tenant}"`, { kind: 'tenant', id: tenant });
    return t.id;
  }

  /**
   * Usage of a tenant in [from, to) (`YYYY-MM-DD`, midnight UTC, or ISO-8601 times): per VM, seconds running and stopped, vCPU-, memory- and
   * disk-hours, and energy attributed from its host's power model by vCPU share, at the VM's mean
   * measured CPU (an assumed 10 % before its first sample). Times are exact to the second.
   */
  async usage(p: Principal, o: { tenant?: string; from: string; to: string }) {
    const tenantId = await this.tenantScope(p, o.tenant);
    const period = parsePeriod(o);
    const from = Date.parse(period.from),
      to = Date.parse(period.to);
    const rows = await this.db
      .selectFrom('usage')
      .innerJoin('flavors', 'flavors.id', 'usage.flavor_id')
      .leftJoin('hosts', 'hosts.id', 'usage.host_id')
      .innerJoin('vms', 'vms.id', 'usage.vm_id')
      .select([
        'usage.vm_id',
        'vms.name as vm_name',
        'vms.cpu_history',
        'usage.class',
        'usage.start_at',
        'usage.end_at',
        'flavors.name as flavor',
        'flavors.vcpus',
        'flavors.memory_mib',
        'flavors.disk_gib',
        'hosts.vcpus as host_vcpus',
        'hosts.power_model',
      ])
      .where('usage.tenant_id', '=', tenantId)
      .where('usage.start_at', '<', new Date(to).toISOString())
      .where((eb) =>
        eb.or([eb('usage.end_at', 'is', null), eb('usage.end_at', '>', new Date(from).toISOString())]),
      )
      .execute();
    const nowMs = this.ctx.clock.now() * 1000;
    const pieces = rows
      .map((r) => {
        const a = Math.max(from, Date.parse(r.start_at)),
          b = Math.min(to, r.end_at ? Date.parse(r.end_at) : nowMs);
        // Energy is attributed at the VM's mean measured CPU (its recent samples), or an assumed 10 % before any.
        const hist = JSON.parse(r.cpu_history) as number[];
        const utilization = hist.length
          ? hist.reduce((m, x) => m + x, 0) / hist.length
          : ASSUMED_VM_UTILIZATION;
        return { ...r, a, b, utilization, seconds: Math.max(0, Math.round((b - a) / 1000)) };
      })
      .filter((x) => x.seconds > 0);
    return { tenantId, from: new Date(from).toISOString(), to: new Date(to).toISOString(), pieces };
  }

  async usageReport(p: Principal, o: { tenant?: string; from: string; to: string }) {
    const u = await this.usage(p, o);
    const byVm = new Map<
      string,
      {
        vmId: string;
        vm: string;
        flavor: string;
        runningS: number;
        stoppedS: number;
        vcpuHours: number;
        memoryGiBHours: number;
        diskGiBHours: number;
        energyKWh: number;
      }
    >();
    for (const x of u.pieces) {
      const e = byVm.get(x.vm_id) ?? {
        vmId: x.vm_id,
        vm: x.vm_name,
        flavor: x.flavor,
        runningS: 0,
        stoppedS: 0,
        vcpuHours: 0,
        memoryGiBHours: 0,
        diskGiBHours: 0,
        energyKWh: 0,
      };
      const h = x.seconds / 3600;
      if (x.class === 'running') {
        e.runningS += x.seconds;
        e.vcpuHours += x.vcpus * h;
        e.memoryGiBHours += (x.memory_mib / 1024) * h;
        e.energyKWh += (vmPowerW(x.power_model, x.vcpus, x.host_vcpus ?? x.vcpus, x.utilization) * h) / 1000;
      } else e.stoppedS += x.seconds;
      e.diskGiBHours += x.disk_gib * h;
      byVm.set(x.vm_id, e);
    }
    const vms = [...byVm.values()];
    const sum = (f: (v: (typeof vms)[number]) => number) => vms.reduce((s, v) => s + f(v), 0);
    return {
      tenantId: u.tenantId,
      from: u.from,
      to: u.to,
      vms,
      totals: {
        runningS: sum((v) => v.runningS),
        stoppedS: sum((v) => v.stoppedS),
        vcpuHours: sum((v) => v.vcpuHours),
        memoryGiBHours: sum((v) => v.memoryGiBHours),
        diskGiBHours: sum((v) => v.diskGiBHours),
        energyKWh: sum((v) => v.energyKWh),
      },
    };
  }

  /** Usage of a tenant in [from, to) by flavor and UTC day (pieces split at midnight). */
  async usageByDay(p: Principal, o: { tenant?: string; from: string; to: string }) {
    const u = await this.usage(p, o);
    const out = new Map<
      string,
      {
        day: string;
        flavor: string;
        runningS: number;
        stoppedS: number;
        vcpuHours: number;
        memoryGiBHours: number;
        diskGiBHours: number;
      }
    >();
    for (const x of u.pieces) {
      for (let a = x.a; a < x.b;) {
        const midnight = Date.UTC(
          new Date(a).getUTCFullYear(),
          new Date(a).getUTCMonth(),
          new Date(a).getUTCDate() + 1,
        );
        const b = Math.min(x.b, midnight),
          h = (b - a) / 3.6e6,
          day = new Date(a).toISOString().slice(0, 10);
        const e = out.get(`${day}|${x.flavor}`) ?? {
          day,
          flavor: x.flavor,
          runningS: 0,
          stoppedS: 0,
          vcpuHours: 0,
          memoryGiBHours: 0,
          diskGiBHours: 0,
        };
        if (x.class === 'running') {
          e.runningS += (b - a) / 1000;
          e.vcpuHours += x.vcpus * h;
          e.memoryGiBHours += (x.memory_mib / 1024) * h;
        } else e.stoppedS += (b - a) / 1000;
        e.diskGiBHours += x.disk_gib * h;
        out.set(`${day}|${x.flavor}`, e);
        a = b;
      }
    }
    return {
      tenantId: u.tenantId,
      from: u.from,
      to: u.to,
      rows: [...out.values()].sort((m, n) =>
        m.day < n.day ? -1 : m.day > n.day ? 1 : m.flavor < n.flavor ? -1 : 1,
      ),
    };
  }
}
