/**
 * Scaling groups: create, show, reconcile to a size, scale on a metric or on measured CPU.
 *
 * Uses: `cp.catalog`, `cp.vmActions`, `cp.vmCreate`.
 */
import { scalingDecision, type ScalingPolicy } from '../../policies/autoscaling.ts';
import { authorize, tenantFilter, type Operation } from '../authz.ts';
import { notFoundInTenant } from '../security/tenant-lookup.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { deletedName } from '../inventory/host-edits.ts';
import { Service } from '../service.ts';

/** Scaling groups: create, show, reconcile to a size, scale on a metric or on measured CPU. */
export class ScalingGroups extends Service {
  private groupOut(
    g: {
      id: string;
      tenant_id: string;
      name: string;
      min: number;
      max: number;
      desired: number;
      policy: string;
      scale_in: string;
      last_scaled_at: string | null;
      server_group_id: string;
    },
    members: string[],
  ) {
    return {
      id: g.id,
      tenantId: g.tenant_id,
      name: g.name,
      min: g.min,
      max: g.max,
      desired: g.desired,
      policy: JSON.parse(g.policy) as ScalingPolicy,
      scaleIn: g.scale_in,
      lastScaledAt: g.last_scaled_at,
      serverGroupId: g.server_group_id,
      members,
    };
  }

  /** A scaling group the caller may perform `op` on (by id, or by name within the caller's tenant). */
  async getScalingGroup(p: Principal, ref: string, op: Operation = 'scaling-group:read') {
    authorize(p, op);
    const own = tenantFilter(p, op);
    const rows = await this.db
      .selectFrom('scaling_groups')
      .selectAll()
      .where((eb) =>
        eb.or([eb('id', '=', ref), eb.and([eb('name', '=', ref), eb('tenant_id', '=', own ?? p.tenantId)])]),
      )
      .execute();
    const g = rows.find((r) => !own || r.tenant_id === own);
    if (!g) throw await notFoundInTenant(this.db, p, op, 'scaling group', ref, `No scaling group "${ref}"`);
    const members = await this.db
      .selectFrom('vms')
      .select('id')
      .where('scaling_group_id', '=', g.id)
      .where('deleted_at', 'is', null)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return this.groupOut(
      g,
      members.map((m) => m.id),
    );
  }

  /**
   * An autoscaling group: min/max/desired members of one flavor and image, kept apart by a
   * soft-anti-affinity server group, scaled by a policy on a metric.
   */
  async createScalingGroup(
    p: Principal,
    o: {
      name: string;
      flavor: string;
      image: string;
      min: number;
      max: number;
      desired?: number;
      policy: ScalingPolicy;
      scaleIn?: 'newest' | 'least-loaded';
    },
  ) {
    authorize(p, 'scaling-group:write');
    if (!(o.min >= 0 && o.min <= o.max))
      throw new ControlError('BAD_REQUEST', `min (${o.min}) must be between 0 and max (${o.max})`);
    if (!(o.policy.scaleInBelow < o.policy.scaleOutAbove))
      throw new ControlError(
        'BAD_REQUEST',
        `policy.scaleInBelow (${o.policy.scaleInBelow}) must be below policy.scaleOutAbove (${o.policy.scaleOutAbove})`,
      );
    const desired = Math.max(o.min, Math.min(o.max, o.desired ?? o.min));
    const sg = await this.cp.catalog.createServerGroup(p, `asg-${o.name}`, 'soft-anti-affinity');
    const flavor = await this.db
      .selectFrom('flavors')
      .select('id')
      .where((eb) => eb.or([eb('id', '=', o.flavor), eb('name', '=', o.flavor)]))
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    const image = await this.db
      .selectFrom('images')
      .select('id')
      .where((eb) => eb.or([eb('id', '=', o.image), eb('name', '=', o.image)]))
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (!flavor) throw new ControlError('NOT_FOUND', `No flavor "${o.flavor}"`);
    if (!image) throw new ControlError('NOT_FOUND', `No image "${o.image}"`);
    const id = this.ctx.ids.uuid();
    await this.unique(
      () =>
        this.db
          .insertInto('scaling_groups')
          .values({
            id,
            tenant_id: p.tenantId,
            name: o.name,
            flavor_id: flavor.id,
            image_id: image.id,
            server_group_id: sg.id,
            min: o.min,
            max: o.max,
            desired,
            policy: JSON.stringify(o.policy),
            scale_in: o.scaleIn ?? 'newest',
            last_scaled_at: null,
            created_at: this.now(),
          })
          .execute(),
      `Scaling group "${o.name}" already exists`,
    );
    await this.reconcileGroup(p, id);
    return this.getScalingGroup(p, id);
  }

