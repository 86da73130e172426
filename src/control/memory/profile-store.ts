/**
 * VMs' measured memory in the store: the agents' (or drivers') `GuestMemoryProfile`s, kept as the
 * latest profile of each VM with an exponentially weighted mean and deviation of its working set, and
 * read back as the `VmMemory`s the memory-overcommit policy judges hosts with.
 *
 * Uses: no other service.
 */
import type { PageFingerprint } from '../../core/memory/fingerprint.ts';
import type { GuestMemoryProfile } from '../../core/memory/profile.ts';
import type { VmMemory } from '../../policies/memory-overcommit.ts';
import { sql } from 'kysely';
import { Service } from '../service.ts';
import type { Db } from '../store/open-store.ts';

/** Weight of a new working-set sample in the running mean and variance. */
export const WS_ALPHA = 0.3;

/**
 * One step of an exponentially weighted mean and variance (Finch, "Incremental calculation of
 * weighted mean and variance", 2009, §9): the first sample starts the mean with no variance.
 */
export function ewmaStep(
  prev: { mean: number; var: number; n: number } | undefined,
  x: number,
  a = WS_ALPHA,
) {
  if (!prev || prev.n === 0) return { mean: x, var: 0, n: 1 };
  const d = x - prev.mean;
  return { mean: prev.mean + a * d, var: (1 - a) * (prev.var + a * d * d), n: prev.n + 1 };
}

/** A host's memory settings as the scheduler reads them. */
export interface HostMemorySettings {
  id: string;
  policy: 'static' | 'measured';
  risk: number;
  /** Share of a VM's flavor memory that is guaranteed on this host. */
  guarantee: number;
}

/** A VM's latest measured memory, as stored. */
export interface StoredProfile {
  vmId: string;
  hostId: string;
  measuredAt: string;
  memoryMiB: number;
  residentMiB: number;
  workingSetMiB: number;
  wsMeanMiB: number;
  wsSdMiB: number;
  samples: number;
  mergeable: boolean;
  fingerprint?: PageFingerprint;
}

/** VMs' memory profiles: store, read as `VmMemory`, predict for a VM not measured yet. */
export class MemoryProfiles extends Service {
  /** Parsed fingerprints by VM and measurement time (a fingerprint's JSON can be ~100 KB). */
  private readonly parsed = new Map<string, { at: string; fp: PageFingerprint | undefined }>();

  /**
   * Store profiles measured on `hostId`, for that host's live VMs only (others are ignored and
   * counted). Profiles must be valid already (checkMemoryProfile).
   * @returns how many were stored and ignored
   */
  async record(
    db: Db,
    hostId: string,
    profiles: readonly { vmId: string; profile: GuestMemoryProfile }[],
  ): Promise<{ stored: number; ignored: number }> {
    if (!profiles.length) return { stored: 0, ignored: 0 };
    const mine = new Set(
      (
        await db
          .selectFrom('vms')
          .select('id')
          .where('host_id', '=', hostId)
          .where('deleted_at', 'is', null)
          .execute()
      ).map((v) => v.id),
    );
    const known = profiles.filter((x) => mine.has(x.vmId));
    if (!known.length) return { stored: 0, ignored: profiles.length };
    await db.transaction().execute(async (trx) => {
      const prev = new Map(
        (
          await trx
            .selectFrom('vm_memory_profiles')
            .select(['vm_id', 'host_id', 'ws_mean_mib', 'ws_var_mib2', 'samples'])
            .where(
              'vm_id',
              'in',
              known.map((k) => k.vmId),
            )
            .execute()
        ).map((r) => [r.vm_id, r]),
      );
      for (const { vmId, profile: p } of known) {
        const old = prev.get(vmId);
        const s = ewmaStep(
          old ? { mean: old.ws_mean_mib, var: old.ws_var_mib2, n: old.samples } : undefined,
          p.workingSetMiB,
        );
        const row = {
          host_id: hostId,
          measured_at: p.at,
          memory_mib: p.memoryMiB,
          resident_mib: p.residentMiB,
          working_set_mib: p.workingSetMiB,
          ws_mean_mib: s.mean,
          ws_var_mib2: s.var,
          ws_sd_mib: Math.sqrt(s.var),
          samples: Math.min(s.n, 1_000_000),
          mergeable: p.mergeable ? 1 : 0,
          fingerprint: p.fingerprint ? JSON.stringify(p.fingerprint) : null,
        };
        if (old) await trx.updateTable('vm_memory_profiles').set(row).where('vm_id', '=', vmId).execute();
        else
          await trx
            .insertInto('vm_memory_profiles')
            .values({ vm_id: vmId, ...row })
            .execute();
      }
    });
    return { stored: known.length, ignored: profiles.length - known.length };
  }

