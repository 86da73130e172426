/**
 * Editing and removing hosts: change ratios, reserved resources, zone, rack, tier, data center and
 * power model; delete an empty host; retire one (drain, then delete). A deleted host is kept, hidden,
 * for history (usage, invoices and events name it) and its name is free again.
 *
 * Uses: `cp.hosts`, `cp.plans` (drain), `cp.scheduler` (forgets its cached host attributes).
 */
import { authorize } from '../authz.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import type { HostRow } from './hosts.ts';

/** What `PATCH /v1/hosts/:id` may change (each optional). */
export interface HostChanges {
  cpuRatio?: number;
  memoryRatio?: number;
  diskRatio?: number;
  reservedVcpus?: number;
  reservedMemoryMiB?: number;
  reservedDiskGiB?: number;
  zone?: string;
  rack?: string;
  tier?: string;
  datacenter?: string;
  powerModel?: unknown;
  powerAddress?: string | null;
  /** The address other hosts reach this one at for VXLAN (null: the agent URL's host name). */
  underlayIp?: string | null;
  /** The provider/external physical networks the host is wired to. */
  physnets?: string[];
  /** The storage pools (names) the host sees (a local pool's folder, a shared pool's mount). */
  pools?: string[];
  /** 'static' (flavor × memory ratio) or 'measured' (guarantee + demand at a risk: docs/memory.md). */
  memoryPolicy?: 'static' | 'measured';
  /** A measured host's accepted risk that its VMs need more memory than it has (0 < risk < 0.5). */
  memoryRisk?: number;
  /** Share of each VM's flavor memory guaranteed on a measured host (0 < share ≤ 1). */
  memoryGuarantee?: number;
}

/**
 * The name a deleted object keeps so its old name can be reused: `web-1~deleted-3f2a9c1b` (`~` is
 * not allowed in names, so it never collides with a live one).
 */
export const deletedName = (name: string, id: string) => `${name}~deleted-${id.slice(0, 8)}`;

/** Why a host's schedulable capacity (capacity × ratio − reserved) would fall below what is placed on it. */
export function overCapacity(h: HostRow): string[] {
  // A measured host's memory: its guaranteed share of what is placed must fit (the claim's rule).
  const measured = h.memory_policy === 'measured';
  const dims: [string, number, number, number, number][] = [
    ['vCPUs', h.vcpus, h.cpu_ratio, h.reserved_vcpus, Number(h.used_vcpus)],
    measured
      ? [
          'guaranteed memory MiB',
          h.memory_mib,
          1,
          h.reserved_memory_mib,
          Number(h.used_memory_mib) * h.memory_guarantee,
        ]
      : ['memory MiB', h.memory_mib, h.memory_ratio, h.reserved_memory_mib, Number(h.used_memory_mib)],
    ['disk GiB', h.disk_gib, h.disk_ratio, h.reserved_disk_gib, Number(h.used_disk_gib)],
  ];
  return dims
    .filter(([, cap, ratio, reserved, used]) => cap * ratio - reserved < used)
    .map(([what, cap, ratio, reserved, used]) => `${what}: ${cap} × ${ratio} − ${reserved} < ${used} placed`);
}

