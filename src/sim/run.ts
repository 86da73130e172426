/**
 * The simulator's composition root for experiments: scenario + days + policies → result rows.
 */
import { thresholdDetector } from '../policies/overload.ts';
import {
  DEFAULT_UTILIZATION_CAP,
  planOptimalRound,
  type OptimalRound,
} from '../policies/optimize/sim-consolidation.ts';
import type { MilpSolverSync } from '../policies/optimize/solver-port.ts';
import { buildDetector, buildSelection, parsePolicy, type PolicySpec } from '../policies/registry.ts';
import { seededRandom } from '../runtime/random.ts';
import { planMigration, predictMigration } from '../models/migration.ts';
import { simulate, type SimInput, type SimMode, type SimPolicy, type SimResult } from './datacenter-sim.ts';
import { MemoryModel, type MemoryResult } from './memory-model.ts';
import { readWorkingSetTrace } from './memory-trace.ts';
import { generateMemoryVms, memoryOptions } from './memory-workload.ts';
import { dayName, readPlanetLabDay } from './planetlab.ts';
import { resolvePowerModel, type ScenarioSpec } from './scenario.ts';
import { syntheticWorkload } from './synthetic.ts';
import type { Workload } from './workload.ts';

/** One row of results: one day (or synthetic workload) and one policy. */
export interface ResultRow extends Omit<SimResult, 'series' | 'memory'> {
  /** With a memory model: its figures (without the per-step series). */
  memory?: Omit<MemoryResult, 'series'>;
  day: string;
  policy: string;
  mode: SimMode;
  /** The run's seed (a cell of the grid's `--seeds`). */
  seed: number;
  wallMs: number;
  peakRssMiB: number;
}

export interface RunOutput {
  rows: ResultRow[];
  series: Map<string, SimResult['series']>;
}

export interface ExperimentOptions {
  scenario: ScenarioSpec;
  /** Day folders (PlanetLab workloads); ignored for synthetic workloads. */
  days: string[];
  policies: string[];
  mode: SimMode;
  seed?: number;
  /** Several seeds: every day and policy runs once per seed (overrides `seed`). */
  seeds?: number[];
  /** Override the host count (scales every host type proportionally). */
  hosts?: number;
  /** Progress: `done` counts cells, with fractions for the cells under way; `finished` counts whole cells. */
  onProgress?: (done: number, total: number, label: string, finished: number) => void;
  /** The synchronous MILP solver the `optimal` policy needs (highsSyncSolver(), loaded before the run). */
  milp?: MilpSolverSync;
  /** Called after each round of the `optimal` policy (counters for the benchmark). */
  onOptimalRound?: (round: OptimalRound) => void;
  /** VMs the `optimal` policy frees per round to consolidate (default DEFAULT_FREE_VMS). */
  optimalFreeVms?: number;
}

/** What the simulator's `optimal` policy is built with (injected by the composition root). */
export interface SimDeps {
  milp?: MilpSolverSync;
  onOptimalRound?: (round: OptimalRound) => void;
  optimalFreeVms?: number;
}

/** A policy needs the MILP solver but none was given, or runs in a mode it does not support. */
export class SimPolicyError extends Error {
  readonly code = 'BAD_POLICY';
}

/** Load a workload for a scenario and (for PlanetLab) a day folder. */
export function loadWorkload(s: ScenarioSpec, day: string | undefined, seed: number): Workload {
  if (s.workload.type === 'synthetic') {
    return syntheticWorkload(
      { vms: s.workload.vms, medianPercent: s.workload.medianPercent },
      seededRandom(s.workload.seed ?? seed),
      s.workload.seed ?? seed,
    );
  }
  const path = day ?? s.workload.path;
  if (!path) throw new RangeError('A PlanetLab workload needs a trace folder (--trace)');
  return readPlanetLabDay(path, { limit: s.workload.limitVms });
}

