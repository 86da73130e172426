/**
 * The risk trade-off of memory-aware placement: the `--memory-compare` placements run at each of
 * several overcommit risks, on one or more trace days (same policy and seed), and averaged per day:
 * hosts, energy, migrations, swap-induced SLA and SLAV per (risk, placement). Flavor-RAM placement
 * (`unaware`) admits by flavor size whatever the risk and never swaps, so it runs once per day, as
 * the baseline row.
 */
import { memorySpecSchema } from './memory-workload.ts';
import { runMemoryCompare, type MemoryCompareRow } from './memory-compare.ts';
import type { MemoryPlacement } from './memory-model.ts';
import type { ScenarioSpec } from './scenario.ts';
import type { Workload } from './workload.ts';

/** One (risk, placement) of the sweep, means over the days. */
export interface MemoryRiskRow {
  /** The overcommit risk; null for the flavor-RAM baseline (risk plays no part there). */
  risk: number | null;
  placement: MemoryPlacement;
  days: number;
  meanActiveHosts: number;
  energyKWh: number;
  migrations: number;
  slatah: number;
  slaSwap: number;
  slav: number;
  maxSwapMiB: number;
}

/**
 * Run the sweep. `workloads` yields one workload per day, loaded when asked for (one day in memory
 * at a time). Deterministic: the same inputs give the same rows.
 */
export function runMemoryRiskSweep(o: {
  scenario: ScenarioSpec;
  workloads: Iterable<Workload>;
  policy: string;
  seed: number;
  risks: readonly number[];
  hosts?: number;
}): MemoryRiskRow[] {
  if (o.risks.length === 0) throw new RangeError('the risk sweep needs at least one risk');
  const base = o.scenario.memory ?? memorySpecSchema.parse({});
  const keys: { risk: number | null; placement: MemoryPlacement }[] = [{ risk: null, placement: 'unaware' }];
  for (const risk of o.risks)
    for (const placement of ['memory', 'sharing'] as const) keys.push({ risk, placement });
  const sums = keys.map(() => [] as MemoryCompareRow[]);
  for (const workload of o.workloads) {
    const run = (risk: number, placements: readonly MemoryPlacement[]) =>
      runMemoryCompare({
        // Parsed again so that a risk out of range is refused by the schema, by name.
        scenario: { ...o.scenario, memory: memorySpecSchema.parse({ ...base, risk }) },
        workload,
        policy: o.policy,
        seed: o.seed,
        hosts: o.hosts,
        placements,
      }).rows;
    sums[0]!.push(run(base.risk, ['unaware'])[0]!);
    o.risks.forEach((risk, i) => {
      const [memory, sharing] = run(risk, ['memory', 'sharing']);
      sums[1 + 2 * i]!.push(memory!);
      sums[2 + 2 * i]!.push(sharing!);
    });
  }
  return keys.map(({ risk, placement }, k) => {
    const rs = sums[k]!;
    const mean = (f: (r: MemoryCompareRow) => number) => rs.reduce((a, r) => a + f(r), 0) / rs.length;
    return {
      risk,
      placement,
      days: rs.length,
      meanActiveHosts: mean((r) => r.meanActiveHosts),
      energyKWh: mean((r) => r.energyKWh),
      migrations: mean((r) => r.migrations),
      slatah: mean((r) => r.slatah),
      slaSwap: mean((r) => r.slaSwap),
      slav: mean((r) => r.slav),
      maxSwapMiB: Math.max(...rs.map((r) => r.maxSwapMiB)),
    };
  });
}

/** The sweep's table columns and cells (for the CLI). */
export function memoryRiskTable(rows: readonly MemoryRiskRow[]): { head: string[]; cells: string[][] } {
  const pct = (x: number, d: number) => (x * 100).toFixed(d);
  return {
    head: [
      'risk',
      'placement',
      'days',
      'hosts mean',
      'energy kWh',
      'migrations',
      'SLATAH %',
      'swap SLA %',
      'SLAV %',
      'swap MiB max',
    ],
    cells: rows.map((r) => [
      r.risk === null ? '-' : String(r.risk),
      r.placement,
      String(r.days),
      r.meanActiveHosts.toFixed(1),
      r.energyKWh.toFixed(2),
      r.migrations.toFixed(0),
      pct(r.slatah, 3),
      pct(r.slaSwap, 4),
      pct(r.slav, 4),
      r.maxSwapMiB.toFixed(0),
    ]),
  };
}
