/**
 * Security groups and their rules. Every tenant has a `default` group, created the first time it is
 * needed, with Neutron's default rules: ingress from members of the same group, all egress. A port
 * with no group gets `default`. A group still used by a port, or named as the remote group of
 * another group's rule, cannot be deleted.
 *
 * Uses: `cp.networkPush` (re-push the hosts of the tenant's ports after a change).
 */
import { authorize, authorizeTenantObject, reachesAllTenants, tenantFilter } from '../authz.ts';
import { checkRule } from './rule-checks.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import type { Db } from '../store/open-store.ts';
import { Service } from '../service.ts';
import { checkNetworkQuota } from './network-quotas.ts';

/** A rule as the API takes it (see ./rule-checks.ts: no remote matches every address). */
export interface RuleInput {
  direction: 'ingress' | 'egress';
  /** A name (`any`: every protocol) or Neutron's IP protocol number. */
  protocol: string | number | null;
  /** `IPv4` (default) or `IPv6` (recorded; hosts enforce IPv4 rules only). */
  ethertype?: string;
  portMin?: number | null;
  portMax?: number | null;
  remoteCidr?: string | null;
  /** A group of the same tenant (name or id). */
  remoteGroup?: string | null;
  description?: string;
}

/** The name of the group every tenant has. */
export const DEFAULT_GROUP = 'default';

export class SecurityGroups extends Service {
  /** The tenant's `default` group (created with its rules if missing); its id. */
  async ensureDefault(trx: Db, tenantId: string): Promise<string> {
    const g = await trx
      .selectFrom('security_groups')
      .select('id')
      .where('tenant_id', '=', tenantId)
      .where('name', '=', DEFAULT_GROUP)
      .executeTakeFirst();
    if (g) return g.id;
    const id = this.ctx.ids.uuid(),
      at = this.now();
    // Two first ports of a tenant at once: the second waits on the unique index, then inserts nothing.
    const r = await trx
      .insertInto('security_groups')
      .values({ id, tenant_id: tenantId, name: DEFAULT_GROUP, description: 'Default group', created_at: at })
      .onConflict((oc) => oc.columns(['tenant_id', 'name']).doNothing())
      .executeTakeFirst();
    if (!Number(r.numInsertedOrUpdatedRows ?? 0)) {
      const other = await trx
        .selectFrom('security_groups')
        .select('id')
        .where('tenant_id', '=', tenantId)
        .where('name', '=', DEFAULT_GROUP)
        .executeTakeFirstOrThrow();
      return other.id;
    }
    const base = { group_id: id, tenant_id: tenantId, port_min: null, port_max: null, created_at: at };
    await trx
      .insertInto('security_group_rules')
      .values([
        {
          ...base,
          id: this.ctx.ids.uuid(),
          direction: 'ingress',
          protocol: 'any',
          remote_cidr: null,
          remote_group_id: id,
        },
        {
          ...base,
          id: this.ctx.ids.uuid(),
          direction: 'egress',
          protocol: 'any',
          remote_cidr: '0.0.0.0/0',
          remote_group_id: null,
        },
      ])
      .execute();
    return id;
  }

  /** Create a group with Neutron's rule for a new group: all egress (ingress only by the rules added). */
  async createGroup(p: Principal, o: { name: string; description?: string; tenantId?: string }) {
    authorize(p, 'security-group:write');
    const tenantId = this.cp.networks.ownerFor(p, o.tenantId);
    const id = this.ctx.ids.uuid();
    await this.db.transaction().execute(async (trx) => {
      await this.ensureDefault(trx, tenantId);
      await checkNetworkQuota(trx, tenantId, 'securityGroups');
      await this.unique(
        () =>
          trx
            .insertInto('security_groups')
            .values({
              id,
              tenant_id: tenantId,
              name: o.name,
              description: o.description ?? '',
              created_at: this.now(),
            })
            .execute(),
        `A security group named "${o.name}" already exists`,
      );
      await trx
        .insertInto('security_group_rules')
        .values({
          id: this.ctx.ids.uuid(),
          group_id: id,
          tenant_id: tenantId,
          direction: 'egress',
          protocol: 'any',
          port_min: null,
          port_max: null,
          remote_cidr: '0.0.0.0/0',
          remote_group_id: null,
          created_at: this.now(),
        })
        .execute();
      await this.event(trx, {
        tenantId: tenantId,
        actor: p.userName,
        kind: 'security-group.created',
        detail: { id, name: o.name },
      });
    });
    return this.getGroup(p, id);
  }

