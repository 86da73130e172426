/**
 * Pure rules of billing: when two tariffs' validity windows overlap (they would bill the same
 * seconds twice), and how an invoice's lines add up (per currency: EUR and USD are never summed).
 */

/** A tariff's validity window: [validFrom, validTo), open-ended when `validTo` is null. */
export interface TariffWindow {
  readonly id: string;
  readonly name: string;
  /** ISO-8601 start, inclusive. */
  readonly validFrom: string;
  /** ISO-8601 end, exclusive; null or undefined: valid for ever. */
  readonly validTo?: string | null;
  /**
   * What the tariff prices; tariffs of different items never overlap. Every tariff today prices
   * all usage (vCPU-, memory-, disk-hours and energy), so it is one item: undefined.
   */
  readonly item?: string;
}

const endMs = (w: TariffWindow) => (w.validTo ? Date.parse(w.validTo) : Infinity);

/**
 * Whether two windows share at least one second: half-open intervals [a1, b1) and [a2, b2)
 * intersect iff a1 < b2 and a2 < b1 (Allen's interval algebra: anything but before/meets/after).
 */
export function windowsOverlap(a: TariffWindow, b: TariffWindow): boolean {
  if ((a.item ?? '') !== (b.item ?? '')) return false;
  return Date.parse(a.validFrom) < endMs(b) && Date.parse(b.validFrom) < endMs(a);
}

/**
 * The first existing tariff (by start) whose window overlaps `candidate`, ignoring the candidate
 * itself (same id: an edit), or undefined when none does.
 * @example overlappingTariff({ id: 'n', name: 'n', validFrom: '2026-01-01T00:00:00Z' }, existing)
 */
export function overlappingTariff<T extends TariffWindow>(
  candidate: TariffWindow,
  existing: readonly T[],
): T | undefined {
  return [...existing]
    .filter((t) => t.id !== candidate.id)
    .sort((x, y) => Date.parse(x.validFrom) - Date.parse(y.validFrom))
    .find((t) => windowsOverlap(candidate, t));
}

/** A window as text for messages: `2026-01-01T00:00:00.000Z … 2026-02-01T00:00:00.000Z` (or `… open-ended`). */
export function describeWindow(w: TariffWindow): string {
  return `${w.validFrom} … ${w.validTo ?? 'open-ended'}`;
}

/** Round to cents (half away from zero, on the value scaled by 100 and corrected for binary fractions). */
export function roundCents(x: number): number {
  return (Math.sign(x) * Math.round(Math.abs(x) * 100 + 1e-9)) / 100;
}

/**
 * An invoice's totals per currency: the sum of its (already rounded) line amounts in each
 * currency, rounded to cents; currencies in alphabetical order. Never adds two currencies.
 * @example totalsByCurrency([{ currency: 'EUR', amount: 1.1 }, { currency: 'USD', amount: 2 }]) // {EUR: 1.1, USD: 2}
 */
export function totalsByCurrency(
  lines: readonly { currency: string; amount: number }[],
): Record<string, number> {
  const sums = new Map<string, number>();
  for (const l of lines) sums.set(l.currency, (sums.get(l.currency) ?? 0) + l.amount);
  return Object.fromEntries([...sums.keys()].sort().map((c) => [c, roundCents(sums.get(c)!)] as const));
}

/**
 * The parts of [aMs, bMs) that no window covers, in order (a sweep over the windows sorted by start).
 * @example uncoveredSpans(0, 10, [{ ..., validFrom: '1970-01-01T00:00:00.004Z', validTo: '1970-01-01T00:00:00.006Z' }]) // [{a:0,b:4},{a:6,b:10}]
 */
export function uncoveredSpans(
  aMs: number,
  bMs: number,
  windows: readonly TariffWindow[],
): { a: number; b: number }[] {
  const out: { a: number; b: number }[] = [];
  let at = aMs;
  for (const w of [...windows].sort((x, y) => Date.parse(x.validFrom) - Date.parse(y.validFrom))) {
    const s = Date.parse(w.validFrom),
      e = endMs(w);
    if (e <= at) continue;
    if (s >= bMs) break;
    if (s > at) out.push({ a: at, b: s });
    at = Math.max(at, e);
    if (at >= bMs) break;
  }
  if (at < bMs) out.push({ a: at, b: bMs });
  return out;
}

/** How to set a tariff, for messages: the CLI command and the API route. */
export const SET_TARIFF_HINT =
  'an admin sets one with `nubis tariff create NAME --valid-from YYYY-MM-DD --currency EUR --vcpu-hour P ' +
  '--memory-gib-hour P --disk-gib-hour P --kwh P` or POST /v1/tariffs';

/**
 * The invoice's plain statement that some VM time is not billed because no tariff covers it, and
 * how to set one. `from`/`to` span the uncovered time; `tariffs` is how many tariffs exist.
 */
export function unbilledNotice(o: { seconds: number; from: string; to: string; tariffs: number }): string {
  const hours = `${o.seconds} VM-second(s) (${(o.seconds / 3600).toFixed(2)} VM-hours)`;
  return o.tariffs === 0
    ? `No tariff is set, so ${hours} of usage between ${o.from} and ${o.to} is not billed: ${SET_TARIFF_HINT}.`
    : `No tariff covers ${hours} of usage between ${o.from} and ${o.to}, so it is not billed: ` +
        `${SET_TARIFF_HINT} (its window may not overlap another tariff's).`;
}
