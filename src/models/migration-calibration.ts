/**
 * The live-migration models' calibration: the parameters of src/models/migration.ts per migration
 * mode, fitted to real runs by `npm run bench:migration -- --refit` and kept in ONE file,
 * src/models/migration-calibration.json, that the simulator, the planners (agent, control plane) and the
 * benchmark all read through DEFAULT_CALIBRATION. Validation of any calibration object is here.
 */
import file from './migration-calibration.json' with { type: 'json' };

/** The modes the calibration has parameters for (auto-converge and XBZRLE use pre-copy's). */
export const CALIBRATED_MODES = ['stop-and-copy', 'precopy', 'postcopy', 'precopy+multifd-zstd'] as const;
export type CalibratedMode = (typeof CALIBRATED_MODES)[number];

/** Parameters of one migration mode. */
export interface ModeCalibration {
  /** Memory the hosts move per second when the link is not the limit (CPU-bound under TCG), MiB/s. */
  streamMiBps: number;
  /** Share of a capped link the stream really reaches (QEMU's rate limiter, protocol overhead). */
  linkEfficiency: number;
  /**
   * How the machine's other load slows the stream (CPU-bound under TCG): the stream is
   * streamMiBps / (1 + loadSensitivity × load per CPU); streamMiBps is then the rate on an idle host.
   */
  loadSensitivity: number;
  /** Rate the first pass scans zero pages at (read, found zero, a flag sent), MiB/s. */
  zeroScanMiBps: number;
  /** Fixed cost: QEMU's setup, the first dirty-bitmap sync, the completion, ms. */
  setupMs: number;
  /** Downtime floor: device state, the last sync, the switch-over, ms. */
  downtimeFloorMs: number;
  /** Bytes on the wire per byte of non-zero memory (1 without compression). */
  wireRatio: number;
  /**
   * CPU contention under TCG: the share of its dirty rate the guest keeps while the migration
   * thread runs (1: no contention; KVM hosts with spare cores are close to 1).
   */
  dirtyShare: number;
  /**
   * Pre-copy: share of the last round's remainder QEMU still copies in the downtime (it re-syncs as
   * soon as a round's remainder fits the limit, before the round ends); default 1.
   */
  switchoverShare?: number;
}

/** The whole calibration (the file's content). */
export interface MigrationCalibration {
  /** What the file is, for a reader; not used by the models. */
  about?: string;
  /** Where and how it was fitted. */
  fitted?: { date: string; from: string; runs: number; method: string; accel: string };
  /** Share of the RAM holding non-zero pages, for callers that do not know a guest's real count. */
  nonZeroShare: number;
  /** Host load per CPU (1-min load average / CPUs) assumed when a caller does not give one. */
  typicalLoadPerCpu: number;
  /** True dirty rate / QEMU calc-dirty-rate page-sampling reading (1 for dirty-ring). */
  dirtySampleGain: number;
  /** XBZRLE: bytes sent per re-sent page byte. */
  xbzrleRatio: number;
  /** Auto-converge: factor on the dirty rate per round (QEMU throttles in 20 % then 10 % steps). */
  autoConvergeFactor: number;
  modes: Record<CalibratedMode, ModeCalibration>;
}

const MODE_FIELDS: [keyof ModeCalibration, number, number][] = [
  ['streamMiBps', 0.1, 1e6],
  ['linkEfficiency', 0.05, 4],
  ['zeroScanMiBps', 1, 1e7],
  ['loadSensitivity', 0, 100],
  ['setupMs', 0, 600_000],
  ['downtimeFloorMs', 0, 600_000],
  ['wireRatio', 0.001, 2],
  ['dirtyShare', 0, 1],
];
const OPTIONAL_MODE_FIELDS: [keyof ModeCalibration, number, number][] = [['switchoverShare', 0, 1]];
const TOP_FIELDS: [keyof MigrationCalibration, number, number][] = [
  ['nonZeroShare', 0, 1],
  ['typicalLoadPerCpu', 0, 1000],
  ['dirtySampleGain', 0.01, 100],
  ['xbzrleRatio', 0.001, 2],
  ['autoConvergeFactor', 0.01, 1],
];