  /** Create or remove members until the group has `desired` of them. */
  private async reconcileGroup(p: Principal, id: string, loads: Record<string, number> = {}) {
    const g = await this.db
      .selectFrom('scaling_groups')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    const members = await this.db
      .selectFrom('vms')
      .select(['id', 'created_at'])
      .where('scaling_group_id', '=', id)
      .where('deleted_at', 'is', null)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    for (let n = members.length; n < g.desired; n++) {
      const op = await this.cp.vmCreate.createVm(p, {
        name: `${g.name}-${this.ctx.ids.uuid().slice(0, 6)}`,
        flavor: g.flavor_id,
        image: g.image_id,
        serverGroup: g.server_group_id,
      });
      if (op.vmId)
        await this.db.updateTable('vms').set({ scaling_group_id: id }).where('id', '=', op.vmId).execute();
    }
    if (members.length > g.desired) {
      // Scale in: the newest members, or the least loaded ones (by the loads reported with the metric).
      const order =
        g.scale_in === 'least-loaded'
          ? members.slice().sort((a, b) => (loads[a.id] ?? Infinity) - (loads[b.id] ?? Infinity))
          : members.slice().reverse();
      for (const m of order.slice(0, members.length - g.desired))
        await this.cp.vmActions.vmAction(p, m.id, 'delete');
    }
  }

