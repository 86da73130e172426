/**
 * Sharing-aware vs sharing-unaware placement on the same trace and seed: the scenario runs three
 * times, its `memory:` section set to each placement (flavor RAM; working sets at a risk; that plus
 * the sharing score and credit), and the runs are compared on hosts, energy, migrations and the
 * swap-induced SLA.
 */
import { parsePolicy } from '../policies/registry.ts';
import { simulate, type SimResult } from './datacenter-sim.ts';
import type { MemoryPlacement, MemoryResult } from './memory-model.ts';
import { memorySpecSchema } from './memory-workload.ts';
import { buildSimInput } from './run.ts';
import type { ScenarioSpec } from './scenario.ts';
import type { Workload } from './workload.ts';

export const MEMORY_PLACEMENTS: readonly MemoryPlacement[] = ['unaware', 'memory', 'sharing'];

/** One variant's figures. */
export interface MemoryCompareRow {
  placement: MemoryPlacement;
  policy: string;
  meanActiveHosts: number;
  maxActiveHosts: number;
  energyKWh: number;
  migrations: number;
  slatah: number;
  pdm: number;
  slaSwap: number;
  /** SLATAH × PDM + swap-induced SLA. */
  slav: number;
  meanSharedMiB: number;
  meanSwapMiB: number;
  maxSwapMiB: number;
}

export interface MemoryCompareOutput {
  rows: MemoryCompareRow[];
  /** Per variant: the run's per-step series (hosts, power…) and memory series. */
  series: { placement: MemoryPlacement; sim: SimResult['series']; memory: MemoryResult['series'] }[];
}

/**
 * Run the three placements of `scenario` (its `memory:` section, or the defaults) on one workload,
 * policy and seed. Deterministic: the same inputs give the same rows.
 */
export function runMemoryCompare(o: {
  scenario: ScenarioSpec;
  workload: Workload;
  policy: string;
  seed: number;
  hosts?: number;
  /** The placements to run (default: all three, in `MEMORY_PLACEMENTS` order). */
  placements?: readonly MemoryPlacement[];
}): MemoryCompareOutput {
  const p = parsePolicy(o.policy);
  const base = o.scenario.memory ?? memorySpecSchema.parse({});
  const rows: MemoryCompareRow[] = [];
  const series: MemoryCompareOutput['series'] = [];
  for (const placement of o.placements ?? MEMORY_PLACEMENTS) {
    const s: ScenarioSpec = { ...o.scenario, memory: { ...base, placement } };
    const r = simulate(buildSimInput(s, o.workload, p, 'default', o.seed, o.hosts));
    const m = r.memory!;
    const hosts = r.series.activeHosts;
    rows.push({
      placement,
      policy: p.label,
      meanActiveHosts: hosts.length ? hosts.reduce((a, b) => a + b, 0) / hosts.length : 0,
      maxActiveHosts: Math.max(0, ...hosts),
      energyKWh: r.energyKWh,
      migrations: r.migrations,
      slatah: r.slatah,
      pdm: r.pdm,
      slaSwap: m.slaSwap,
      slav: r.slav,
      meanSharedMiB: m.meanSharedMiB,
      meanSwapMiB: m.meanSwapMiB,
      maxSwapMiB: m.maxSwapMiB,
    });
    series.push({ placement, sim: r.series, memory: m.series });
  }
  return { rows, series };
}

/** The comparison's table columns and cells (for the CLI table and the HTML report). */
export function memoryCompareTable(rows: readonly MemoryCompareRow[]): { head: string[]; cells: string[][] } {
  const pct = (x: number, d: number) => (x * 100).toFixed(d);
  return {
    head: [
      'placement',
      'policy',
      'hosts mean',
      'hosts max',
      'energy kWh',
      'migrations',
      'SLATAH %',
      'PDM %',
      'swap SLA %',
      'SLAV %',
      'shared MiB',
      'swap MiB max',
    ],
    cells: rows.map((r) => [
      r.placement,
      r.policy,
      r.meanActiveHosts.toFixed(1),
      String(r.maxActiveHosts),
      r.energyKWh.toFixed(2),
      String(r.migrations),
      pct(r.slatah, 3),
      pct(r.pdm, 4),
      pct(r.slaSwap, 4),
      pct(r.slav, 4),
      r.meanSharedMiB.toFixed(0),
      r.maxSwapMiB.toFixed(0),
    ]),
  };
}