  /** The tenant's groups (the default one once a port or group made it) with their rules. A read: it writes nothing. */
  async listGroups(p: Principal) {
    authorize(p, 'security-group:read');
    const t = tenantFilter(p, 'security-group:read');
    let q = this.db.selectFrom('security_groups').selectAll().orderBy('name').orderBy('id');
    if (t) q = q.where('tenant_id', '=', t);
    const groups = await q.execute();
    const rules = await this.rulesOf(groups.map((g) => g.id));
    return groups.map((g) => this.view(g, rules));
  }

  /** A group (by id, or by name in the caller's tenant) and its rules. */
  async getGroup(
    p: Principal,
    ref: string,
    op: 'security-group:read' | 'security-group:write' = 'security-group:read',
  ) {
    const g = await this.find(this.db, p, ref, op);
    return this.view(g, await this.rulesOf([g.id]));
  }

  /** Delete a group no port uses and no other group's rule names. */
  async deleteGroup(p: Principal, ref: string) {
    const g = await this.find(this.db, p, ref, 'security-group:write');
    // Admins may (Neutron lets them: Tempest removes a test project's default group that way).
    if (g.name === DEFAULT_GROUP && !reachesAllTenants(p, 'security-group:write'))
      throw new ControlError('INVALID_STATE', 'The default security group cannot be deleted');
    await this.db.transaction().execute(async (trx) => {
      const ports = await trx
        .selectFrom('ports')
        .select(['id', 'security_groups'])
        .where('tenant_id', '=', g.tenant_id)
        .execute();
      const using = ports.filter((x) => (JSON.parse(x.security_groups) as string[]).includes(g.id));
      if (using.length)
        throw new ControlError(
          'INVALID_STATE',
          `Security group "${g.name}" is used by ${using.length} port(s); change their groups first`,
          { ports: using.map((x) => x.id) },
        );
      const refs = await trx
        .selectFrom('security_group_rules')
        .select('group_id')
        .where('remote_group_id', '=', g.id)
        .where('group_id', '!=', g.id)
        .execute();
      if (refs.length)
        throw new ControlError(
          'INVALID_STATE',
          `Security group "${g.name}" is the remote group of rules of other groups; delete those rules first`,
          { groups: [...new Set(refs.map((r) => r.group_id))] },
        );
      await trx.deleteFrom('security_group_rules').where('group_id', '=', g.id).execute();
      await trx.deleteFrom('security_groups').where('id', '=', g.id).execute();
      await this.event(trx, {
        tenantId: g.tenant_id,
        actor: p.userName,
        kind: 'security-group.deleted',
        detail: { id: g.id, name: g.name },
      });
    });
  }

  /** Add a rule to a group; the hosts of the tenant's ports get their new rules. */
  async addRule(p: Principal, ref: string, r: RuleInput) {
    // nubis's own API: a single port is `portMin` alone.
    const { groupId } = await this.createRule(p, ref, { ...r, portMax: r.portMax ?? r.portMin });
    return this.getGroup(p, groupId);
  }

