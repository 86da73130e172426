/**
 * Hosts: registration, listing, detail and administrative state; the host row and its views.
 *
 * Uses: `cp.energy`, `cp.ha`.
 */
import { authorize } from '../authz.ts';
import { hostRef } from '../../core/host-driver.ts';
import type { Selectable } from 'kysely';
import type { HostView } from '../../policies/placement/pipeline.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import type { Db } from '../store/open-store.ts';
import { after, decodeCursor, pageLimit, toPage, type PageRequest } from '../store/keyset.ts';
import type { HostTable } from '../store/schema.ts';
import { hostLoad, series } from '../telemetry/metrics.ts';

/** A host as stored. */
export type HostRow = Selectable<HostTable>;

/** Hosts: registration, listing, detail and administrative state; the host row and its views. */
export class HostInventory extends Service {
  async createHost(
    p: Principal,
    h: {
      name: string;
      vcpus: number;
      memoryMiB: number;
      diskGiB: number;
      tier?: string;
      zone?: string;
      cpuRatio?: number;
      memoryRatio?: number;
      diskRatio?: number;
      reservedVcpus?: number;
      reservedMemoryMiB?: number;
      reservedDiskGiB?: number;
      datacenter?: string;
      rack?: string;
      driver?: string;
      agentUrl?: string;
      powerModel?: unknown;
      powerAddress?: string;
    },
  ) {
    authorize(p, 'host:create');
    const id = this.ctx.ids.uuid();
    const creds = await this.unique(
      () =>
        this.db.transaction().execute(async (trx) => {
          await trx
            .insertInto('hosts')
            .values({
              id,
              name: h.name,
              state: 'up',
              vcpus: h.vcpus,
              memory_mib: h.memoryMiB,
              disk_gib: h.diskGiB,
              cpu_ratio: h.cpuRatio ?? 4,
              memory_ratio: h.memoryRatio ?? 1,
              disk_ratio: h.diskRatio ?? 1,
              reserved_vcpus: h.reservedVcpus ?? 0,
              reserved_memory_mib: h.reservedMemoryMiB ?? 1024,
              reserved_disk_gib: h.reservedDiskGiB ?? 0,
              datacenter: h.datacenter ?? 'dc1',
              rack: h.rack ?? 'r1',
              driver: h.driver ?? 'sim',
              agent_url: h.agentUrl ?? null,
              power_model: JSON.stringify(h.powerModel ?? { type: 'linear', idleW: 100, maxW: 250 }),
              created_at: this.now(),
              last_seen_at: null,
              power_address: h.powerAddress ?? null,
              energy_at: this.now(),
              ...(h.tier ? { tier: h.tier } : {}),
              ...(h.zone ? { zone: h.zone } : {}),
            })
            .execute();
          await this.event(trx, {
            hostId: id,
            actor: p.userName,
            kind: 'host.created',
            detail: { name: h.name },
          });
          // A real host registered by an admin gets its credentials here (agents/enrollment.ts).
          if (h.driver === 'qemu' && h.agentUrl) return this.cp.enrollment.issueCredential(trx, id);
        }),
      `Host "${h.name}" already exists`,
    );
    return { ...(await this.getHost(p, id)), ...(creds ?? {}) };
  }

  hostView(h: HostRow, members?: Map<string, string[]>): HostView {
    return {
      id: h.id,
      name: h.name,
      state: h.state as HostView['state'],
      capacity: { vcpus: h.vcpus, memoryMiB: h.memory_mib, diskGiB: h.disk_gib },
      reserved: { vcpus: h.reserved_vcpus, memoryMiB: h.reserved_memory_mib, diskGiB: h.reserved_disk_gib },
      cpuRatio: h.cpu_ratio,
      memoryRatio: h.memory_ratio,
      diskRatio: h.disk_ratio,
      used: {
        vcpus: Number(h.used_vcpus),
        memoryMiB: Number(h.used_memory_mib),
        diskGiB: Number(h.used_disk_gib),
      },
      vmIds: members?.get(h.id) ?? [],
      tier: h.tier,
      zone: h.zone,
    };
  }

  hostRows(db: Db = this.db) {
    return db.selectFrom('hosts').selectAll().where('deleted_at', 'is', null).orderBy('name').execute();
  }