  /**
   * The memory part of a VM's guest spec: `mergeable: false` when its tenant opted out of page
   * sharing (QEMU then runs it with mem-merge=off; a running guest keeps its setting until restarted
   * or migrated); on a host with the 'measured' memory policy, its guarantee as `minMemoryMiB` (the
   * floor of the agent's balloon loop).
   */
  async guestMemory(
    db: Db,
    tenantId: string | null,
    on?: { hostId: string; memoryMiB: number },
  ): Promise<{ mergeable: boolean; minMemoryMiB?: number }> {
    const t = tenantId
      ? await db.selectFrom('tenants').select('memory_sharing').where('id', '=', tenantId).executeTakeFirst()
      : undefined;
    const h = on
      ? await db
          .selectFrom('hosts')
          .select(['memory_policy', 'memory_guarantee'])
          .where('id', '=', on.hostId)
          .executeTakeFirst()
      : undefined;
    return {
      mergeable: t?.memory_sharing !== 'private',
      ...(on && h?.memory_policy === 'measured'
        ? { minMemoryMiB: Math.floor(on.memoryMiB * Number(h.memory_guarantee)) }
        : {}),
    };
  }

  /** A VM's stored profile, or undefined when it was never measured. */
  async get(db: Db, vmId: string): Promise<StoredProfile | undefined> {
    const r = await db
      .selectFrom('vm_memory_profiles')
      .selectAll()
      .where('vm_id', '=', vmId)
      .executeTakeFirst();
    return r ? this.stored(r) : undefined;
  }

