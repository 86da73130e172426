/**
 * Named consolidation presets as data (OpenDC `ComputeSchedulers` style): `thr-mmt:0.8` means
 * overload detector THR with parameter 0.8 and VM selection MMT; `npa` and `dvfs` are the baselines.
 */
import {
  iqrDetector,
  madDetector,
  regressionDetector,
  thresholdDetector,
  type OverloadDetector,
  type RegressionFlavor,
} from './overload.ts';
import {
  maximumCorrelation,
  minimumMigrationTime,
  minimumUtilization,
  randomSelection,
  type VmSelectionPolicy,
} from './selection.ts';

export const DETECTORS = {
  thr: { name: 'Static threshold', defaultParam: 0.8 },
  iqr: { name: 'Interquartile range', defaultParam: 1.5 },
  mad: { name: 'Median absolute deviation', defaultParam: 2.5 },
  lr: { name: 'Local regression', defaultParam: 1.2 },
  lrr: { name: 'Robust local regression', defaultParam: 1.2 },
} as const;

export const SELECTIONS = {
  mmt: 'Minimum migration time',
  rs: 'Random selection',
  mc: 'Maximum correlation',
  mu: 'Minimum utilization',
} as const;

export type DetectorName = keyof typeof DETECTORS;
export type SelectionName = keyof typeof SELECTIONS;

/** A parsed preset: serializable. */
export type PolicySpec =
  | { type: 'migration'; detector: DetectorName; selection: SelectionName; param: number; label: string }
  | { type: 'npa'; label: string }
  | { type: 'dvfs'; label: string }
  /** The exact optimizer (simulator only): a node limit (`optimal[:NODES]`, reproducible) or wall clock (`milp:SECONDS`). */
  | { type: 'optimal'; maxNodes?: number; timeLimitS?: number; label: string };

/** Bad policy name or parameter. */
export class PolicySpecError extends Error {
  readonly code = 'BAD_POLICY';
}

/** CloudSim's fallback detector threshold for IQR/MAD/LR/LRR while history is short (quirk Q7). */
export const FALLBACK_THRESHOLD = 0.7;

/** Branch-and-bound nodes per round of the simulator's `optimal` policy (HiGHS `mip_max_nodes`). */
export const DEFAULT_OPTIMAL_NODES = 200;

/** `optimal[:NODES]` and `milp:SECONDS`, or undefined when `lower` names neither. */
function parseOptimal(label: string, lower: string): PolicySpec | undefined {
  const m = /^(optimal|milp)(?::(.*))?$/.exec(lower);
  if (!m) return undefined;
  const [, kind, arg] = m;
  if (kind === 'optimal') {
    if (arg === undefined) return { type: 'optimal', maxNodes: DEFAULT_OPTIMAL_NODES, label };
    const n = Number(arg);
    if (!/^[0-9]+$/.test(arg) || !Number.isSafeInteger(n) || n < 1)
      throw new PolicySpecError(
        `Bad node limit "${arg}" in policy "${label}": optimal[:NODES] takes a whole number of branch-and-bound nodes >= 1 (default ${DEFAULT_OPTIMAL_NODES})`,
      );
    return { type: 'optimal', maxNodes: n, label };
  }
  const s = Number(arg);
  if (arg === undefined || arg.trim() === '' || !Number.isFinite(s) || s <= 0)
    throw new PolicySpecError(
      `Policy "${label}" needs a time limit: milp:SECONDS with SECONDS a positive number (e.g. milp:2); for a reproducible run use optimal[:NODES]`,
    );
  return { type: 'optimal', timeLimitS: s, label };
}

/**
 * Parse a preset name such as `lr-mmt:1.2`, `thr-mu` (default parameter), `npa`, `dvfs`,
 * `optimal` / `optimal:500` (the exact optimizer with a node limit) or `milp:2` (with a wall-clock limit).
 * @throws PolicySpecError naming what was wrong and what is accepted.
 */
export function parsePolicy(text: string): PolicySpec {
  const label = text.trim();
  const lower = label.toLowerCase();
  if (lower === 'npa') return { type: 'npa', label };
  if (lower === 'dvfs') return { type: 'dvfs', label };
  const optimal = parseOptimal(label, lower);
  if (optimal) return optimal;
  const m = /^([a-z]+)-([a-z]+)(?::(.+))?$/.exec(lower);
  const accepted = `accepted: DETECTOR-SELECTION[:PARAM] with DETECTOR one of ${Object.keys(DETECTORS).join(', ')} and SELECTION one of ${Object.keys(SELECTIONS).join(', ')} (e.g. thr-mmt:0.8, lr-mc:1.2), or npa, dvfs, optimal[:NODES], milp:SECONDS`;
  if (!m) throw new PolicySpecError(`Unknown policy "${label}"; ${accepted}`);
  const [, d, s, p] = m;
  if (!(d! in DETECTORS))
    throw new PolicySpecError(`Unknown overload detector "${d}" in policy "${label}"; ${accepted}`);
  if (!(s! in SELECTIONS))
    throw new PolicySpecError(`Unknown VM selection "${s}" in policy "${label}"; ${accepted}`);
  const det = d as DetectorName;
  const param = p === undefined ? DETECTORS[det].defaultParam : Number(p);
  if (!Number.isFinite(param) || param <= 0)
    throw new PolicySpecError(`Bad parameter "${p}" in policy "${label}": expected a positive number`);
  if (det === 'thr' && param > 1)
    throw new PolicySpecError(`THR threshold must be in (0, 1], got ${param} in policy "${label}"`);
  return { type: 'migration', detector: det, selection: s as SelectionName, param, label };
}

/** Build the detector of a preset. `flavor` picks CloudSim's regression or the real LOESS. */
export function buildDetector(
  spec: { detector: DetectorName; param: number },
  flavor: RegressionFlavor,
  stepS = 300,
): OverloadDetector {
  const fallback = thresholdDetector(FALLBACK_THRESHOLD);
  switch (spec.detector) {
    case 'thr':
      return thresholdDetector(spec.param);
    case 'iqr':
      return iqrDetector(spec.param, fallback);
    case 'mad':
      return madDetector(spec.param, fallback);
    case 'lr':
      return regressionDetector(spec.param, false, flavor, fallback, stepS);
    case 'lrr':
      return regressionDetector(spec.param, true, flavor, fallback, stepS);
  }
}

/** Build the VM selection policy of a preset (MC falls back to MMT, as in CloudSim's runner). */
export function buildSelection(name: SelectionName): VmSelectionPolicy {
  switch (name) {
    case 'mmt':
      return minimumMigrationTime;
    case 'rs':
      return randomSelection;
    case 'mc':
      return maximumCorrelation(minimumMigrationTime);
    case 'mu':
      return minimumUtilization;
  }
}
