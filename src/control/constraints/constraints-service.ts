/**
 * Placement constraints a tenant states about its VMs: create, list, show, delete, and joining them
 * when a VM is created. The checkers (src/core/constraints) judge them in the scheduler, the plan
 * checker and every planner.
 *
 * Uses: `cp.constraintReader`, `cp.hosts`.
 */
import {
  checkAll,
  checkerFor,
  constraintLabel,
  CONSTRAINT_TYPES,
  GLOBAL_CONSTRAINT_TYPES,
  type Constraint,
  type ConstraintType,
} from '../../core/constraints/index.ts';
import { authorize, authorizeTenantObject, allows, tenantFilter } from '../authz.ts';
import { notFoundInTenant } from '../security/tenant-lookup.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import type { Db } from '../store/open-store.ts';
import {
  isHostConstraint,
  validateInput,
  validateType,
  type ConstraintInput,
  type HostGroupInput,
} from './constraint-input.ts';
import { rowToConstraint } from './constraint-reader.ts';

export type { ConstraintInput } from './constraint-input.ts';

type Row = {
  id: string;
  tenant_id: string;
  name: string;
  type: string;
  hard: number;
  spec: string;
  created_at: string;
};

/** Placement constraints: create, list, show, delete; joined by new VMs. */
export class ConstraintsService extends Service {
  async createConstraint(p: Principal, o: ConstraintInput) {
    // Rules about hosts are the operators' (host:operate); rules about VMs the tenant's writers'.
    const hostRule = CONSTRAINT_TYPES.includes(o.type) && isHostConstraint(o.type);
    if (hostRule && !allows(p, 'host:operate'))
      throw new ControlError(
        'FORBIDDEN',
        `${o.type} is a rule about hosts: operators and admins set it (host:operate); you are ${p.role}`,
      );
    authorize(p, hostRule ? 'host:operate' : 'constraint:write');
    validateType(o.type);
    // split and splitAmong list their VMs in groups; the constraint is about all of them.
    const groups = o.vmGroups ? await Promise.all(o.vmGroups.map((g) => this.resolveVms(p, g))) : undefined;
    const vms = groups
      ? [...new Map(groups.flat().map((v) => [v.id, v])).values()]
      : [
          ...new Map(
            [
              ...(await this.resolveVms(p, o.vms ?? [])),
              ...(o.serverGroup ? await this.groupMembers(p, o.serverGroup) : []),
            ].map((v) => [v.id, v]),
          ).values(),
        ];
    const tenants = [...new Set(vms.map((v) => v.tenant_id))];
    if (tenants.length > 1)
      throw new ControlError(
        'BAD_REQUEST',
        `A constraint is about the VMs of one tenant; these belong to ${tenants.length}`,
      );
    const tenantId = tenants[0] ?? p.tenantId;
    // Fields after the VMs: another tenant's VM is "not found" whatever else is wrong.
    validateInput(o);
    const spec: Record<string, unknown> = { vms: vms.map((v) => v.id) };
    if (groups) spec.vmGroups = groups.map((g) => g.map((v) => v.id));
    const hostGroup = async (g: HostGroupInput) => ({
      ...(g.hosts?.length ? { hosts: await this.resolveHosts(p, g.hosts) } : {}),
      ...(g.where && Object.keys(g.where).length ? { where: g.where } : {}),
    });
    Object.assign(spec, await hostGroup(o));
    if (o.hostGroups) spec.groups = await Promise.all(o.hostGroups.map(hostGroup));
    for (const k of ['max', 'over', 'maxPerDomain', 'resource', 'amount', 'ratio', 'continuous'] as const)
      if (o[k] !== undefined) spec[k] = o[k];
    const id = this.ctx.ids.uuid();
    const row: Row = {
      id,
      tenant_id: tenantId,
      name: o.name,
      type: o.type,
      hard: o.hard === false ? 0 : 1,
      spec: JSON.stringify(spec),
      created_at: this.now(),
    };
    try {
      checkerFor(rowToConstraint(row));
    } catch (e) {
      throw new ControlError('BAD_REQUEST', (e as Error).message);
    }
    await this.db.transaction().execute(async (trx) => {
      await this.unique(
        () => trx.insertInto('constraints').values(row).execute(),
        `Constraint "${o.name}" already exists`,
      );
      await this.event(trx, {
        tenantId,
        actor: p.userName,
        kind: 'constraint.created',
        detail: { id, name: o.name, type: o.type, hard: row.hard === 1, vms: vms.map((v) => v.name) },
      });
    });
    return this.out(row);
  }

  async listConstraints(p: Principal) {
    authorize(p, 'constraint:read');
    const only = tenantFilter(p, 'constraint:read');
    const q = this.db.selectFrom('constraints').selectAll().orderBy('name');
    const rows = await (only ? q.where('tenant_id', '=', only) : q).execute();
    return Promise.all(rows.map((r) => this.out(r)));
  }

