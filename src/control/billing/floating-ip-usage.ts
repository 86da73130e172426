/**
 * Floating IP hours: the intervals each address was allocated to a tenant (`floating_ip_usage`),
 * clipped to an invoice's period and split at tariff boundaries, priced at the tariff's
 * `floating_ip_hour`. One line per address and tariff.
 */
import type { Db } from '../store/open-store.ts';
import { meteredLines } from './metered-lines.ts';

/** The tariff fields the lines need. */
export interface TariffRow {
  id: string;
  name: string;
  currency: string;
  valid_from: string;
  valid_to: string | null;
  floating_ip_hour: number;
}

/** One invoice line for a floating IP. */
export interface FloatingIpLine {
  floatingIp: string;
  tariff: string;
  currency: string;
  hours: number;
  /** Not rounded (the invoice rounds each line to cents). */
  amount: number;
}

/** The floating IP lines of a tenant's invoice for [fromMs, toMs) (`nowMs` closes open intervals). */
export async function floatingIpLines(
  db: Db,
  o: { tenantId: string; fromMs: number; toMs: number; nowMs: number; tariffs: TariffRow[] },
): Promise<FloatingIpLine[]> {
  const rows = await db
    .selectFrom('floating_ip_usage')
    .selectAll()
    .where('tenant_id', '=', o.tenantId)
    .orderBy('ip')
    .orderBy('id')
    .execute();
  return meteredLines(rows, o, {
    resource: (r) => r.ip,
    line: (r, t) => ({ floatingIp: r.ip, tariff: t.name, currency: t.currency, hours: 0, amount: 0 }),
    add: (l, hours, _r, t) => {
      l.hours += hours;
      l.amount += hours * t.floating_ip_hour;
    },
  });
}
