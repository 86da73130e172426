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
  type Constraint,
  type ConstraintType,
  type HostAttribute,
} from '../../core/constraints/index.ts';
import { authorize, authorizeTenantObject, allows, tenantFilter } from '../authz.ts';
import { notFoundInTenant } from '../security/tenant-lookup.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import type { Db } from '../store/open-store.ts';
import { rowToConstraint } from './constraint-reader.ts';

/** A constraint as the API receives it: VMs and hosts by name or id. */
export interface ConstraintInput {
  name: string;
  type: ConstraintType;
  /** Default true. */
  hard?: boolean;
  vms?: string[];
  hosts?: string[];
  where?: Partial<Record<HostAttribute, string>>;
  max?: number;
  over?: 'rack' | 'zone' | 'datacenter';
  maxPerDomain?: number;
}

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
    authorize(p, 'constraint:write');
    if (!CONSTRAINT_TYPES.includes(o.type))
      throw new ControlError(
        'BAD_REQUEST',
        `Unknown constraint type "${o.type}"; accepted: ${CONSTRAINT_TYPES.join(', ')}`,
      );
    const vms = await this.resolveVms(p, o.vms ?? []);
    const tenants = [...new Set(vms.map((v) => v.tenant_id))];
    if (tenants.length > 1)
      throw new ControlError(
        'BAD_REQUEST',
        `A constraint is about the VMs of one tenant; these belong to ${tenants.length}`,
      );
    const tenantId = tenants[0] ?? p.tenantId;
    const spec: Record<string, unknown> = { vms: vms.map((v) => v.id) };
    if (o.type === 'fence' || o.type === 'ban') {
      if (!o.hosts?.length && !Object.keys(o.where ?? {}).length)
        throw new ControlError(
          'BAD_REQUEST',
          `A ${o.type} needs hosts (names or ids) or where (zone, rack, tier, datacenter)`,
        );
      if (o.hosts?.length) spec.hosts = await this.resolveHosts(p, o.hosts);
      if (o.where && Object.keys(o.where).length) spec.where = o.where;
    } else if (o.hosts || o.where)
      throw new ControlError('BAD_REQUEST', `hosts and where are for fence and ban, not ${o.type}`);
    if (o.type === 'max-per-host') {
      if (o.max === undefined)
        throw new ControlError('BAD_REQUEST', 'max-per-host needs max (a whole number ≥ 1)');
      spec.max = o.max;
    } else if (o.max !== undefined)
      throw new ControlError('BAD_REQUEST', `max is for max-per-host, not ${o.type}`);
    if (o.type === 'spread') {
      if (!o.over) throw new ControlError('BAD_REQUEST', 'spread needs over: rack, zone or datacenter');
      spec.over = o.over;
      if (o.maxPerDomain !== undefined) spec.maxPerDomain = o.maxPerDomain;
    } else if (o.over || o.maxPerDomain !== undefined)
      throw new ControlError('BAD_REQUEST', `over and maxPerDomain are for spread, not ${o.type}`);
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
    const r = await this.row(p, ref, 'constraint:write');
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

  /** The API's view: VMs and hosts by name, and what the current placement breaks (hard ones). */
  private async out(r: Row) {
    const c = rowToConstraint(r);
    const { placement, vmNames } = await this.cp.constraintReader.placementOf(this.db, [...c.vms]);
    const hosts = new Map(
      (await this.cp.hosts.hostRows()).map((h) => [
        h.id,
        { id: h.id, name: h.name, zone: h.zone, rack: h.rack, tier: h.tier, datacenter: h.datacenter },
      ]),
    );
    const spec = JSON.parse(r.spec) as Record<string, unknown> & { vms: string[]; hosts?: string[] };
    return {
      id: r.id,
      name: r.name,
      tenantId: r.tenant_id,
      type: r.type,
      hard: Number(r.hard) === 1,
      ...spec,
      vms: spec.vms.filter((v) => vmNames.has(v)).map((v) => ({ id: v, name: vmNames.get(v)! })),
      ...(spec.hosts ? { hosts: spec.hosts.map((h) => hosts.get(h)?.name ?? h) } : {}),
      label: constraintLabel(c),
      violations: checkAll([{ ...c, hard: true }], { hosts, placement, vmNames }).map((v) => v.message),
      createdAt: r.created_at,
    };
  }
}
