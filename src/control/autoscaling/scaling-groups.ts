/**
 * Scaling groups: create, show, reconcile to a size, scale on a metric or on measured CPU.
 *
 * Uses: `cp.catalog`, `cp.vmActions`, `cp.vmCreate`.
 */
import { scalingDecision, type ScalingPolicy } from '../../policies/autoscaling.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
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

  async getScalingGroup(p: Principal, ref: string) {
    const g = await this.db
      .selectFrom('scaling_groups')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]))
      .where('tenant_id', '=', p.tenantId)
      .executeTakeFirst();
    if (!g) throw new ControlError('NOT_FOUND', `No scaling group "${ref}"`);
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
    this.require(p, 'admin', 'member');
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
      .executeTakeFirst();
    const image = await this.db
      .selectFrom('images')
      .select('id')
      .where((eb) => eb.or([eb('id', '=', o.image), eb('name', '=', o.image)]))
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
    const g = await this.getScalingGroup(p, ref);
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