/** A calibration that fails validation; the message names every bad field. */
export class CalibrationError extends Error {
  readonly code = 'BAD_CALIBRATION';
}

/**
 * Validate a calibration read from outside (a file, a request).
 * @throws CalibrationError naming every missing, non-numeric or out-of-range field
 */
export function checkMigrationCalibration(
  x: unknown,
  source = 'migration calibration',
): MigrationCalibration {
  const errs: string[] = [];
  const num = (o: Record<string, unknown>, k: string, lo: number, hi: number, at: string) => {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) errs.push(`${at}${k} must be a number, got ${show(v)}`);
    else if (v < lo || v > hi) errs.push(`${at}${k} must be in ${lo}..${hi}, got ${v}`);
  };
  if (typeof x !== 'object' || x === null || Array.isArray(x))
    throw new CalibrationError(`Bad ${source}: expected an object, got ${show(x)}`);
  const o = x as Record<string, unknown>;
  for (const [k, lo, hi] of TOP_FIELDS) num(o, k, lo, hi, '');
  const modes = o.modes;
  if (typeof modes !== 'object' || modes === null) errs.push(`modes must be an object, got ${show(modes)}`);
  else
    for (const m of CALIBRATED_MODES) {
      const mc = (modes as Record<string, unknown>)[m];
      if (typeof mc !== 'object' || mc === null) errs.push(`modes["${m}"] is missing`);
      else {
        for (const [k, lo, hi] of MODE_FIELDS)
          num(mc as Record<string, unknown>, k, lo, hi, `modes["${m}"].`);
        for (const [k, lo, hi] of OPTIONAL_MODE_FIELDS)
          if ((mc as Record<string, unknown>)[k] !== undefined)
            num(mc as Record<string, unknown>, k, lo, hi, `modes["${m}"].`);
      }
    }
  if (errs.length) throw new CalibrationError(`Bad ${source}: ${errs.join('; ')}`);
  return x as MigrationCalibration;
}

const show = (v: unknown) => JSON.stringify(v)?.slice(0, 40) ?? String(v);

/** The calibration in src/models/migration-calibration.json (validated when this module loads). */
export const DEFAULT_CALIBRATION: MigrationCalibration = checkMigrationCalibration(
  file,
  'src/models/migration-calibration.json',
);

/**
 * A calibration with the same parameters in every mode (tests, what-if figures): `zstdRatio` and
 * `zstdMiBps` set the multifd-zstd mode's wire ratio and stream; no TCG contention.
 */
export function uniformCalibration(p: {
  streamMiBps: number;
  setupMs?: number;
  downtimeFloorMs?: number;
  zstdRatio?: number;
  zstdMiBps?: number;
  xbzrleRatio?: number;
  dirtySampleGain?: number;
}): MigrationCalibration {
  const m: ModeCalibration = {
    streamMiBps: p.streamMiBps,
    linkEfficiency: 1,
    zeroScanMiBps: 1e7,
    loadSensitivity: 0,
    setupMs: p.setupMs ?? 0,
    downtimeFloorMs: p.downtimeFloorMs ?? 0,
    wireRatio: 1,
    dirtyShare: 1,
  };
  return {
    nonZeroShare: 1,
    typicalLoadPerCpu: 0,
    dirtySampleGain: p.dirtySampleGain ?? 1,
    xbzrleRatio: p.xbzrleRatio ?? 1,
    autoConvergeFactor: 0.7,
    modes: {
      'stop-and-copy': m,
      precopy: m,
      postcopy: m,
      'precopy+multifd-zstd': {
        ...m,
        wireRatio: p.zstdRatio ?? 1,
        streamMiBps: p.zstdMiBps ?? p.streamMiBps,
      },
    },
  };
}