  /** Report the group's metric (and optionally per-member loads); scale by the policy. */
  async reportGroupMetric(p: Principal, ref: string, value: number, loads: Record<string, number> = {}) {
    const g = await this.getScalingGroup(p, ref, 'scaling-group:write');
    const since = g.lastScaledAt ? this.ctx.clock.now() - Date.parse(g.lastScaledAt) / 1000 : Infinity;
    const d = scalingDecision(
      { min: g.min, max: g.max, desired: g.desired, secondsSinceLastScale: since },
      g.policy,
      value,
    );
    if (d.desired !== g.desired) {
      await this.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('scaling_groups')
          .set({ desired: d.desired, last_scaled_at: this.now() })
          .where('id', '=', g.id)
          .execute();
        await this.event(trx, {
          tenantId: g.tenantId,
          actor: p.userName,
          kind: 'group.scaled',
          detail: { group: g.name, from: g.desired, to: d.desired, why: d.reason },
        });
      });
      await this.reconcileGroup(p, g.id, loads);
    }
    return { ...(await this.getScalingGroup(p, g.id)), decision: d.reason };
  }

  /** Scaling groups the caller sees (their tenant's; every tenant's for admins and operators). */
  async listScalingGroups(p: Principal) {
    authorize(p, 'scaling-group:read');
    const own = tenantFilter(p, 'scaling-group:read');
    let q = this.db.selectFrom('scaling_groups').select('id');
    if (own) q = q.where('tenant_id', '=', own);
    const rows = await q.orderBy('name').execute();
    return Promise.all(rows.map((r) => this.getScalingGroup(p, r.id)));
  }

  /** Change a group's bounds, desired size, policy or scale-in order; it is reconciled to the new size. */
  async updateScalingGroup(
    p: Principal,
    ref: string,
    c: {
      min?: number;
      max?: number;
      desired?: number;
      policy?: ScalingPolicy;
      scaleIn?: 'newest' | 'least-loaded';
    },
  ) {
    const g = await this.getScalingGroup(p, ref, 'scaling-group:write');
    const min = c.min ?? g.min,
      max = c.max ?? g.max,
      policy = c.policy ?? g.policy;
    if (!(min >= 0 && min <= max))
      throw new ControlError('BAD_REQUEST', `min (${min}) must be between 0 and max (${max})`);
    if (!(policy.scaleInBelow < policy.scaleOutAbove))
      throw new ControlError(
        'BAD_REQUEST',
        `policy.scaleInBelow (${policy.scaleInBelow}) must be below policy.scaleOutAbove (${policy.scaleOutAbove})`,
      );
    const desired = Math.max(min, Math.min(max, c.desired ?? g.desired));
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('scaling_groups')
        .set({ min, max, desired, policy: JSON.stringify(policy), scale_in: c.scaleIn ?? g.scaleIn })
        .where('id', '=', g.id)
        .execute();
      await this.event(trx, {
        tenantId: g.tenantId,
        actor: p.userName,
        kind: 'group.updated',
        detail: { group: g.name, ...c },
      });
    });
    // Members are the owner tenant's, whoever changes the group (an admin may edit another tenant's).
    await this.reconcileGroup({ ...p, tenantId: g.tenantId }, g.id);
    return this.getScalingGroup(p, g.id);
  }

  /** Delete a group: its members through the normal VM delete, then the group and its server group. */
  async deleteScalingGroup(p: Principal, ref: string) {
    const g = await this.getScalingGroup(p, ref, 'scaling-group:write');
    const failed: string[] = [];
    for (const id of g.members)
      try {
        await this.cp.vmActions.vmAction(p, id, 'delete');
      } catch (e) {
        failed.push(`${id}: ${(e as Error).message}`);
      }
    if (failed.length)
      throw new ControlError(
        'INVALID_STATE',
        `Scaling group "${g.name}": could not delete ${failed.join('; ')}`,
        {
          group: g.name,
        },
      );
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('vms')
        .set({ scaling_group_id: null })
        .where('scaling_group_id', '=', g.id)
        .execute();
      await trx.deleteFrom('scaling_groups').where('id', '=', g.id).execute();
      await trx
        .updateTable('server_groups')
        .set({ deleted_at: this.now(), name: deletedName(`asg-${g.name}`, g.serverGroupId) })
        .where('id', '=', g.serverGroupId)
        .execute();
      await this.event(trx, {
        tenantId: g.tenantId,
        actor: p.userName,
        kind: 'group.deleted',
        detail: { group: g.name },
      });
    });
    return { deleted: g.name, members: g.members };
  }

  /** Autoscaling groups on `metric: cpu`: scale on the members' mean measured CPU utilization (percent). */
  async scaleOnCpu(p: Principal) {
    const groups = await this.db.selectFrom('scaling_groups').selectAll().orderBy('name').execute();
    for (const g of groups) {
      if ((JSON.parse(g.policy) as ScalingPolicy).metric !== 'cpu') continue;
      const members = await this.db
        .selectFrom('vms')
        .select(['id', 'cpu_history'])
        .where('scaling_group_id', '=', g.id)
        .where('deleted_at', 'is', null)
        .where('state', '=', 'running')
        .execute();
      const loads = members
        .map((m) => [m.id, (JSON.parse(m.cpu_history) as number[])[0]] as const)
        .filter((x): x is readonly [string, number] => x[1] !== undefined);
      if (!loads.length) continue;
      const mean = (loads.reduce((a, x) => a + x[1], 0) / loads.length) * 100;
      await this.reportGroupMetric(
        { ...p, tenantId: g.tenant_id, role: 'admin', userName: 'autoscaling' },
        g.id,
        mean,
        Object.fromEntries(loads),
      );
    }
  }
}
