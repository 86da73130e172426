/**
 * Tariffs and invoices.
 *
 * Uses: `cp.usageReports`.
 */
import { authorize } from '../authz.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import type { Db } from '../store/open-store.ts';
import { vmPowerW } from '../telemetry/energy.ts';
import { parseBillingTime } from './period.ts';
import {
  describeWindow,
  overlappingTariff,
  roundCents,
  totalsByCurrency,
  unbilledNotice,
  uncoveredSpans,
  type TariffWindow,
} from './tariff-rules.ts';
import { floatingIpLines } from './floating-ip-usage.ts';
import { volumeLines } from './volume-usage.ts';

/** Tariffs and invoices. */
export class Invoices extends Service {
  /**
   * Create a tariff for [validFrom, validTo) (open-ended without validTo). Dates are `YYYY-MM-DD`
   * (midnight UTC) or ISO-8601 times with an offset. Throws BAD_REQUEST for a bad or empty window and
   * ALREADY_EXISTS (409) when the window overlaps another tariff's: one price per moment.
   */
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
      floatingIpHour?: number;
      volumeGiBHour?: number;
    },
  ) {
    authorize(p, 'tariff:write');
    const validFrom = parseBillingTime('validFrom', t.validFrom);
    const validTo = t.validTo === undefined ? null : parseBillingTime('validTo', t.validTo);
    if (validTo && !(Date.parse(validFrom) < Date.parse(validTo)))
      throw new ControlError(
        'BAD_REQUEST',
        `validFrom (${t.validFrom}) must be before validTo (${t.validTo})`,
      );
    const id = this.ctx.ids.uuid();
    const currency = t.currency ?? 'EUR';
    await this.db.transaction().execute(async (trx) => {
      await this.refuseOverlap(trx, { id, name: t.name, validFrom, validTo });
      await trx
        .insertInto('tariffs')
        .values({
          id,
          name: t.name,
          valid_from: validFrom,
          valid_to: validTo,
          currency,
          vcpu_hour: t.vcpuHour,
          memory_gib_hour: t.memoryGiBHour,
          disk_gib_hour: t.diskGiBHour,
          kwh: t.kWh,
          floating_ip_hour: t.floatingIpHour ?? 0,
          volume_gib_hour: t.volumeGiBHour ?? 0,
          created_at: this.now(),
        })
        .execute();
    });
    return { id, ...t, validFrom, validTo, currency };
  }

  /**
   * Throw ALREADY_EXISTS (409) naming the other tariff and its window when `w` overlaps a stored
   * tariff other than itself (same id: an edit). Call it in the transaction that writes `w`.
   */
  async refuseOverlap(trx: Db, w: TariffWindow): Promise<void> {
    const stored = (
      await trx.selectFrom('tariffs').select(['id', 'name', 'valid_from', 'valid_to']).execute()
    ).map((r) => ({ id: r.id, name: r.name, validFrom: r.valid_from, validTo: r.valid_to }));
    const other = overlappingTariff(w, stored);
    if (other)
      throw new ControlError(
        'ALREADY_EXISTS',
        `Tariff "${w.name}" (${describeWindow(w)}) overlaps tariff "${other.name}" (${describeWindow(other)}): ` +
          "only one tariff may price a moment; choose a window outside it or change that tariff's window first",
        { tariffId: other.id, tariff: other.name, validFrom: other.validFrom, validTo: other.validTo },
      );
  }

  async listTariffs(p: Principal) {
    authorize(p, 'tariff:read');
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
      floatingIpHour: t.floating_ip_hour,
      volumeGiBHour: t.volume_gib_hour,
    }));
  }

  /**
   * A tenant's invoice for [from, to) (`YYYY-MM-DD` or ISO times): usage split at tariff boundaries,
   * one line per flavor and tariff; a stopped VM pays for its disk only. Amounts are rounded to cents
   * per line; `totals` has one entry per currency (`currency`/`total` too when there is exactly one).
   * VM time no tariff covers is not billed: `unbilledSeconds` counts it and `notice` says how to set
   * a tariff.
   */
  async invoice(p: Principal, o: { tenant?: string; from: string; to: string }) {
    authorize(p, 'invoice:read');
    const u = await this.cp.usageReports.usage(p, o);
    const tariffs = await this.db.selectFrom('tariffs').selectAll().orderBy('valid_from').execute();
    const windows = tariffs.map((t) => ({
      id: t.id,
      name: t.name,
      validFrom: t.valid_from,
      validTo: t.valid_to,
    }));
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
    let uncovered = 0,
      firstGap = Infinity,
      lastGap = -Infinity;
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
      if (x.seconds - covered > 0) {
        uncovered += x.seconds - covered;
        for (const g of uncoveredSpans(x.a, x.b, windows)) {
          firstGap = Math.min(firstGap, g.a);
          lastGap = Math.max(lastGap, g.b);
        }
      }
    }
    const out = [...lines.values()].map((l) => ({ ...l, amount: roundCents(l.amount) }));
    const fips = (
      await floatingIpLines(this.db, {
        tenantId: u.tenantId,
        fromMs: Date.parse(u.from),
        toMs: Date.parse(u.to),
        nowMs: this.ctx.clock.now() * 1000,
        tariffs,
      })
    ).map((l) => ({ ...l, amount: roundCents(l.amount) }));
    const vols = (
      await volumeLines(this.db, {
        tenantId: u.tenantId,
        fromMs: Date.parse(u.from),
        toMs: Date.parse(u.to),
        nowMs: this.ctx.clock.now() * 1000,
        tariffs,
      })
    ).map((l) => ({ ...l, amount: roundCents(l.amount) }));
    const totals = Object.entries(totalsByCurrency([...out, ...fips, ...vols])).map(([currency, amount]) => ({
      currency,
      amount,
    }));
    const notice = uncovered
      ? unbilledNotice({
          seconds: uncovered,
          from: new Date(firstGap).toISOString(),
          to: new Date(lastGap).toISOString(),
          tariffs: tariffs.length,
        })
      : undefined;
    return {
      tenantId: u.tenantId,
      from: u.from,
      to: u.to,
      lines: out,
      /** Floating IP hours, one line per address and tariff. */
      floatingIpLines: fips,
      /** Volume GiB-hours, one line per volume and tariff (attached or not). */
      volumeLines: vols,
      /** One total per currency, alphabetical; different currencies are never added. */
      totals,
      // `currency` and `total` only when the invoice has exactly one currency.
      ...(totals.length === 1 ? { currency: totals[0]!.currency, total: totals[0]!.amount } : {}),
      unbilledSeconds: uncovered,
      ...(notice ? { notice } : {}),
    };
  }
}
