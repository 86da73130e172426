/** Mean and standard deviation per policy over days, as in the paper's tables. */
import { mean, stdev } from './metrics.ts';
import type { ResultRow } from './run.ts';

export const SUMMARY_FIELDS = [
  'energyKWh',
  'migrations',
  'slatah',
  'pdm',
  'slav',
  'esv',
  'hostShutdowns',
  'meanMigrationTimeS',
] as const;
export type SummaryField = (typeof SUMMARY_FIELDS)[number];

export interface PolicySummary {
  policy: string;
  mode: string;
  days: number;
  mean: Record<SummaryField, number>;
  stdev: Record<SummaryField, number>;
}

export function summarize(rows: readonly ResultRow[]): PolicySummary[] {
  const by = new Map<string, ResultRow[]>();
  for (const r of rows) {
    const k = r.policy;
    if (!by.has(k)) by.set(k, []);
    by.get(k)!.push(r);
  }
  return [...by.entries()].map(([policy, rs]) => {
    const m = {} as Record<SummaryField, number>;
    const s = {} as Record<SummaryField, number>;
    for (const f of SUMMARY_FIELDS) {
      const xs = rs.map((r) => r[f]);
      m[f] = mean(xs);
      s[f] = stdev(xs);
    }
    return { policy, mode: rs[0]!.mode, days: rs.length, mean: m, stdev: s };
  });
}
