/**
 * Metered resources (floating IPs, volumes): intervals of use clipped to an invoice's period and
 * split at tariff boundaries, summed into one line per resource and tariff. Each resource says how
 * a line starts and what an hour adds (hours for an address, GiB-hours for a volume).
 */

/** An interval of use: open (`end_at` null) while the resource is still held. */
export interface UsageSpan {
  start_at: string;
  end_at: string | null;
}

/** When a tariff applies: [valid_from, valid_to), open-ended when `valid_to` is null. */
export interface TariffSpan {
  id: string;
  valid_from: string;
  valid_to: string | null;
}

/** How one metered resource becomes invoice lines. */
export interface MeteredLineSpec<R, T, L> {
  /** The resource a span belongs to (one line per resource and tariff). */
  resource: (r: R) => string;
  /** A new line (nothing added yet) for `r` under tariff `t`. */
  line: (r: R, t: T) => L;
  /** Add `hours` of span `r` under tariff `t` to line `l`. */
  add: (l: L, hours: number, r: R, t: T) => void;
}

/**
 * The lines of `spans` for the period [fromMs, toMs) (`nowMs` closes open spans), in the order the
 * spans come: each span's hours inside the period and inside each tariff's validity are added to the
 * line of its resource and that tariff.
 * @example meteredLines(rows, { fromMs, toMs, nowMs, tariffs }, { resource: (r) => r.ip, line, add })
 */
export function meteredLines<R extends UsageSpan, T extends TariffSpan, L>(
  spans: readonly R[],
  o: { fromMs: number; toMs: number; nowMs: number; tariffs: readonly T[] },
  spec: MeteredLineSpec<R, T, L>,
): L[] {
  const lines = new Map<string, L>();
  for (const r of spans) {
    const a0 = Math.max(o.fromMs, Date.parse(r.start_at));
    const b0 = Math.min(o.toMs, r.end_at ? Date.parse(r.end_at) : o.nowMs);
    if (b0 <= a0) continue;
    for (const t of o.tariffs) {
      const a = Math.max(a0, Date.parse(t.valid_from)),
        b = Math.min(b0, t.valid_to ? Date.parse(t.valid_to) : Infinity);
      if (b <= a) continue;
      const key = `${spec.resource(r)}|${t.id}`;
      let l = lines.get(key);
      if (l === undefined) lines.set(key, (l = spec.line(r, t)));
      spec.add(l, (b - a) / 3_600_000, r, t);
    }
  }
  return [...lines.values()];
}