  /** Hosts whose memory policy is 'measured' (live ones), with their settings. */
  async measuredHosts(db: Db): Promise<HostMemorySettings[]> {
    const rows = await db
      .selectFrom('hosts')
      .select(['id', 'memory_risk', 'memory_guarantee'])
      .where('memory_policy', '=', 'measured')
      .where('deleted_at', 'is', null)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      policy: 'measured',
      risk: Number(r.memory_risk),
      guarantee: Number(r.memory_guarantee),
    }));
  }

  /**
   * The live VMs of some hosts as the memory policy counts them: flavor memory, guaranteed share,
   * measured working set and fingerprint; a VM of a tenant that opted out of sharing never merges.
   */
  async vmsOn(db: Db, hosts: readonly HostMemorySettings[]): Promise<Map<string, VmMemory[]>> {
    const out = new Map<string, VmMemory[]>(hosts.map((h) => [h.id, []]));
    if (!hosts.length) return out;
    const share = new Map(hosts.map((h) => [h.id, h.guarantee]));
    const rows = await this.vmRows(db)
      .where(
        'vms.host_id',
        'in',
        hosts.map((h) => h.id),
      )
      .execute();
    for (const r of rows) out.get(r.host_id!)!.push(this.vmMemory(r, share.get(r.host_id!)!));
    return out;
  }

  /**
   * Some VMs (by id, wherever they run) as the memory policy would count them on a host that
   * guarantees `guarantee` of their flavor memory: what-if estimates ("this host with those VMs").
   */
  async vmsById(db: Db, ids: readonly string[], guarantee: number): Promise<VmMemory[]> {
    if (!ids.length) return [];
    const rows = await this.vmRows(db).where('vms.id', 'in', ids).execute();
    return rows.map((r) => this.vmMemory(r, guarantee));
  }

  /** The live VMs with their flavor, tenant's sharing choice and profile (a query to narrow). */
  private vmRows(db: Db) {
    return db
      .selectFrom('vms')
      .innerJoin('flavors', 'flavors.id', 'vms.flavor_id')
      .innerJoin('tenants', 'tenants.id', 'vms.tenant_id')
      .leftJoin('vm_memory_profiles as p', 'p.vm_id', 'vms.id')
      .select([
        'vms.id',
        'vms.host_id',
        'flavors.memory_mib',
        'tenants.memory_sharing',
        'p.ws_mean_mib',
        'p.ws_sd_mib',
        'p.mergeable',
        'p.measured_at',
        'p.fingerprint',
      ])
      .where('vms.deleted_at', 'is', null)
      .orderBy('vms.id');
  }

  /** One row of `vmRows` as the policy's VmMemory. */
  private vmMemory(
    r: {
      id: string;
      memory_mib: number;
      memory_sharing: string;
      ws_mean_mib: number | string | null;
      ws_sd_mib: number | string | null;
      mergeable: number | null;
      measured_at: string | null;
      fingerprint: string | null;
    },
    guarantee: number,
  ): VmMemory {
    const mergeable = r.memory_sharing !== 'private' && r.mergeable !== 0;
    return {
      id: r.id,
      memoryMiB: r.memory_mib,
      guaranteedMiB: r.memory_mib * guarantee,
      ...(r.ws_mean_mib !== null && r.ws_sd_mib !== null
        ? { workingSet: { meanMiB: Number(r.ws_mean_mib), sdMiB: Number(r.ws_sd_mib) } }
        : {}),
      ...(mergeable && r.fingerprint
        ? { fingerprint: this.fingerprint(r.id, r.measured_at!, r.fingerprint) }
        : {}),
      mergeable,
    };
  }

  /**
   * What a VM not measured on its own is predicted to use: the latest profile of a running VM of the
   * same image, one of the same tenant first (its working set, and its fingerprint when mergeable).
   */
  async predict(db: Db, o: { imageId: string; tenantId: string; excludeVm?: string }) {
    const rows = await db
      .selectFrom('vm_memory_profiles as p')
      .innerJoin('vms', 'vms.id', 'p.vm_id')
      // Not the fingerprints (~30 KB of JSON each): only the chosen one's, when not parsed already.
      .select([
        'p.vm_id',
        'vms.tenant_id',
        'p.ws_mean_mib',
        'p.ws_sd_mib',
        'p.measured_at',
        sql<number>`p.fingerprint is not null`.as('has_fp'),
      ])
      .where('vms.image_id', '=', o.imageId)
      .where('vms.state', '=', 'running')
      .where('vms.deleted_at', 'is', null)
      .where('vms.id', '!=', o.excludeVm ?? '')
      .orderBy('p.measured_at', 'desc')
      .limit(50)
      .execute();
    const best = rows.find((r) => r.tenant_id === o.tenantId) ?? rows[0];
    if (!best) return undefined;
    return {
      fromVm: best.vm_id,
      workingSet: { meanMiB: best.ws_mean_mib, sdMiB: best.ws_sd_mib },
      fingerprint: Number(best.has_fp)
        ? await this.fingerprintOf(db, best.vm_id, best.measured_at)
        : undefined,
    };
  }

  /** A stored profile's fingerprint, parsed once per measurement (read only when not parsed yet). */
  private async fingerprintOf(db: Db, vmId: string, at: string): Promise<PageFingerprint | undefined> {
    const c = this.parsed.get(vmId);
    if (c && c.at === at) return c.fp;
    const r = await db
      .selectFrom('vm_memory_profiles')
      .select(['measured_at', 'fingerprint'])
      .where('vm_id', '=', vmId)
      .executeTakeFirst();
    return r?.fingerprint ? this.fingerprint(vmId, r.measured_at, r.fingerprint) : undefined;
  }

  private fingerprint(vmId: string, at: string, json: string): PageFingerprint | undefined {
    const c = this.parsed.get(vmId);
    if (c && c.at === at) return c.fp;
    let fp: PageFingerprint | undefined;
    try {
      fp = JSON.parse(json) as PageFingerprint;
    } catch {
      fp = undefined;
    }
    if (this.parsed.size > 100_000) this.parsed.clear();
    this.parsed.set(vmId, { at, fp });
    return fp;
  }

  private stored(r: {
    vm_id: string;
    host_id: string;
    measured_at: string;
    memory_mib: number;
    resident_mib: number;
    working_set_mib: number;
    ws_mean_mib: number;
    ws_sd_mib: number;
    samples: number;
    mergeable: number;
    fingerprint: string | null;
  }): StoredProfile {
    return {
      vmId: r.vm_id,
      hostId: r.host_id,
      measuredAt: r.measured_at,
      memoryMiB: Number(r.memory_mib),
      residentMiB: Number(r.resident_mib),
      workingSetMiB: Number(r.working_set_mib),
      wsMeanMiB: Number(r.ws_mean_mib),
      wsSdMiB: Number(r.ws_sd_mib),
      samples: Number(r.samples),
      mergeable: Number(r.mergeable) === 1,
      fingerprint: r.fingerprint ? this.fingerprint(r.vm_id, r.measured_at, r.fingerprint) : undefined,
    };
  }
}
