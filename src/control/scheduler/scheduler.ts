/**
 * Placement: host views for the placement pipeline (static attributes cached), dry-run placement,
 * server-group membership.
 *
 * Uses: `cp.hosts`.
 */
import { type HostView, type PlacementDecision, placeVm } from '../../policies/placement/pipeline.ts';
import { ControlError } from '../errors.ts';
import type { HostRow } from '../inventory/hosts.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import type { Db } from '../store/open-store.ts';

/** Placement: host views for the placement pipeline (static attributes cached), dry-run placement, server-group membership. */
export class Scheduler extends Service {
  /** VM ids per host, for the members of one server group only (what its rules need). */
  private async groupMembersByHost(db: Db, groupId: string | undefined) {
    const m = new Map<string, string[]>();
    if (!groupId) return m;
    const rows = await db
      .selectFrom('vms')
      .select(['id', 'host_id'])
      .where('server_group_id', '=', groupId)
      .where('deleted_at', 'is', null)
      .execute();
    for (const r of rows) if (r.host_id) m.set(r.host_id, [...(m.get(r.host_id) ?? []), r.id]);
    return m;
  }

  /** Hosts' static attributes (capacity, ratios, reserved), cached: placement reads only state and counters. */
  private readonly hostStatic = new Map<string, HostRow>();

  /** Host views for placement: a narrow read of what changes, joined with the cached static part. */
  async placementViews(db: Db, members: Map<string, string[]>): Promise<HostView[]> {
    const live = await db
      .selectFrom('hosts')
      .select(['id', 'state', 'used_vcpus', 'used_memory_mib', 'used_disk_gib'])
      .orderBy('name')
      .execute();
    if (live.some((h) => !this.hostStatic.has(h.id))) {
      this.hostStatic.clear();
      for (const h of await this.cp.hosts.hostRows(db)) this.hostStatic.set(h.id, h);
    }
    return live.map((l) => this.cp.hosts.hostView({ ...this.hostStatic.get(l.id)!, ...l }, members));
  }

  /** Where a VM would go and why (no change). */
  async placement(
    p: Principal,
    o: { flavor: string; serverGroup?: string; preset?: string; zone?: string; tier?: string },
    db: Db = this.db,
  ): Promise<PlacementDecision> {
    const flavor = await db
      .selectFrom('flavors')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', o.flavor), eb('name', '=', o.flavor)]))
      .executeTakeFirst();
    if (!flavor) throw new ControlError('NOT_FOUND', `No flavor "${o.flavor}"`);
    const group = o.serverGroup ? await this.groupFor(p, o.serverGroup, db) : undefined;
    const byHost = await this.groupMembersByHost(db, group?.id);
    const members = [...byHost.values()].flat();
    return placeVm(
      await this.placementViews(db, byHost),
      {
        flavor: { vcpus: flavor.vcpus, memoryMiB: flavor.memory_mib, diskGiB: flavor.disk_gib },
        group: group ? { id: group.id, policy: group.policy as 'affinity', memberIds: members } : undefined,
        zone: o.zone,
        tier: o.tier,
      },
      o.preset ?? 'pack',
    );
  }

  async groupFor(p: Principal, ref: string, db: Db = this.db) {
    const g = await db
      .selectFrom('server_groups')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]))
      .where('tenant_id', '=', p.tenantId)
      .executeTakeFirst();
    if (!g) throw new ControlError('NOT_FOUND', `No server group "${ref}"`);
    return g;
  }
}