  async getConstraint(p: Principal, ref: string) {
    return this.out(await this.row(p, ref, 'constraint:read'));
  }

  async deleteConstraint(p: Principal, ref: string) {
    // Operators find any rule (to delete host rules); writers their tenant's (another tenant's is not
    // found); then the rule's own write permission.
    if (!allows(p, 'host:operate')) authorize(p, 'constraint:write');
    const r = await this.row(p, ref, allows(p, 'constraint:write') ? 'constraint:write' : 'constraint:read');
    if (isHostConstraint(r.type as ConstraintType)) authorize(p, 'host:operate');
    else {
      authorize(p, 'constraint:write');
      authorizeTenantObject(p, 'constraint:write', r.tenant_id, `No constraint "${ref}"`, {
        kind: 'constraint',
        id: ref,
      });
    }
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('constraints').where('id', '=', r.id).execute();
      await this.event(trx, {
        tenantId: r.tenant_id,
        actor: p.userName,
        kind: 'constraint.deleted',
        detail: { id: r.id, name: r.name, type: r.type },
      });
    });
  }

  /**
   * The constraints a new VM asks to join (names or ids in its tenant), as the scheduler should
   * judge them: with the VM among their VMs. `commit` adds the VM to them (after its row exists).
   */
  async toJoin(db: Db, p: Principal, vmId: string, refs: readonly string[]) {
    const rows: Row[] = [];
    for (const ref of refs) rows.push(await this.row(p, ref, 'constraint:write', db, p.tenantId));
    const extra = rows.map((r) => {
      const c = rowToConstraint(r);
      return { ...c, vms: [...c.vms, vmId] } as Constraint;
    });
    const commit = async (trx: Db) => {
      for (const r of rows) {
        const cur = await trx
          .selectFrom('constraints')
          .select('spec')
          .where('id', '=', r.id)
          .executeTakeFirst();
        if (!cur) continue;
        const spec = JSON.parse(cur.spec) as { vms: string[] };
        if (!spec.vms.includes(vmId)) spec.vms.push(vmId);
        await trx
          .updateTable('constraints')
          .set({ spec: JSON.stringify(spec) })
          .where('id', '=', r.id)
          .execute();
      }
    };
    return { extra, commit };
  }

  /** A constraint by id, or by name in the caller's (or `tenantId`'s) tenant; another tenant's is not found. */
  private async row(
    p: Principal,
    ref: string,
    op: 'constraint:read' | 'constraint:write',
    db: Db = this.db,
    tenantId?: string,
  ) {
    authorize(p, op);
    let q = db
      .selectFrom('constraints')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]));
    if (tenantId) q = q.where('tenant_id', '=', tenantId);
    const rows = await q.execute();
    const r = rows.find((x) => x.id === ref) ?? rows.find((x) => x.tenant_id === p.tenantId) ?? rows[0];
    const notFound = `No constraint "${ref}"`;
    if (!r) throw await notFoundInTenant(db, p, op, 'constraint', ref, notFound);
    authorizeTenantObject(p, op, r.tenant_id, notFound, { kind: 'constraint', id: ref });
    return r;
  }

  private async resolveVms(p: Principal, refs: string[]) {
    const out: { id: string; name: string; tenant_id: string }[] = [];
    const mineOnly = tenantFilter(p, 'constraint:write');
    for (const ref of refs) {
      let q = this.db
        .selectFrom('vms')
        .select(['id', 'name', 'tenant_id'])
        .where('deleted_at', 'is', null)
        .where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]));
      if (mineOnly) q = q.where('tenant_id', '=', mineOnly);
      const rows = await q.execute();
      const v = rows.find((x) => x.id === ref) ?? rows.find((x) => x.tenant_id === p.tenantId) ?? rows[0];
      // Another tenant's VM is "not found", never "forbidden".
      if (!v) throw await notFoundInTenant(this.db, p, 'constraint:write', 'vm', ref, `No VM "${ref}"`);
      if (!out.some((x) => x.id === v.id)) out.push(v);
    }
    return out;
  }

  /** The live members of a server group (by id, or by name in the caller's tenant); another tenant's is not found. */
  private async groupMembers(p: Principal, ref: string) {
    const mine = tenantFilter(p, 'constraint:write');
    let q = this.db
      .selectFrom('server_groups')
      .select(['id', 'tenant_id'])
      .where('deleted_at', 'is', null)
      .where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]));
    if (mine) q = q.where('tenant_id', '=', mine);
    const rows = await q.execute();
    const g = rows.find((x) => x.id === ref) ?? rows.find((x) => x.tenant_id === p.tenantId) ?? rows[0];
    if (!g)
      throw await notFoundInTenant(
        this.db,
        p,
        'constraint:write',
        'server group',
        ref,
        `No server group "${ref}"`,
      );
    return this.db
      .selectFrom('vms')
      .select(['id', 'name', 'tenant_id'])
      .where('server_group_id', '=', g.id)
      .where('deleted_at', 'is', null)
      .execute();
  }

  private async resolveHosts(p: Principal, refs: string[]) {
    if (!allows(p, 'host:read'))
      throw new ControlError(
        'FORBIDDEN',
        `Naming hosts needs host:read (${p.role} cannot see hosts); select them with where: zone, rack, tier or datacenter`,
      );
    const rows = await this.cp.hosts.hostRows();
    return refs.map((ref) => {
      const h = rows.find((x) => x.id === ref) ?? rows.find((x) => x.name === ref);
      if (!h) throw new ControlError('NOT_FOUND', `No host "${ref}"`);
      return h.id;
    });
  }

  /** Physical capacities, the hosts' counters, power, and the demand of `vmIds` (preserve, overbook, maxOnline). */
  private async resourcesOf(
    rows: Awaited<ReturnType<ConstraintsService['cp']['hosts']['hostRows']>>,
    vmIds: readonly string[],
  ) {
    const flavors = vmIds.length
      ? await this.db
          .selectFrom('vms')
          .innerJoin('flavors', 'flavors.id', 'vms.flavor_id')
          .select(['vms.id', 'flavors.vcpus', 'flavors.memory_mib', 'flavors.disk_gib'])
          .where('vms.id', 'in', [...vmIds])
          .execute()
      : [];
    return {
      capacity: new Map(
        rows.map((h) => [h.id, { vcpus: h.vcpus, memoryMiB: h.memory_mib, diskGiB: h.disk_gib }]),
      ),
      used: new Map(
        rows.map((h) => [
          h.id,
          {
            vcpus: Number(h.used_vcpus),
            memoryMiB: Number(h.used_memory_mib),
            diskGiB: Number(h.used_disk_gib),
          },
        ]),
      ),
      online: new Set(rows.filter((h) => h.state === 'up').map((h) => h.id)),
      demand: new Map(
        flavors.map((f) => [f.id, { vcpus: f.vcpus, memoryMiB: f.memory_mib, diskGiB: f.disk_gib }]),
      ),
    };
  }

  /** The API's view: VMs and hosts by name, and what the current placement breaks (hard ones). */
  private async out(r: Row) {
    const c = rowToConstraint(r);
    // A rule about every VM is judged against every VM's host.
    const everyVm = GLOBAL_CONSTRAINT_TYPES.includes(c.type);
    const { placement, vmNames } = await this.cp.constraintReader.placementOf(
      this.db,
      everyVm ? undefined : [...c.vms],
    );
    // A rule about every VM judges other tenants' VMs too: never name them.
    if (everyVm) {
      const mine = await this.db
        .selectFrom('vms')
        .select('id')
        .where('tenant_id', '=', r.tenant_id)
        .execute();
      const own = new Set(mine.map((x) => x.id));
      for (const v of placement.keys()) if (!own.has(v)) vmNames.set(v, "another tenant's VM");
    }
    const rows = await this.cp.hosts.hostRows();
    const hosts = new Map(
      rows.map((h) => [
        h.id,
        { id: h.id, name: h.name, zone: h.zone, rack: h.rack, tier: h.tier, datacenter: h.datacenter },
      ]),
    );
    const { groups, ...spec } = JSON.parse(r.spec) as Record<string, unknown> & {
      vms: string[];
      hosts?: string[];
      vmGroups?: string[][];
      groups?: { hosts?: string[] }[];
    };
    const hostNames = (l: string[]) => l.map((h) => hosts.get(h)?.name ?? h);
    return {
      id: r.id,
      name: r.name,
      tenantId: r.tenant_id,
      type: r.type,
      hard: Number(r.hard) === 1,
      ...spec,
      vms: spec.vms.filter((v) => vmNames.has(v)).map((v) => ({ id: v, name: vmNames.get(v)! })),
      ...(spec.hosts ? { hosts: hostNames(spec.hosts) } : {}),
      ...(spec.vmGroups ? { vmGroups: spec.vmGroups.map((g) => g.map((v) => vmNames.get(v) ?? v)) } : {}),
      ...(groups
        ? {
            hostGroups: groups.map((g) => ({ ...g, ...(g.hosts ? { hosts: hostNames(g.hosts) } : {}) })),
          }
        : {}),
      label: constraintLabel(c),
      violations: checkAll([{ ...c, hard: true }], {
        hosts,
        placement,
        vmNames,
        ...(everyVm ? await this.resourcesOf(rows, c.vms) : {}),
      }).map((v) => v.message),
      createdAt: r.created_at,
    };
  }
}
