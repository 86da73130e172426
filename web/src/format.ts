/** Formatting and colour helpers shared by the views (pure: tested without a browser). */

export const pct = (x: number | null | undefined, digits = 0) =>
  x === null || x === undefined ? '—' : `${(x * 100).toFixed(digits)} %`;
export const watts = (w: number) => (w >= 10_000 ? `${(w / 1000).toFixed(1)} kW` : `${w.toFixed(0)} W`);
export const kwh = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toFixed(3));
export const mib = (x: number) => (x >= 1024 ? `${(x / 1024).toFixed(x % 1024 ? 1 : 0)} GiB` : `${x} MiB`);
export const time = (iso: string) => new Date(iso).toISOString().replace('T', ' ').slice(0, 19);
export const secs = (s: number) =>
  s >= 3600
    ? `${(s / 3600).toFixed(1)} h`
    : s >= 60
      ? `${(s / 60).toFixed(1)} min`
      : `${s.toFixed(s < 10 ? 1 : 0)} s`;

/** Tile colour for a CPU utilization: green (idle) → amber → orange (full), hsl hue 130 → 24; red is kept for failures. */
export function loadColor(u: number): string {
  const x = Math.max(0, Math.min(1, u));
  return `hsl(${Math.round(130 - 106 * x)}, ${Math.round(62 + 20 * x)}%, ${Math.round(46 + 8 * (1 - x))}%)`;
}

/** Host states the dashboard distinguishes, with their label. */
export const HOST_STATES: Record<string, string> = {
  up: 'on',
  off: 'off',
  booting: 'switching on',
  maintenance: 'maintenance',
  failed: 'failed',
};

/** Sort rows by a key; strings compare naturally, numbers numerically, nulls last. */
export function sortBy<T>(rows: readonly T[], key: (r: T) => string | number | null, dir: 1 | -1): T[] {
  return rows.slice().sort((a, b) => {
    const x = key(a),
      y = key(b);
    if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
    if (typeof x === 'number' && typeof y === 'number') return (x - y) * dir;
    return String(x).localeCompare(String(y), undefined, { numeric: true }) * dir;
  });
}