  async listHosts(p: Principal) {
    authorize(p, 'host:read');
    return (await this.hostRows()).map((h) => this.hostOut(h, this.hostView(h)));
  }

  /**
   * One page of hosts, ordered by name then id (a keyset range scan on `hosts_live_name`), with
   * optional filters (each exact).
   */
  async pageHosts(p: Principal, f: HostFilters = {}, page: PageRequest = {}) {
    authorize(p, 'host:read');
    const limit = pageLimit(page.limit);
    let q = this.db.selectFrom('hosts').selectAll().where('deleted_at', 'is', null);
    if (f.state) q = q.where('state', '=', f.state);
    if (f.zone) q = q.where('zone', '=', f.zone);
    if (f.rack) q = q.where('rack', '=', f.rack);
    if (f.driver) q = q.where('driver', '=', f.driver);
    if (page.cursor) q = q.where(after(['name', 'id'], decodeCursor('hosts', page.cursor, 2)));
    const rows = await q
      .orderBy('name')
      .orderBy('id')
      .limit(limit + 1)
      .execute();
    return toPage(
      'hosts',
      rows,
      limit,
      (h) => [h.name, h.id],
      (h) => this.hostOut(h, this.hostView(h)),
    );
  }

  private hostOut(h: HostRow, v: HostView) {
    return {
      id: h.id,
      name: h.name,
      state: h.state,
      datacenter: h.datacenter,
      zone: h.zone,
      rack: h.rack,
      tier: h.tier,
      driver: h.driver,
      lastSeenAt: h.last_seen_at,
      powerAddress: h.power_address,
      underlayIp: h.underlay_ip,
      physnets: JSON.parse(h.physnets) as string[],
      pools: JSON.parse(h.pools) as string[],
      ...hostLoad(h),
      capacity: v.capacity,
      reserved: v.reserved,
      overcommit: { cpu: h.cpu_ratio, memory: h.memory_ratio, disk: h.disk_ratio },
      used: v.used,
      vms: Number(h.vm_count),
    };
  }

  /**
   * The availability zones: each zone's name and whether a host in it is up. Every role may read
   * them (a VM's creation may name a zone); which hosts are in a zone stays with admins and operators.
   */
  async listZones(p: Principal): Promise<{ zone: string; available: boolean }[]> {
    authorize(p, 'flavor:read');
    const rows = await this.db
      .selectFrom('hosts')
      .select(['zone', 'state'])
      .where('deleted_at', 'is', null)
      .orderBy('zone')
      .execute();
    const zones = new Map<string, boolean>();
    for (const r of rows) zones.set(r.zone, (zones.get(r.zone) ?? false) || r.state === 'up');
    return [...zones].map(([zone, available]) => ({ zone, available }));
  }

  async getHost(p: Principal, ref: string) {
    authorize(p, 'host:read');
    const h = await this.db
      .selectFrom('hosts')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]))
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (!h) throw new ControlError('NOT_FOUND', `No host "${ref}"`);
    return { ...this.hostOut(h, this.hostView(h)), cpuSeries: series(h.cpu_history, h.cpu_times) };
  }

  async setHostState(p: Principal, ref: string, state: 'up' | 'maintenance' | 'off' | 'failed') {
    authorize(p, 'host:operate');
    const h = await this.getHost(p, ref);
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('hosts').set({ state }).where('id', '=', h.id).execute();
      await this.event(trx, {
        hostId: h.id,
        actor: p.userName,
        kind: 'host.state',
        detail: { from: h.state, to: state },
      });
    });
    // Simulated hosts follow an operator who declares a switched-off one in service (their BMC is simulated).
    if (h.state === 'off' && state !== 'off') {
      const row = await this.db
        .selectFrom('hosts')
        .selectAll()
        .where('id', '=', h.id)
        .executeTakeFirstOrThrow();
      if (row.driver === 'sim') await this.cp.drivers.driverFor(row).power('on', hostRef(row));
    }
    if (state === 'failed' && h.state !== 'failed') await this.cp.ha.evacuate(p, h.id);
    // HA VMs that waited for this host (their local volumes are on it) start again on it.
    if (state === 'up' && h.state !== 'up') await this.cp.ha.restartReturned(p, h.id);
    return this.getHost(p, h.id);
  }
}

/** Filters of a host list, each optional and exact. */
export interface HostFilters {
  state?: string;
  zone?: string;
  rack?: string;
  driver?: string;
}
