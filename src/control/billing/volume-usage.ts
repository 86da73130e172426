/**
 * Volume GiB-hours: the intervals each volume existed at its size (`volume_usage`, from creation to
 * deletion, attached or not), clipped to an invoice's period and split at tariff boundaries, priced
 * at the tariff's `volume_gib_hour`. One line per volume and tariff.
 */
import type { Db } from '../store/open-store.ts';
import { meteredLines } from './metered-lines.ts';

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
  return meteredLines(rows, o, {
    resource: (r) => r.volume_id,
    line: (r, t) => ({
      volumeId: r.volume_id,
      volume: r.name.replace(/~deleted~.*$/, ''),
      tariff: t.name,
      currency: t.currency,
      sizeGiB: r.size_gib,
      gibHours: 0,
      amount: 0,
    }),
    add: (l, hours, r, t) => {
      l.gibHours += hours * r.size_gib;
      l.amount += hours * r.size_gib * t.volume_gib_hour;
    },
  });
}