  /** Add a rule to a group (refused if the group has the same rule); the rule's id and group's. */
  async createRule(p: Principal, ref: string, r: RuleInput): Promise<{ id: string; groupId: string }> {
    const g = await this.find(this.db, p, ref, 'security-group:write');
    const c = checkRule(r);
    if (typeof c === 'string') throw new ControlError('BAD_REQUEST', c);
    const id = this.ctx.ids.uuid();
    await this.db.transaction().execute(async (trx) => {
      const remote =
        c.remoteGroup !== null
          ? await this.find(trx, { ...p, tenantId: g.tenant_id }, c.remoteGroup, 'security-group:write', true)
          : undefined;
      const values = {
        direction: c.direction,
        ethertype: c.ethertype,
        protocol: c.protocol,
        port_min: c.portMin,
        port_max: c.portMax,
        remote_cidr: c.remoteCidr,
        remote_group_id: remote?.id ?? null,
      };
      const same = (
        await trx.selectFrom('security_group_rules').selectAll().where('group_id', '=', g.id).execute()
      ).find((x) => (Object.keys(values) as (keyof typeof values)[]).every((k) => x[k] === values[k]));
      if (same)
        throw new ControlError(
          'ALREADY_EXISTS',
          `Security group rule already exists. Rule id is ${same.id}.`,
        );
      await trx
        .insertInto('security_group_rules')
        .values({
          id,
          group_id: g.id,
          tenant_id: g.tenant_id,
          ...values,
          description: r.description ?? '',
          created_at: this.now(),
        })
        .execute();
      await trx
        .updateTable('security_groups')
        .set({ revision_number: g.revision_number + 1, updated_at: this.now() })
        .where('id', '=', g.id)
        .execute();
      await this.event(trx, {
        tenantId: g.tenant_id,
        actor: p.userName,
        kind: 'security-group.rule-added',
        detail: { group: g.name, rule: id },
      });
    });
    await this.cp.networkPush.pushTenant(g.tenant_id);
    return { id, groupId: g.id };
  }

  /** Rename a group or change its description (no group may be named, or renamed from, `default`). */
  async updateGroup(p: Principal, ref: string, o: { name?: string; description?: string }) {
    const g = await this.find(this.db, p, ref, 'security-group:write');
    if (o.name !== undefined && o.name !== g.name && (o.name === DEFAULT_GROUP || g.name === DEFAULT_GROUP))
      throw new ControlError('INVALID_STATE', 'Updating default security group name not allowed.');
    await this.unique(
      () =>
        this.db
          .updateTable('security_groups')
          .set({
            ...(o.name !== undefined && { name: o.name }),
            ...(o.description !== undefined && { description: o.description }),
            revision_number: g.revision_number + 1,
            updated_at: this.now(),
          })
          .where('id', '=', g.id)
          .execute(),
      `A security group named "${o.name}" already exists`,
    );
    return this.getGroup(p, g.id);
  }

  /** The caller's tenant's `default` group, made if missing (Neutron makes it on a project's first use). */
  async ensureDefaultFor(p: Principal): Promise<string> {
    authorize(p, 'security-group:read');
    return this.db.transaction().execute((trx) => this.ensureDefault(trx, p.tenantId));
  }

  /** The rows of the groups the caller sees (admins: all) and of their rules. */
  async visibleRows(p: Principal) {
    authorize(p, 'security-group:read');
    const t = tenantFilter(p, 'security-group:read');
    let q = this.db.selectFrom('security_groups').selectAll().orderBy('created_at').orderBy('id');
    if (t) q = q.where('tenant_id', '=', t);
    const groups = await q.execute();
    let r = this.db.selectFrom('security_group_rules').selectAll().orderBy('created_at').orderBy('id');
    if (t) r = r.where('tenant_id', '=', t);
    return { groups, rules: await r.execute() };
  }

  /** A rule's row by id (another tenant's: NOT_FOUND). */
  async findRule(
    p: Principal,
    id: string,
    op: 'security-group:read' | 'security-group:write' = 'security-group:read',
  ) {
    authorize(p, op);
    const r = await this.db
      .selectFrom('security_group_rules')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    const msg = `Security group rule ${id} does not exist`;
    if (!r) throw new ControlError('NOT_FOUND', msg);
    authorizeTenantObject(p, op, r.tenant_id, msg, { kind: 'security group rule', id });
    return r;
  }