/** Editing and removing hosts. */
export class HostEdits extends Service {
  /** A live host by id or name (deleted ones are not found). */
  async hostRow(ref: string): Promise<HostRow> {
    const h = await this.db
      .selectFrom('hosts')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]))
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (!h) throw new ControlError('NOT_FOUND', `No host "${ref}"`);
    return h;
  }

  /**
   * Change a host's ratios, reserved resources, placement labels or power model. Ratios must be
   * > 0, reserved ≥ 0 and below the capacity; a change that would leave the VMs placed there over
   * the schedulable capacity is refused (INVALID_STATE naming the host and the dimension).
   */
  async updateHost(p: Principal, ref: string, c: HostChanges) {
    authorize(p, 'host:update');
    const h = await this.hostRow(ref);
    for (const [k, v] of [
      ['cpuRatio', c.cpuRatio],
      ['memoryRatio', c.memoryRatio],
      ['diskRatio', c.diskRatio],
    ] as const)
      if (v !== undefined && !(v > 0)) throw new ControlError('BAD_REQUEST', `${k} must be > 0; got ${v}`);
    if (c.memoryRisk !== undefined && !(c.memoryRisk > 0 && c.memoryRisk < 0.5))
      throw new ControlError('BAD_REQUEST', `memoryRisk must be between 0 and 0.5; got ${c.memoryRisk}`);
    if (c.memoryGuarantee !== undefined && !(c.memoryGuarantee > 0 && c.memoryGuarantee <= 1))
      throw new ControlError('BAD_REQUEST', `memoryGuarantee must be in (0, 1]; got ${c.memoryGuarantee}`);
    const next: HostRow = {
      ...h,
      memory_policy: c.memoryPolicy ?? h.memory_policy,
      memory_risk: c.memoryRisk ?? h.memory_risk,
      memory_guarantee: c.memoryGuarantee ?? h.memory_guarantee,
      cpu_ratio: c.cpuRatio ?? h.cpu_ratio,
      memory_ratio: c.memoryRatio ?? h.memory_ratio,
      disk_ratio: c.diskRatio ?? h.disk_ratio,
      reserved_vcpus: c.reservedVcpus ?? h.reserved_vcpus,
      reserved_memory_mib: c.reservedMemoryMiB ?? h.reserved_memory_mib,
      reserved_disk_gib: c.reservedDiskGiB ?? h.reserved_disk_gib,
      zone: c.zone ?? h.zone,
      rack: c.rack ?? h.rack,
      tier: c.tier ?? h.tier,
      datacenter: c.datacenter ?? h.datacenter,
      power_model: c.powerModel !== undefined ? JSON.stringify(c.powerModel) : h.power_model,
      power_address: c.powerAddress !== undefined ? c.powerAddress : h.power_address,
      underlay_ip: c.underlayIp !== undefined ? c.underlayIp : h.underlay_ip,
      physnets: c.physnets !== undefined ? JSON.stringify([...new Set(c.physnets)].sort()) : h.physnets,
      pools: c.pools !== undefined ? JSON.stringify([...new Set(c.pools)].sort()) : h.pools,
    };
    for (const [k, reserved, cap] of [
      ['reservedVcpus', next.reserved_vcpus, h.vcpus],
      ['reservedMemoryMiB', next.reserved_memory_mib, h.memory_mib],
      ['reservedDiskGiB', next.reserved_disk_gib, h.disk_gib],
    ] as const)
      if (!(reserved >= 0 && (reserved < cap || (cap === 0 && reserved === 0))))
        throw new ControlError(
          'BAD_REQUEST',
          `${k} must be ≥ 0 and below the host's capacity (${cap}); got ${reserved}`,
        );
    const over = overCapacity(next);
    if (over.length)
      throw new ControlError(
        'INVALID_STATE',
        `Host "${h.name}" would be over capacity with its ${Number(h.vm_count)} VM(s): ${over.join('; ')}; move VMs away first`,
        { host: h.name, over },
      );
    const { id: _id, ...set } = next;
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('hosts').set(set).where('id', '=', h.id).execute();
      await this.event(trx, { hostId: h.id, actor: p.userName, kind: 'host.updated', detail: c });
    });
    this.cp.scheduler.forgetHosts();
    // Its peers flood to its new underlay address (the resync retries a failure).
    if (c.underlayIp !== undefined) await this.cp.networkPush.resync();
    return this.cp.hosts.getHost(p, h.id);
  }

  /** Delete a host with no VMs (INVALID_STATE naming them otherwise); kept hidden for history. */
  async deleteHost(p: Principal, ref: string) {
    authorize(p, 'host:delete');
    const h = await this.hostRow(ref);
    const vms = await this.db
      .selectFrom('vms')
      .select(['id', 'name'])
      .where('host_id', '=', h.id)
      .where('deleted_at', 'is', null)
      .orderBy('name')
      .execute();
    if (vms.length)
      throw new ControlError(
        'INVALID_STATE',
        `Host "${h.name}" still has ${vms.length} VM(s): ${vms.map((v) => v.name).join(', ')}; drain or retire it`,
        { host: h.name, vms: vms.map((v) => v.id) },
      );
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('hosts')
        .set({ deleted_at: this.now(), state: 'deleted', name: deletedName(h.name, h.id) })
        .where('id', '=', h.id)
        .execute();
      await this.event(trx, {
        hostId: h.id,
        actor: p.userName,
        kind: 'host.deleted',
        detail: { name: h.name },
      });
    });
    this.cp.scheduler.forgetHosts();
  }

  /**
   * Retire a host: drain it (live-migrate every VM elsewhere), then delete it. When a VM could not
   * move the host stays in maintenance and the answer says which and why (`deleted: false`).
   */
  async retireHost(p: Principal, ref: string) {
    authorize(p, 'host:delete');
    const h = await this.hostRow(ref);
    const drain = await this.cp.plans.drainHost(p, h.id);
    const left = await this.db
      .selectFrom('vms')
      .select('id')
      .where('host_id', '=', h.id)
      .where('deleted_at', 'is', null)
      .execute();
    if (left.length) return { host: h.name, deleted: false, moved: drain.moved, stuck: drain.stuck };
    await this.deleteHost(p, h.id);
    return { host: h.name, deleted: true, moved: drain.moved, stuck: drain.stuck };
  }
}
