/**
 * The cluster as the planners see it (hosts with their zone, rack, tier and data center, VMs, CPU
 * histories, and the hard placement constraints every planner and the plan checker honour).
 *
 * Uses: `cp.constraintReader`.
 */
import type { LoadCluster, LoadHost } from '../../policies/plans/load-plan.ts';
import type { PlanCluster, PlanHost } from '../../policies/plans/plan.ts';
import { Service } from '../service.ts';
import { parsePower } from '../telemetry/energy.ts';

type HostRow = Awaited<ReturnType<PlanClusterReader['hostRows']>>[number];

/** A host as the planners see it; `emptyForS` only when known. */
function planHost(h: HostRow, emptyForS?: number): LoadHost {
  const power = parsePower(h.power_model);
  return {
    id: h.id,
    name: h.name,
    state: h.state as PlanHost['state'],
    capacity: {
      vcpus: h.vcpus * h.cpu_ratio - h.reserved_vcpus,
      memoryMiB: h.memory_mib * h.memory_ratio - h.reserved_memory_mib,
    },
    physical: { vcpus: h.vcpus, memoryMiB: h.memory_mib },
    idleW: power.type === 'specpower' ? power.wattsAt[0]! : power.idleW,
    cpus: h.vcpus,
    power,
    bandwidthMbps: 1000,
    ...(emptyForS === undefined ? {} : { emptyForS }),
    zone: h.zone,
    rack: h.rack,
    tier: h.tier,
    datacenter: h.datacenter,
  };
}

/** The cluster as the load-aware planners see it (hosts, VMs, CPU histories). */
export class PlanClusterReader extends Service {
  /** The hosts of a zone (or all), by name, without their CPU histories (hundreds of samples each). */
  async hostRows(zone?: string) {
    let hq = this.db
      .selectFrom('hosts')
      .select([
        'id',
        'name',
        'state',
        'vcpus',
        'cpu_ratio',
        'reserved_vcpus',
        'memory_mib',
        'memory_ratio',
        'reserved_memory_mib',
        'power_model',
        'vm_count',
        'zone',
        'rack',
        'tier',
        'datacenter',
      ])
      .where('deleted_at', 'is', null)
      .orderBy('name');
    if (zone) hq = hq.where('zone', '=', zone);
    return hq.execute();
  }

  /**
   * The live cluster as the plan checks see it (`checkPlan`, `checkSchedule`, `scheduleWaves`):
   * where every VM is, what every host holds, and the hard constraints. Cheaper than
   * `planCluster`: no CPU histories, migration ages, empty times or local volumes, which the checks
   * do not read (`sinceMigrationS` is Infinity, `emptyForS` and `localDiskGiB` absent). Applying a
   * plan reads it before every wave.
   */
  async checkCluster(zone?: string): Promise<PlanCluster> {
    const hosts = await this.hostRows(zone);
    const ids = new Set(hosts.map((h) => h.id));
    const vms = (
      await this.db
        .selectFrom('vms')
        .innerJoin('flavors', 'flavors.id', 'vms.flavor_id')
        .select(['vms.id', 'vms.name', 'vms.host_id', 'flavors.vcpus', 'flavors.memory_mib'])
        .where('vms.deleted_at', 'is', null)
        .where('vms.host_id', 'is not', null)
        .orderBy('vms.name')
        .execute()
    ).filter((v) => ids.has(v.host_id!));
    return {
      hosts: hosts.map((h) => planHost(h)),
      vms: vms.map((v) => ({
        id: v.id,
        name: v.name,
        hostId: v.host_id!,
        vcpus: v.vcpus,
        memoryMiB: v.memory_mib,
        sinceMigrationS: Infinity,
      })),
      constraints: await this.cp.constraintReader.all(this.db),
    };
  }

  /** The live cluster as the plan code sees it (one zone, or all), with CPU histories. */
  async planCluster(zone?: string): Promise<LoadCluster> {
    const hosts = await this.hostRows(zone);
    const ids = new Set(hosts.map((h) => h.id));
    const vms = (
      await this.db
        .selectFrom('vms')
        .innerJoin('flavors', 'flavors.id', 'vms.flavor_id')
        .select([
          'vms.id',
          'vms.name',
          'vms.host_id',
          'vms.cpu_history',
          'flavors.vcpus',
          'flavors.memory_mib',
        ])
        .where('vms.deleted_at', 'is', null)
        .where('vms.host_id', 'is not', null)
        .orderBy('vms.name')
        .execute()
    ).filter((v) => ids.has(v.host_id!));
    const last = await this.db
      .selectFrom('events')
      .select(['vm_id', (eb) => eb.fn.max('at').as('at')])
      .where('kind', '=', 'vm.migrated')
      .groupBy('vm_id')
      .execute();
    const lastAt = new Map(last.map((r) => [r.vm_id, Date.parse(String(r.at))]));
    const nowMs = this.ctx.clock.now() * 1000;
    // How long each empty host has been empty: since its last VM's usage ended there.
    const lastUse = await this.db
      .selectFrom('usage')
      .select(['host_id', (eb) => eb.fn.max('end_at').as('end')])
      .where('host_id', 'in', hosts.length ? hosts.map((h) => h.id) : [''])
      .groupBy('host_id')
      .execute();
    const lastEnd = new Map(lastUse.map((r) => [r.host_id, r.end ? Date.parse(String(r.end)) : NaN]));
    // GiB of local volumes attached to each VM (a move mirrors them).
    const local = await this.db
      .selectFrom('volumes')
      .innerJoin('storage_pools', 'storage_pools.id', 'volumes.pool_id')
      .select(['volumes.vm_id', (eb) => eb.fn.sum<number>('volumes.size_gib').as('gib')])
      .where('volumes.vm_id', 'is not', null)
      .where('volumes.deleted_at', 'is', null)
      .where('storage_pools.kind', '=', 'local')
      .groupBy('volumes.vm_id')
      .execute();
    const localGiB = new Map(local.map((r) => [r.vm_id!, Number(r.gib)]));
    return {
      hosts: hosts.map((h) =>
        planHost(
          h,
          Number(h.vm_count) > 0
            ? 0
            : lastEnd.has(h.id) && !Number.isNaN(lastEnd.get(h.id)!)
              ? (nowMs - lastEnd.get(h.id)!) / 1000
              : Infinity,
        ),
      ),
      vms: vms.map((v) => ({
        id: v.id,
        name: v.name,
        hostId: v.host_id!,
        vcpus: v.vcpus,
        memoryMiB: v.memory_mib,
        sinceMigrationS: lastAt.has(v.id) ? (nowMs - lastAt.get(v.id)!) / 1000 : Infinity,
        history: JSON.parse(v.cpu_history) as number[],
        // Local volumes move by block migration: their size counts in each move's cost.
        localDiskGiB: localGiB.get(v.id) ?? 0,
      })),
      constraints: await this.cp.constraintReader.all(this.db),
    };
  }
}
