/**
 * The constraints the checkers judge, read from the store: the tenant's stated constraints
 * (`constraints` table), server groups (their policy, cap per host and spread), and the zone and tier
 * each VM asked for (fences over host attributes). Also where their VMs run, for the checkers.
 *
 * Uses: no other service.
 */
import { allPhysnetFences, physnetFences } from '../network/physnet-fences.ts';
import { allStorageFences, storageFences } from '../storage/storage-fences.ts';
import { GLOBAL_CONSTRAINT_TYPES, type Constraint, type SpreadDomain } from '../../core/constraints/index.ts';
import { Service } from '../service.ts';
import type { Db } from '../store/open-store.ts';

/** What the scheduler knows about the VM it places (a new VM has no row yet). */
export interface VmRef {
  id: string;
  name: string;
  serverGroupId?: string | null;
  zone?: string | null;
  tier?: string | null;
  /**
   * A VM being created: no row yet, so no stored constraint, port or volume names it (its own come in
   * `extra`); the reads for them are skipped.
   */
  fresh?: boolean;
}

/** Constraints, where their VMs run (VM id → host ids) and the VMs' names for messages. */
export interface ConstraintContext {
  constraints: Constraint[];
  placement: Map<string, string[]>;
  vmNames: Map<string, string>;
}

/** A stored constraint row as the checkers' data. */
export function rowToConstraint(r: { id: string; name: string; type: string; hard: number; spec: string }) {
  return {
    ...JSON.parse(r.spec),
    id: r.id,
    name: r.name,
    type: r.type,
    hard: Number(r.hard) === 1,
  } as Constraint;
}

/** The constraints of a server group: its policy over its members, and its optional cap and spread. */
export function groupConstraints(
  g: { id: string; name: string; policy: string; max_per_host: number | null; spread_over: string | null },
  vms: string[],
): Constraint[] {
  const hard = !g.policy.startsWith('soft-');
  const out: Constraint[] = [
    {
      id: `group:${g.id}`,
      name: g.name,
      hard,
      type: g.policy.endsWith('anti-affinity') ? 'anti-affinity' : 'affinity',
      vms,
    },
  ];
  // The cap and the spread are hard even in a soft group: they are limits, not preferences.
  if (g.max_per_host != null)
    out.push({
      id: `group:${g.id}:max`,
      name: g.name,
      hard: true,
      type: 'max-per-host',
      max: g.max_per_host,
      vms,
    });
  if (g.spread_over != null)
    out.push({
      id: `group:${g.id}:spread`,
      name: g.name,
      hard: true,
      type: 'spread',
      over: g.spread_over as SpreadDomain,
      vms,
    });
  return out;
}

/** The zone and tier a VM asked for, as fences. */
export function pinConstraints(v: VmRef): Constraint[] {
  const out: Constraint[] = [];
  if (v.zone)
    out.push({
      id: `pin:${v.id}:zone`,
      name: 'zone pin',
      hard: true,
      type: 'fence',
      vms: [v.id],
      where: { zone: v.zone },
    });
  if (v.tier)
    out.push({
      id: `pin:${v.id}:tier`,
      name: 'tier pin',
      hard: true,
      type: 'fence',
      vms: [v.id],
      where: { tier: v.tier },
    });
  return out;
}