/** Build the simulator input for a scenario, workload and policy. */
export function buildSimInput(
  s: ScenarioSpec,
  w: Workload,
  policy: PolicySpec,
  mode: SimMode,
  seed: number,
  hostsOverride?: number,
  deps: SimDeps = {},
): Omit<SimInput, 'onStep'> {
  const types = s.hostTypes;
  let counts = types.map((t) => t.count);
  if (hostsOverride !== undefined) {
    const tot = counts.reduce((a, b) => a + b, 0);
    counts = counts.map((c, i) => (i === counts.length - 1 ? 0 : Math.round((c / tot) * hostsOverride)));
    counts[counts.length - 1] = hostsOverride - counts.reduce((a, b) => a + b, 0);
  }
  const H = counts.reduce((a, b) => a + b, 0);
  const hostType: number[] = [];
  if (s.hostLayout === 'blocks')
    counts.forEach((c, i) => {
      for (let k = 0; k < c; k++) hostType.push(i);
    });
  else {
    const left = counts.slice();
    while (hostType.length < H)
      for (let i = 0; i < types.length; i++)
        if (left[i]! > 0) {
          hostType.push(i);
          left[i]!--;
        }
  }
  const hosts = {
    capacityMips: Float64Array.from(hostType, (i) => types[i]!.pes * types[i]!.mipsPerPe),
    peMips: Float64Array.from(hostType, (i) => types[i]!.mipsPerPe),
    ramMiB: Float64Array.from(hostType, (i) => types[i]!.ramMiB),
    bandwidthMbps: Float64Array.from(hostType, (i) => types[i]!.bandwidthMbps),
    power: hostType.map((i) => resolvePowerModel(types[i]!.power)),
  };
  const n = w.names.length;
  const vt = s.vmTypes;
  const rnd = seededRandom(seed ^ 0x5eed);
  const vmType = Array.from({ length: n }, (_, i) => {
    if (s.vmAssignment === 'blocks') return Math.min(vt.length - 1, Math.floor(i / Math.ceil(n / vt.length)));
    if (s.vmAssignment === 'round-robin') return i % vt.length;
    return rnd.int(vt.length);
  });
  const vms = {
    mips: Float64Array.from(vmType, (i) => vt[i]!.mips),
    ramMiB: Float64Array.from(vmType, (i) => vt[i]!.ramMiB),
    bandwidthMbps: Float64Array.from(vmType, (i) => vt[i]!.bandwidthMbps),
  };
  const stepS = s.stepS;
  const mig = s.migration;
  const share = mig.bandwidthShare;
  let migrationTime: SimInput['migrationTime'];
  if (mode === 'cloudsim') {
    // CloudSim: RAM / (BW / (2 · 8000)) with BW in kbit/s.
    migrationTime = (ram, bw) => ram / ((bw * 1000) / (8000 / share));
  } else if (mig.type === 'precopy-model') {
    // The live-migration models, with the settings the control plane would choose (src/models/migration.ts).
    migrationTime = (ram, bw, u) => {
      const p = planMigration({
        memMiB: ram,
        dirtyMiBps: u * mig.maxDirtyMiBps,
        bandwidthMbps: bw * share,
        downtimeTargetMs: mig.downtimeTargetMs,
      });
      const r = p.ok
        ? p.predicted!
        : predictMigration(
            { memMiB: ram, dirtyMiBps: u * mig.maxDirtyMiBps, bandwidthMbps: bw * share },
            { mode: 'postcopy' },
          );
      return r.totalMs / 1000;
    };
  } else migrationTime = (ram, bw) => (ram * 8) / (bw * share);
  let memory: MemoryModel | undefined;
  if (s.memory) {
    if (mode === 'cloudsim')
      throw new SimPolicyError('The memory model runs in default mode only (CloudSim models no memory)');
    const trace = s.memory.workingSetTrace ? readWorkingSetTrace(s.memory.workingSetTrace, w) : undefined;
    memory = new MemoryModel(generateMemoryVms(s.memory, vms.ramMiB, seed, trace), memoryOptions(s.memory));
  }
  let simPolicy: SimPolicy;
  if (policy.type === 'npa') simPolicy = { kind: 'npa' };
  else if (policy.type === 'dvfs') simPolicy = { kind: 'dvfs' };
  else if (policy.type === 'optimal') {
    if (mode === 'cloudsim')
      throw new SimPolicyError(
        `Policy "${policy.label}" runs in default mode only (CloudSim has no exact optimizer to be compatible with)`,
      );
    const milp = deps.milp;
    if (!milp)
      throw new SimPolicyError(
        `Policy "${policy.label}" needs the MILP solver (HiGHS), which was not loaded`,
      );
    const moveCostS = (v: number, h: number, u: number) =>
      migrationTime(vms.ramMiB[v]!, hosts.bandwidthMbps[h]!, u);
    simPolicy = {
      kind: 'planner',
      // Initial placement: PABFD under the same cap the optimizer packs to.
      detector: thresholdDetector(DEFAULT_UTILIZATION_CAP),
      plan: (snap) => {
        const r = planOptimalRound(snap, milp, {
          maxNodes: policy.maxNodes,
          timeLimitS: policy.timeLimitS,
          freeVms: deps.optimalFreeVms,
          moveCostS,
        });
        deps.onOptimalRound?.(r);
        return r.migrations;
      },
    };
  } else
    simPolicy = {
      kind: 'migration',
      detector: buildDetector(policy, mode === 'cloudsim' ? 'cloudsim' : 'loess', stepS),
      selection: buildSelection(policy.selection),
    };
  return {
    mode,
    hosts,
    vms,
    workload: w,
    policy: simPolicy,
    stepS,
    durationS: s.durationS,
    random: seededRandom(seed),
    powerOnS: s.power.powerOnS,
    powerOffS: s.power.powerOffS,
    transitionPowerShare: s.power.transitionPowerShare,
    migrationTime,
    pue: s.power.pue,
    historyLength: s.historyLength,
    ...(memory ? { memory } : {}),
  };
}

