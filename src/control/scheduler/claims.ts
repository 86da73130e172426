/**
 * Claims on capacity: a host's counters, a tenant's quota, their release, and HA admission control.
 *
 * Uses: no other service.
 */
import { sql } from 'kysely';
import { failoverShortfall } from '../../policies/ha.ts';
import { ControlError } from '../errors.ts';
import { Service } from '../service.ts';
import type { Db } from '../store/open-store.ts';

/**
 * A host's memory condition for a claim of `mib` more: the static rule (flavor × memory ratio), or on
 * a host with the 'measured' memory policy its guarantee (each VM's flavor memory × the host's
 * guaranteed share) outright, whatever the ratio: the one part of memory overcommit that concurrent
 * claims can never overbook (the demand at the risk is the scheduler's check: docs/control-plane.md).
 */
const MEMORY_FITS = (mib: number) =>
  sql<boolean>`(case when memory_policy = 'measured' then (used_memory_mib + ${mib}) * memory_guarantee <= memory_mib - reserved_memory_mib else used_memory_mib + ${mib} <= memory_mib * memory_ratio - reserved_memory_mib end)`;

/** Claims on capacity: a host's counters, a tenant's quota, their release, and HA admission control. */
export class Claims extends Service {
  /** Claim quota for a flavor (conditional update: race-free); QUOTA_EXCEEDED says what is used and left. */
  async claimQuota(
    trx: Db,
    tenantId: string,
    flavor: { vcpus: number; memory_mib: number; disk_gib: number },
    newVms = 1,
  ) {
    const r = await trx
      .updateTable('tenants')
      .set((eb) => ({
        used_vms: eb('used_vms', '+', newVms),
        used_vcpus: eb('used_vcpus', '+', flavor.vcpus),
        used_memory_mib: eb('used_memory_mib', '+', flavor.memory_mib),
        used_disk_gib: eb('used_disk_gib', '+', flavor.disk_gib),
      }))
      .where('id', '=', tenantId)
      .where((eb) =>
        eb.and([
          eb(eb('used_vms', '+', newVms), '<=', eb.ref('quota_vms')),
          eb(eb('used_vcpus', '+', flavor.vcpus), '<=', eb.ref('quota_vcpus')),
          eb(eb('used_memory_mib', '+', flavor.memory_mib), '<=', eb.ref('quota_memory_mib')),
          eb(eb('used_disk_gib', '+', flavor.disk_gib), '<=', eb.ref('quota_disk_gib')),
        ]),
      )
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 1) return;
    const t = await trx
      .selectFrom('tenants')
      .selectAll()
      .where('id', '=', tenantId)
      .executeTakeFirstOrThrow();
    const used = {
      vms: Number(t.used_vms),
      vcpus: Number(t.used_vcpus),
      memoryMiB: Number(t.used_memory_mib),
      diskGiB: Number(t.used_disk_gib),
    };
    const want = { vms: newVms, vcpus: flavor.vcpus, memoryMiB: flavor.memory_mib, diskGiB: flavor.disk_gib };
    const limit = {
      vms: t.quota_vms,
      vcpus: t.quota_vcpus,
      memoryMiB: t.quota_memory_mib,
      diskGiB: t.quota_disk_gib,
    };
    for (const k of ['vms', 'vcpus', 'memoryMiB', 'diskGiB'] as const) {
      if (used[k] + want[k] > limit[k]) {
        throw new ControlError(
          'QUOTA_EXCEEDED',
          `Quota exceeded for ${k}: used ${used[k]} of ${limit[k]}, requested ${want[k]}, left ${Math.max(0, limit[k] - used[k])}`,
          {
            resource: k,
            used: used[k],
            limit: limit[k],
            requested: want[k],
            left: Math.max(0, limit[k] - used[k]),
          },
        );
      }
    }
    throw new ControlError('QUOTA_EXCEEDED', 'Quota exceeded');
  }

  /**
   * Claim a host's capacity for a flavor (conditional update: two racing requests cannot both take the
   * last room). The disk check counts the host's local volumes too, and `o.volumesGiB` (local volumes
   * that come along with a migrating VM) without claiming them.
   */
  async claimHost(
    trx: Db,
    hostId: string,
    f: { vcpus: number; memory_mib: number; disk_gib: number },
    newVms = 1,
    o: { volumesGiB?: number } = {},
  ): Promise<boolean> {
    // A claim that adds no disk (a resize of CPU or memory) is not refused for a disk filled before.
    const adds = f.disk_gib + (o.volumesGiB ?? 0);
    // The host's local volumes (as `localVolumesGiB` counts them) in the same statement: no read before.
    const disk =
      adds > 0
        ? sql`${adds} + (select coalesce(sum(volumes.size_gib), 0) from volumes inner join storage_pools on storage_pools.id = volumes.pool_id where volumes.host_id = hosts.id and volumes.deleted_at is null and storage_pools.kind != 'shared')`
        : sql`${f.disk_gib}`;
    const r = await trx
      .updateTable('hosts')
      .set((eb) => ({
        used_vcpus: eb('used_vcpus', '+', f.vcpus),
        used_memory_mib: eb('used_memory_mib', '+', f.memory_mib),
        used_disk_gib: eb('used_disk_gib', '+', f.disk_gib),
        vm_count: eb('vm_count', '+', newVms),
      }))
      .where('id', '=', hostId)
      .where('state', '=', 'up')
      .where(
        sql<boolean>`used_vcpus + ${f.vcpus} <= vcpus * cpu_ratio - reserved_vcpus and ${MEMORY_FITS(f.memory_mib)} and used_disk_gib + ${disk} <= disk_gib * disk_ratio - reserved_disk_gib`,
      )
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** Give back one VM's capacity on a host (the inverse of claimHost). */
  releaseHost(trx: Db, hostId: string, f: { vcpus: number; memory_mib: number; disk_gib: number }) {
    return trx
      .updateTable('hosts')
      .set((eb) => ({
        used_vcpus: eb('used_vcpus', '-', f.vcpus),
        used_memory_mib: eb('used_memory_mib', '-', f.memory_mib),
        used_disk_gib: eb('used_disk_gib', '-', f.disk_gib),
        vm_count: eb('vm_count', '-', 1),
      }))
      .where('id', '=', hostId)
      .execute();
  }

  /** Give back a deleted VM's host capacity and quota. */
  async release(trx: Db, vmId: string) {
    const v = await trx
      .selectFrom('vms')
      .innerJoin('flavors', 'flavors.id', 'vms.flavor_id')
      .select(['vms.tenant_id', 'vms.host_id', 'flavors.vcpus', 'flavors.memory_mib', 'flavors.disk_gib'])
      .where('vms.id', '=', vmId)
      .executeTakeFirstOrThrow();
    await trx
      .updateTable('tenants')
      .set((eb) => ({
        used_vms: eb('used_vms', '-', 1),
        used_vcpus: eb('used_vcpus', '-', v.vcpus),
        used_memory_mib: eb('used_memory_mib', '-', v.memory_mib),
        used_disk_gib: eb('used_disk_gib', '-', v.disk_gib),
      }))
      .where('id', '=', v.tenant_id)
      .execute();
    if (v.host_id) await this.releaseHost(trx, v.host_id, v);
  }

  /**
   * HA admission control: with `failoverHosts` ≥ 1 (PUT /v1/settings/ha), a new HA VM is admitted only
   * if the HA VMs of any one host could still restart on the others (capacity already claimed).
   */
  async admitHa(trx: Db, name: string, hostId: string, f: { vcpus: number; memory_mib: number }) {
    const r = await trx
      .selectFrom('settings')
      .select('value')
      .where('key', '=', 'ha-failover-hosts')
      .executeTakeFirst();
    if (!r || Number(r.value) < 1) return;
    const hosts = (await trx.selectFrom('hosts').selectAll().where('state', '=', 'up').execute()).map(
      (h) => ({
        id: h.id,
        name: h.name,
        free: {
          vcpus: h.vcpus * h.cpu_ratio - h.reserved_vcpus - Number(h.used_vcpus),
          memoryMiB: h.memory_mib * h.memory_ratio - h.reserved_memory_mib - Number(h.used_memory_mib),
        },
      }),
    );
    // HA VMs with a local volume on their host wait for it when it fails: they need no room elsewhere.
    const pinned = new Set(
      (
        await trx
          .selectFrom('volumes')
          .innerJoin('storage_pools', 'storage_pools.id', 'volumes.pool_id')
          .innerJoin('vms', (j) =>
            j.onRef('vms.id', '=', 'volumes.vm_id').onRef('vms.host_id', '=', 'volumes.host_id'),
          )
          .select('vms.id')
          .where('storage_pools.kind', '!=', 'shared')
          .where('volumes.deleted_at', 'is', null)
          .execute()
      ).map((r) => r.id),
    );
    const ha = (
      await trx
        .selectFrom('vms')
        .innerJoin('flavors', 'flavors.id', 'vms.flavor_id')
        .select(['vms.id', 'vms.name', 'vms.host_id', 'flavors.vcpus', 'flavors.memory_mib'])
        .where('vms.ha', '=', 1)
        .where('vms.deleted_at', 'is', null)
        .where('vms.host_id', 'is not', null)
        .execute()
    ).map((v) => ({
      name: v.name,
      hostId: v.host_id!,
      vcpus: v.vcpus,
      memoryMiB: v.memory_mib,
      pinned: pinned.has(v.id),
    }));
    ha.push({ name, hostId, vcpus: f.vcpus, memoryMiB: f.memory_mib, pinned: false });
    const short = failoverShortfall(hosts, ha);
    if (short)
      throw new ControlError(
        'NO_HOST_FITS',
        `HA admission control: with ${name}, if ${short.host} failed its HA VM ${short.vm} could not restart anywhere (failover capacity for 1 host is kept); add capacity or create the VM without ha`,
      );
  }
}