/** Reads constraints and the placement of their VMs. */
export class ConstraintReader extends Service {
  /**
   * The constraints about one VM (its stated constraints, its server group's, its pins, and
   * `extra`), with where their VMs run. Deleted VMs and VMs on failed hosts count as not placed.
   */
  async forVm(db: Db, v: VmRef, extra: Constraint[] = []): Promise<ConstraintContext> {
    const rows = v.fresh
      ? []
      : await db
          .selectFrom('constraints')
          .selectAll()
          .where('spec', 'like', `%${JSON.stringify(v.id)}%`)
          .execute();
    const constraints = rows.map(rowToConstraint).filter((c) => c.vms.includes(v.id));
    // Rules about every VM (quarantine, maxOnline, runningCapacity, overbook, lonely, preserve).
    const global = await db
      .selectFrom('constraints')
      .selectAll()
      .where('type', 'in', [...GLOBAL_CONSTRAINT_TYPES])
      .execute();
    for (const c of global.map(rowToConstraint))
      if (!constraints.some((x) => x.id === c.id)) constraints.push(c);
    if (v.serverGroupId) {
      const g = await db
        .selectFrom('server_groups')
        .selectAll()
        .where('id', '=', v.serverGroupId)
        .executeTakeFirst();
      if (g) {
        const members = await db
          .selectFrom('vms')
          .select('id')
          .where('server_group_id', '=', g.id)
          .where('deleted_at', 'is', null)
          .execute();
        const ids = members.map((m) => m.id);
        if (!ids.includes(v.id)) ids.push(v.id);
        constraints.push(...groupConstraints(g, ids));
      }
    }
    constraints.push(...pinConstraints(v), ...extra.filter((c) => c.vms.includes(v.id)));
    const stored = v.fresh
      ? []
      : [...(await physnetFences(db, [v.id])), ...(await storageFences(db, [v.id]))];
    for (const c of stored) if (!constraints.some((x) => x.id === c.id)) constraints.push(c);
    // A rule about every VM judges the whole placement: read where every VM runs.
    const ctx = await this.placementOf(
      db,
      global.length ? undefined : [...new Set(constraints.flatMap((c) => c.vms))],
    );
    ctx.vmNames.set(v.id, v.name);
    return { constraints, ...ctx };
  }

  /** Every constraint of the cluster (all tenants), for plans; only hard ones when `hardOnly`. */
  async all(db: Db, hardOnly = true): Promise<Constraint[]> {
    const out = (await db.selectFrom('constraints').selectAll().execute()).map(rowToConstraint);
    const groups = await db.selectFrom('server_groups').selectAll().where('deleted_at', 'is', null).execute();
    if (groups.length) {
      const members = await db
        .selectFrom('vms')
        .select(['id', 'server_group_id'])
        .where('server_group_id', 'is not', null)
        .where('deleted_at', 'is', null)
        .execute();
      for (const g of groups)
        out.push(
          ...groupConstraints(
            g,
            members.filter((m) => m.server_group_id === g.id).map((m) => m.id),
          ),
        );
    }
    const pinned = await db
      .selectFrom('vms')
      .select(['id', 'name', 'zone', 'tier'])
      .where('deleted_at', 'is', null)
      .where((eb) => eb.or([eb('zone', 'is not', null), eb('tier', 'is not', null)]))
      .execute();
    for (const v of pinned) out.push(...pinConstraints(v));
    out.push(...(await allPhysnetFences(db)), ...(await allStorageFences(db)));
    return hardOnly ? out.filter((c) => c.hard) : out;
  }

  /** Where these VMs (every VM when `vmIds` is undefined) run (live VMs on hosts that have not failed) and their names. */
  async placementOf(db: Db, vmIds?: string[]): Promise<Omit<ConstraintContext, 'constraints'>> {
    const placement = new Map<string, string[]>();
    const vmNames = new Map<string, string>();
    if (vmIds && !vmIds.length) return { placement, vmNames };
    let q = db
      .selectFrom('vms')
      .innerJoin('hosts', 'hosts.id', 'vms.host_id')
      .select(['vms.id', 'vms.name', 'vms.host_id', 'hosts.state'])
      .where('vms.deleted_at', 'is', null);
    if (vmIds) q = q.where('vms.id', 'in', vmIds);
    // In creation order, so that messages list VMs the same way whatever plan the database picks.
    const rows = await q.orderBy('vms.created_at').orderBy('vms.id').execute();
    for (const r of rows) {
      vmNames.set(r.id, r.name);
      if (r.host_id && r.state !== 'failed') placement.set(r.id, [r.host_id]);
    }
    return { placement, vmNames };
  }
}
