/**
 * Tariffs and invoices.
 *
 * Uses: `cp.usageReports`.
 */
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import { vmPowerW } from '../telemetry/energy.ts';

/** Tariffs and invoices. */
export class Invoices extends Service {
  async createTariff(
    p: Principal,
    t: {
      name: string;
      validFrom: string;
      validTo?: string;
      currency?: string;
      vcpuHour: number;
      memoryGiBHour: number;
      diskGiBHour: number;
      kWh: number;
    },
  ) {
    this.require(p, 'admin');
    if (t.validTo && !(Date.parse(t.validFrom) < Date.parse(t.validTo)))
      throw new ControlError(
        'BAD_REQUEST',
        `validFrom (${t.validFrom}) must be before validTo (${t.validTo})`,
      );
    const id = this.ctx.ids.uuid();
    await this.db
      .insertInto('tariffs')
      .values({
        id,
        name: t.name,
        valid_from: new Date(t.validFrom).toISOString(),
        valid_to: t.validTo ? new Date(t.validTo).toISOString() : null,
        currency: t.currency ?? 'EUR',
        vcpu_hour: t.vcpuHour,
        memory_gib_hour: t.memoryGiBHour,
        disk_gib_hour: t.diskGiBHour,
        kwh: t.kWh,
        created_at: this.now(),
      })
      .execute();
    return { id, ...t };
  }

  async listTariffs() {
    return (await this.db.selectFrom('tariffs').selectAll().orderBy('valid_from').execute()).map((t) => ({
      id: t.id,
      name: t.name,
      validFrom: t.valid_from,
      validTo: t.valid_to,
      currency: t.currency,
      vcpuHour: t.vcpu_hour,
      memoryGiBHour: t.memory_gib_hour,
      diskGiBHour: t.disk_gib_hour,
      kWh: t.kwh,
    }));
  }

  /**
   * A tenant's invoice for [from, to): usage split at tariff boundaries, one line per flavor and
   * tariff; a stopped VM pays for its disk only. Amounts are rounded to cents per line.
   */
  async invoice(p: Principal, o: { tenant?: string; from: string; to: string }) {
    const u = await this.cp.usageReports.usage(p, o);
    const tariffs = await this.db.selectFrom('tariffs').selectAll().orderBy('valid_from').execute();
    const lines = new Map<
      string,
      {
        flavor: string;
        tariff: string;
        currency: string;
        runningS: number;
        stoppedS: number;
        vcpuHours: number;
        memoryGiBHours: number;
        diskGiBHours: number;
        energyKWh: number;
        amount: number;
      }
    >();
    let uncovered = 0;
    for (const x of u.pieces) {
      let covered = 0;
      for (const t of tariffs) {
        const a = Math.max(x.a, Date.parse(t.valid_from)),
          b = Math.min(x.b, t.valid_to ? Date.parse(t.valid_to) : Infinity);
        const secs = Math.round((b - a) / 1000);
        if (secs <= 0) continue;
        covered += secs;
        const h = secs / 3600;
        const key = `${x.flavor}|${t.id}`;
        const l = lines.get(key) ?? {
          flavor: x.flavor,
          tariff: t.name,
          currency: t.currency,
          runningS: 0,
          stoppedS: 0,
          vcpuHours: 0,
          memoryGiBHours: 0,
          diskGiBHours: 0,
          energyKWh: 0,
          amount: 0,
        };
        const disk = x.disk_gib * h;
        l.diskGiBHours += disk;
        l.amount += disk * t.disk_gib_hour;
        if (x.class === 'running') {
          const vh = x.vcpus * h,
            mh = (x.memory_mib / 1024) * h,
            kwh = (vmPowerW(x.power_model, x.vcpus, x.host_vcpus ?? x.vcpus, x.utilization) * h) / 1000;
          l.runningS += secs;
          l.vcpuHours += vh;
          l.memoryGiBHours += mh;
          l.energyKWh += kwh;
          l.amount += vh * t.vcpu_hour + mh * t.memory_gib_hour + kwh * t.kwh;
        } else l.stoppedS += secs;
        lines.set(key, l);
      }
      uncovered += Math.max(0, x.seconds - covered);
    }
    const out = [...lines.values()].map((l) => ({ ...l, amount: Math.round(l.amount * 100) / 100 }));
    const currency = out[0]?.currency ?? 'EUR';
    return {
      tenantId: u.tenantId,
      from: u.from,
      to: u.to,
      currency,
      lines: out,
      total: Math.round(out.reduce((s, l) => s + l.amount, 0) * 100) / 100,
      unbilledSeconds: uncovered,
    };
  }
}
