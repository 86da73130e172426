/**
 * The scheduler's hosts in memory: a `HostIndex` of placement views kept fresh by reading only the
 * host rows whose `version` changed (triggers bump it on every write that placement reads, from any
 * service or API process: migration 0910-host-version). Never trusted blindly: the claim stays the
 * store's conditional update, and a lost claim re-reads that host (`refresh`). Hosts with the
 * 'measured' memory policy are kept beside the index (`measured()`), with their versions, which also
 * move when their VMs, profiles or tenants' sharing change (migration 0982-memory-version).
 */
import { HostIndex } from '../../policies/placement/host-index.ts';
import type { HostView } from '../../policies/placement/pipeline.ts';
import type { HostRow } from '../inventory/hosts.ts';
import type { Db } from '../store/open-store.ts';
import { localDiskUse, localVolumesGiB } from '../storage/local-disk.ts';

/** Versions re-read behind the newest seen: a PostgreSQL transaction may commit after a later one. */
const LOOKBACK = 32;
/** Decisions between full re-reads (a safety net, not the freshness mechanism). */
const FULL_EVERY = 2000;

const COLUMNS = [
  'id',
  'name',
  'state',
  'vcpus',
  'memory_mib',
  'disk_gib',
  'cpu_ratio',
  'memory_ratio',
  'disk_ratio',
  'reserved_vcpus',
  'reserved_memory_mib',
  'reserved_disk_gib',
  'datacenter',
  'rack',
  'driver',
  'tier',
  'zone',
  'used_vcpus',
  'used_memory_mib',
  'used_disk_gib',
  'deleted_at',
  'version',
  'memory_policy',
  'memory_risk',
  'memory_guarantee',
] as const;

/** A host with the 'measured' memory policy: placed beside the index (its VMs' memory decides). */
export interface MeasuredHost {
  view: HostView;
  /** Its driver kind (the index's domain). */
  domain: string;
  risk: number;
  guarantee: number;
  /** Its row's version when read: any change of what memory placement reads about it bumps it (0982). */
  version: number;
}

/** Hosts as placement sees them, refreshed from the rows changed since the last read. */
export class HostCache {
  private index: HostIndex | null = null;
  private readonly versions = new Map<string, number>();
  private readonly measuredHosts = new Map<string, MeasuredHost>();
  private seen = 0;
  private reads = 0;

  /**
   * The live hosts with the 'measured' memory policy, as of the last `current` (or `refresh`). The
   * index holds them aside: only their attributes, for the constraint checkers.
   */
  measured(): ReadonlyMap<string, MeasuredHost> {
    return this.measuredHosts;
  }

  /** Forget everything: the next `current` reads every host. */
  invalidate(): void {
    this.index = null;
  }

  /** The index, after reading what changed (or every host, the first time and now and then). */
  async current(db: Db): Promise<HostIndex> {
    const index = this.index;
    if (!index || ++this.reads >= FULL_EVERY) return this.reload(db);
    // Ids and versions only: the rows themselves are read for the few that changed.
    const recent = await db
      .selectFrom('hosts')
      .select(['id', 'version'])
      .where('version', '>', this.seen - LOOKBACK)
      .execute();
    const changed = recent.filter((r) => this.versions.get(r.id) !== Number(r.version)).map((r) => r.id);
    if (changed.length) await this.refresh(db, changed);
    // The watermark moves only by this listing, which saw every version above it: a row re-read later
    // may carry a newer version, and taking that would skip other hosts changed in between.
    for (const r of recent) if (Number(r.version) > this.seen) this.seen = Number(r.version);
    // Invalidated while this read was waiting (a host edited): read every host again.
    return this.index === index ? index : this.current(db);
  }

  /**
   * Re-read some hosts now (after a claim lost a race on them). It does not move the watermark of the
   * change feed: hosts changed meanwhile are still found by the next `current`.
   */
  async refresh(db: Db, ids: readonly string[]): Promise<void> {
    const index = this.index;
    if (!index || !ids.length) return;
    const rows = await db
      .selectFrom('hosts')
      .select([...COLUMNS])
      .where('id', 'in', ids)
      .execute();
    await this.apply(db, rows, index);
  }

  private async reload(db: Db): Promise<HostIndex> {
    const rows = await db
      .selectFrom('hosts')
      .select([...COLUMNS])
      .where('deleted_at', 'is', null)
      .execute();
    const index = new HostIndex();
    this.versions.clear();
    this.measuredHosts.clear();
    this.seen = 0;
    this.reads = 0;
    await this.apply(db, rows, index, await localVolumesGiB(db));
    // One statement read every row: any later change has a higher version.
    for (const r of rows) if (Number(r.version) > this.seen) this.seen = Number(r.version);
    this.index = index;
    return index;
  }

  private async apply(db: Db, rows: Row[], index: HostIndex, volumes?: Map<string, number>) {
    const live = rows.filter((r) => !r.deleted_at);
    const vols =
      volumes ??
      (await localVolumesGiB(
        db,
        live.map((r) => r.id),
      ));
    for (const r of rows) {
      this.versions.set(r.id, Number(r.version));
      this.measuredHosts.delete(r.id);
      if (r.deleted_at) index.remove(r.id);
      else if (r.memory_policy === 'measured') {
        const v = view(r, vols);
        index.aside(v);
        this.measuredHosts.set(r.id, {
          view: v,
          domain: r.driver,
          risk: Number(r.memory_risk),
          guarantee: Number(r.memory_guarantee),
          version: Number(r.version),
        });
      } else index.upsert(view(r, vols), r.driver);
    }
  }
}

type Row = Pick<HostRow, (typeof COLUMNS)[number]>;

/** A host row as placement sees it; its disk counts its local volumes too (one function for every path). */
function view(r: Row, volumes: ReadonlyMap<string, number>): HostView {
  return {
    id: r.id,
    name: r.name,
    state: r.state as HostView['state'],
    capacity: { vcpus: r.vcpus, memoryMiB: r.memory_mib, diskGiB: r.disk_gib },
    reserved: { vcpus: r.reserved_vcpus, memoryMiB: r.reserved_memory_mib, diskGiB: r.reserved_disk_gib },
    cpuRatio: r.cpu_ratio,
    memoryRatio: r.memory_ratio,
    diskRatio: r.disk_ratio,
    used: {
      vcpus: Number(r.used_vcpus),
      memoryMiB: Number(r.used_memory_mib),
      diskGiB: localDiskUse(r, volumes).usedGiB,
    },
    vmIds: [],
    tier: r.tier,
    zone: r.zone,
    rack: r.rack,
    datacenter: r.datacenter,
  };
}
