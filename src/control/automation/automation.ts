/**
 * Automation levels per zone and the automation round (audit, apply, scale, power off).
 *
 * Uses: `cp.energy`, `cp.plans`, `cp.scaling`.
 */
import { authorize } from '../authz.ts';
import { parsePolicy, PolicySpecError } from '../../policies/registry.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';

export type AutomationLevel = 'manual' | 'partial' | 'full';

export interface AutomationSettings {
  level: AutomationLevel;
  /** Audit policy: reservation, or a load-aware preset such as lr-mmt:1.2. */
  policy?: string;
  spareHosts?: number;
  /** Seconds a host must have been empty before automation switches it off (600 by default). */
  powerOffGraceS?: number;
  maxMigrationsPerHost?: number;
  maxMigrationsPerCluster?: number;
}

export function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Automation levels per zone and the automation round (audit, apply, scale, power off). */
export class Automation extends Service {
  /**
   * Automation settings of a zone (each zone is a cluster), falling back to the data center's:
   * level manual (plans only on request), partial (audits propose, people approve), full (audits
   * apply); the audit policy; spare hosts; migration concurrency limits.
   */
  async automationSettings(zone?: string): Promise<AutomationSettings> {
    const rows = await this.db
      .selectFrom('settings')
      .selectAll()
      .where('key', 'in', zone ? ['automation', `automation:${zone}`] : ['automation'])
      .execute();
    const parse = (v: string | undefined): Partial<AutomationSettings> =>
      v === undefined ? {} : v.startsWith('{') ? JSON.parse(v) : { level: v as AutomationLevel };
    const global = parse(rows.find((r) => r.key === 'automation')?.value);
    const own = zone ? parse(rows.find((r) => r.key === `automation:${zone}`)?.value) : {};
    return { level: 'manual', ...global, ...own };
  }

  /** Every zone's settings (admins and operators). */
  async listAutomation(p: Principal) {
    authorize(p, 'settings:read');
    const zones = (await this.db.selectFrom('hosts').select('zone').distinct().orderBy('zone').execute()).map(
      (z) => z.zone,
    );
    return {
      automation: (await this.automationSettings()).level,
      global: await this.automationSettings(),
      zones: Object.fromEntries(
        await Promise.all(zones.map(async (z) => [z, await this.automationSettings(z)] as const)),
      ),
    };
  }

  async setAutomation(
    p: Principal,
    level: AutomationLevel,
    o: Partial<Omit<AutomationSettings, 'level'>> & { zone?: string } = {},
  ) {
    authorize(p, 'settings:write');
    if (
      o.policy &&
      o.policy !== 'reservation' &&
      o.policy !== 'optimal' &&
      !/^spread(:0?\.[0-9]+)?$/.test(o.policy)
    ) {
      try {
        const type = parsePolicy(o.policy).type;
        if (type === 'optimal')
          throw new PolicySpecError(
            `Policy "${o.policy}" is the simulator's form; automation takes "optimal"`,
          );
        if (type !== 'migration') throw new PolicySpecError(`Policy "${o.policy}" plans no migrations`);
      } catch (e) {
        throw new ControlError(
          'BAD_REQUEST',
          `${(e as Error).message}; accepted: reservation, optimal, spread[:GAP] or a DETECTOR-SELECTION preset such as lr-mmt:1.2`,
        );
      }
    }
    const key = o.zone ? `automation:${o.zone}` : 'automation';
    const before = await this.automationSettings(o.zone);
    const { zone, ...rest } = o;
    const value: AutomationSettings = { ...before, ...stripUndefined(rest), level };
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('settings').where('key', '=', key).execute();
      await trx
        .insertInto('settings')
        .values({ key, value: JSON.stringify(zone ? { level, ...stripUndefined(rest) } : value) })
        .execute();
      await this.event(trx, {
        actor: p.userName,
        kind: 'automation.changed',
        detail: { zone: zone ?? null, from: before.level, to: level, ...stripUndefined(rest) },
      });
    });
    return { automation: level, zone: zone ?? null, settings: await this.automationSettings(zone) };
  }

  /**
   * Every loop's work at once, as `POST /v1/automation/rounds` asks: integrate energy, scale the
   * groups on CPU, then an audit round. Returns the plans made.
   */
  async automationRound(p: Principal) {
    authorize(p, 'plan:write');
    await this.cp.energy.integrateEnergy();
    await this.cp.scaling.scaleOnCpu(p);
    return this.auditRound(p);
  }

  /**
   * One audit round (the automation controller's tick): plans waiting for hosts go on, then per
   * zone, in partial mode propose a plan (unless one already waits for approval there); in full
   * mode propose and apply it. Returns the plans made.
   */
  async auditRound(p: Principal) {
    const zones = (await this.db.selectFrom('hosts').select('zone').distinct().orderBy('zone').execute()).map(
      (z) => z.zone,
    );
    const out = [];
    // Plans waiting for hosts to switch on go on first (whatever the level: someone approved them).
    for (const w of await this.db
      .selectFrom('plans')
      .select('id')
      .where('status', '=', 'waiting')
      .orderBy('created_at')
      .execute()) {
      const r = await this.cp.plans.applyPlan(p, w.id, { actor: 'automation' }).catch(() => null);
      if (r && r.status !== 'waiting') out.push(r);
    }
    for (const zone of zones) {
      const s = await this.automationSettings(zone);
      if (s.level === 'manual') continue;
      if (
        await this.db
          .selectFrom('plans')
          .select('id')
          .where('status', '=', 'waiting')
          .where('zone', '=', zone)
          .executeTakeFirst()
      )
        continue;
      const waiting = await this.db
        .selectFrom('plans')
        .select('id')
        .where('status', '=', 'proposed')
        .where('zone', '=', zone)
        .executeTakeFirst();
      if (s.level === 'partial' && waiting) continue;
      // Hosts emptied by automation are switched off only after a grace period (10 min unless set).
      const plan = await this.cp.plans.auditPlan(p, {
        zone,
        actor: 'automation',
        keepEmpty: false,
        powerOffGraceS: s.powerOffGraceS ?? 600,
      });
      if (plan.status === 'empty') continue;
      if (s.level !== 'full') {
        out.push(plan);
        continue;
      }
      // A plan that cannot be applied (stale, or its waves would delay a noDelay VM) stays proposed
      // for an operator; the other zones' rounds go on.
      try {
        out.push(await this.cp.plans.applyPlan(p, plan.id!, { actor: 'automation' }));
      } catch (e) {
        await this.event(this.db, {
          actor: 'automation',
          kind: 'automation.apply-refused',
          detail: { zone: zone ?? null, plan: plan.id, reason: (e as Error).message },
        });
        out.push(plan);
      }
    }
    return out;
  }
}
