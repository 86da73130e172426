/**
 * Floating IP hours: the intervals each address was allocated to a tenant (`floating_ip_usage`),
 * clipped to an invoice's period and split at tariff boundaries, priced at the tariff's
 * `floating_ip_hour`. One line per address and tariff.
 */
import type { Db } from '../store/open-store.ts';

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
  const lines = new Map<string, FloatingIpLine>();
  for (const r of rows) {
    const a0 = Math.max(o.fromMs, Date.parse(r.start_at));
    const b0 = Math.min(o.toMs, r.end_at ? Date.parse(r.end_at) : o.nowMs);
    if (b0 <= a0) continue;
    for (const t of o.tariffs) {
      const a = Math.max(a0, Date.parse(t.valid_from)),
        b = Math.min(b0, t.valid_to ? Date.parse(t.valid_to) : Infinity);
      if (b <= a) continue;
      const h = (b - a) / 3_600_000;
      const key = `${r.ip}|${t.id}`;
      const l = lines.get(key) ?? {
        floatingIp: r.ip,
        tariff: t.name,
        currency: t.currency,
        hours: 0,
        amount: 0,
      };
      l.hours += h;
      l.amount += h * t.floating_ip_hour;
      lines.set(key, l);
    }
  }
  return [...lines.values()];
}
