/**
 * Volume GiB-hours: the intervals each volume existed at its size (`volume_usage`, from creation to
 * deletion, attached or not), clipped to an invoice's period and split at tariff boundaries, priced
 * at the tariff's `volume_gib_hour`. One line per volume and tariff.
 */
import type { Db } from '../store/open-store.ts';

/** The tariff fields the lines need. */
export interface VolumeTariffRow {
  id: string;
  name: string;
  currency: string;
  valid_from: string;
  valid_to: string | null;
  volume_gib_hour: number;
}

/** One invoice line for a volume. */
export interface VolumeLine {
  volumeId: string;
  volume: string;
  tariff: string;
  currency: string;
  sizeGiB: number;
  gibHours: number;
  /** Not rounded (the invoice rounds each line to cents). */
  amount: number;
}

/** The volume lines of a tenant's invoice for [fromMs, toMs) (`nowMs` closes open intervals). */
export async function volumeLines(
  db: Db,
  o: { tenantId: string; fromMs: number; toMs: number; nowMs: number; tariffs: VolumeTariffRow[] },
): Promise<VolumeLine[]> {
  const rows = await db
    .selectFrom('volume_usage')
    .innerJoin('volumes', 'volumes.id', 'volume_usage.volume_id')
    .select([
      'volume_usage.id',
      'volume_usage.volume_id',
      'volume_usage.size_gib',
      'volume_usage.start_at',
      'volume_usage.end_at',
      'volumes.name',
    ])
    .where('volume_usage.tenant_id', '=', o.tenantId)
    .orderBy('volumes.name')
    .orderBy('volume_usage.id')
    .execute();
  const lines = new Map<string, VolumeLine>();
  for (const r of rows) {
    const a0 = Math.max(o.fromMs, Date.parse(r.start_at));
    const b0 = Math.min(o.toMs, r.end_at ? Date.parse(r.end_at) : o.nowMs);
    if (b0 <= a0) continue;
    for (const t of o.tariffs) {
      const a = Math.max(a0, Date.parse(t.valid_from)),
        b = Math.min(b0, t.valid_to ? Date.parse(t.valid_to) : Infinity);
      if (b <= a) continue;
      const gibH = ((b - a) / 3_600_000) * r.size_gib;
      const key = `${r.volume_id}|${t.id}`;
      const l = lines.get(key) ?? {
        volumeId: r.volume_id,
        volume: r.name.replace(/~deleted~.*$/, ''),
        tariff: t.name,
        currency: t.currency,
        sizeGiB: r.size_gib,
        gibHours: 0,
        amount: 0,
      };
      l.gibHours += gibH;
      l.amount += gibH * t.volume_gib_hour;
      lines.set(key, l);
    }
  }
  return [...lines.values()];
}