  /** Delete a rule (by id) of a group. */
  async deleteRule(p: Principal, ref: string, ruleId: string) {
    const g = await this.find(this.db, p, ref, 'security-group:write');
    const n = await this.db
      .deleteFrom('security_group_rules')
      .where('id', '=', ruleId)
      .where('group_id', '=', g.id)
      .executeTakeFirst();
    if (!Number(n.numDeletedRows))
      throw new ControlError('NOT_FOUND', `No rule "${ruleId}" in security group "${g.name}"`);
    await this.event(this.db, {
      tenantId: g.tenant_id,
      actor: p.userName,
      kind: 'security-group.rule-deleted',
      detail: { group: g.name, rule: ruleId },
    });
    await this.cp.networkPush.pushTenant(g.tenant_id);
  }

  /** Delete a rule by its id alone. */
  async deleteRuleById(p: Principal, id: string) {
    const r = await this.findRule(p, id, 'security-group:write');
    await this.deleteRule(p, r.group_id, r.id);
  }

  /** Group ids for refs (names or ids) of the tenant's groups; `default` when none given. */
  async resolve(trx: Db, p: Principal, tenantId: string, refs: string[] | undefined): Promise<string[]> {
    if (!refs || refs.length === 0) return [await this.ensureDefault(trx, tenantId)];
    await this.ensureDefault(trx, tenantId);
    const ids: string[] = [];
    for (const ref of refs) {
      const g = await this.find(trx, { ...p, tenantId }, ref, 'security-group:read', true);
      if (!ids.includes(g.id)) ids.push(g.id);
    }
    return ids;
  }

  /** A group by id or by name in the tenant; another tenant's is NOT_FOUND (`sameTenant`: even for admins). */
  private async find(
    db: Db,
    p: Principal,
    ref: string,
    op: 'security-group:read' | 'security-group:write',
    sameTenant = false,
  ) {
    authorize(p, op);
    const rows = await db
      .selectFrom('security_groups')
      .selectAll()
      .where((eb) =>
        eb.or([eb('id', '=', ref), eb.and([eb('name', '=', ref), eb('tenant_id', '=', p.tenantId)])]),
      )
      .execute();
    const g = rows.find((r) => r.id === ref) ?? rows[0];
    const msg = `No security group "${ref}"; see GET /v1/security-groups`;
    if (!g) throw new ControlError('NOT_FOUND', msg);
    authorizeTenantObject(p, op, g.tenant_id, msg, { kind: 'security group', id: g.id });
    if (sameTenant && g.tenant_id !== p.tenantId) throw new ControlError('NOT_FOUND', msg);
    return g;
  }

  private async rulesOf(groupIds: string[]) {
    if (!groupIds.length) return [];
    return this.db
      .selectFrom('security_group_rules')
      .selectAll()
      .where('group_id', 'in', groupIds)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
  }

  private view(
    g: { id: string; tenant_id: string; name: string; description: string; created_at: string },
    rules: {
      id: string;
      group_id: string;
      direction: string;
      protocol: string;
      port_min: number | null;
      port_max: number | null;
      remote_cidr: string | null;
      remote_group_id: string | null;
    }[],
  ) {
    return {
      id: g.id,
      tenantId: g.tenant_id,
      name: g.name,
      description: g.description,
      createdAt: g.created_at,
      rules: rules
        .filter((r) => r.group_id === g.id)
        .map((r) => ({
          id: r.id,
          direction: r.direction,
          protocol: r.protocol,
          portMin: r.port_min,
          portMax: r.port_max,
          remoteCidr: r.remote_cidr,
          remoteGroupId: r.remote_group_id,
        })),
    };
  }
}