/** One cell of an experiment's grid: a day (undefined for a synthetic workload), a seed and a policy. */
export interface SweepCell {
  /** Position in the grid: rows come back in this order. */
  index: number;
  day: string | undefined;
  seed: number;
  policy: string;
}

/** The grid's seeds: `seeds` if given, else `seed`, else the scenario's. */
export function experimentSeeds(o: Pick<ExperimentOptions, 'scenario' | 'seed' | 'seeds'>): number[] {
  if (o.seeds?.length) return [...o.seeds];
  return [o.seed ?? o.scenario.seed];
}

/** Every cell of the grid, in row order: day, then seed, then policy. */
export function experimentCells(
  o: Pick<ExperimentOptions, 'scenario' | 'days' | 'policies' | 'seed' | 'seeds'>,
): SweepCell[] {
  const days = o.scenario.workload.type === 'synthetic' ? [undefined] : o.days;
  const cells: SweepCell[] = [];
  for (const day of days)
    for (const seed of experimentSeeds(o))
      for (const policy of o.policies) cells.push({ index: cells.length, day, seed, policy });
  return cells;
}

/** Cells with equal keys read the same workload (a PlanetLab day ignores the seed; a synthetic one does not). */
export function workloadKey(s: ScenarioSpec, cell: Pick<SweepCell, 'day' | 'seed'>): string {
  return s.workload.type === 'synthetic' ? `synthetic|${s.workload.seed ?? cell.seed}` : (cell.day ?? '');
}

/** The key of a cell's series in `RunOutput.series`: `day|policy`, with the seed when the grid has several. */
export function seriesKey(day: string, policy: string, seed: number, severalSeeds: boolean): string {
  return severalSeeds ? `${day} seed ${seed}|${policy}` : `${day}|${policy}`;
}

/** What one cell produced. */
export interface CellResult {
  row: ResultRow;
  series: SimResult['series'];
}

/** Run one cell of the grid on its (already loaded) workload. */
export function runCell(
  o: Pick<ExperimentOptions, 'scenario' | 'mode' | 'hosts' | 'milp' | 'onOptimalRound' | 'optimalFreeVms'>,
  cell: SweepCell,
  w: Workload,
  onStep?: (step: number, total: number) => void,
): CellResult {
  const p = parsePolicy(cell.policy);
  const input = buildSimInput(o.scenario, w, p, o.mode, cell.seed, o.hosts, {
    milp: o.milp,
    onOptimalRound: o.onOptimalRound,
    optimalFreeVms: o.optimalFreeVms,
  });
  const t0 = performance.now();
  const r = simulate({ ...input, onStep });
  const wallMs = performance.now() - t0;
  const { series, memory, ...rest } = r;
  const row: ResultRow = {
    day: cell.day ? dayName(cell.day) : w.source,
    policy: p.label,
    mode: o.mode,
    seed: cell.seed,
    ...rest,
    ...(memory ? { memory: withoutSeries(memory) } : {}),
    wallMs,
    peakRssMiB: process.memoryUsage().rss / 2 ** 20,
  };
  return { row, series };
}

function withoutSeries(m: MemoryResult): Omit<MemoryResult, 'series'> {
  const { series: _s, ...rest } = m;
  return rest;
}

/**
 * Run every (day, seed, policy) cell in this thread. Rows come in day order, then seed, then policy
 * (src/sim/sweep.ts runs the same cells in worker threads, with the same rows).
 */
export function runExperiment(o: ExperimentOptions): RunOutput {
  const cells = experimentCells(o);
  const severalSeeds = experimentSeeds(o).length > 1;
  const rows: ResultRow[] = [];
  const series = new Map<string, SimResult['series']>();
  const total = cells.length;
  let loaded: { key: string; w: Workload } | undefined;
  for (const cell of cells) {
    const key = workloadKey(o.scenario, cell);
    if (loaded?.key !== key) loaded = { key, w: loadWorkload(o.scenario, cell.day, cell.seed) };
    const w = loaded.w;
    const label = `${cell.day ? dayName(cell.day) : w.source} ${cell.policy}`;
    const { row, series: s } = runCell(o, cell, w, (k, n) =>
      o.onProgress?.(cell.index + k / Math.max(1, n), total, label, cell.index),
    );
    rows.push(row);
    series.set(seriesKey(row.day, row.policy, row.seed, severalSeeds), s);
    o.onProgress?.(cell.index + 1, total, label, cell.index + 1);
  }
  return { rows, series };
}
