/**
 * Fit the migration models' calibration to recorded real runs, and evaluate them: per-mode errors,
 * leave-one-configuration-out cross-validation. Pure functions (the benchmark records and reads runs).
 */

/** One real migration as `npm run bench:migration` records it (bench/results/migration*.json). */
export interface RecordedRun {
  /** Benchmark mode name: stop-and-copy, precopy, postcopy, precopy+multifd-zstd. */
  mode: string;
  memMiB: number;
  /** The workload's working set and the rate the guest's dirtier was told to dirty it, MiB, MiB/s. */
  wwsMiB: number;
  dirtyMiBps: number;
  bandwidthMbps: number;
  accel: string;
  /** Non-zero 4 KiB pages of the guest's RAM counted just before the migration, MiB. */
  nonZeroMiB: number;
  /** QEMU calc-dirty-rate (page sampling under TCG) just before the migration, MiB/s. */
  dirtySampledMiBps: number;
  /** The rate the guest really dirtied from the migration's start to its first heartbeat after, MiB/s. */
  guestDirtyMiBps?: number;
  /** The machine's 1-, 5- and 15-minute load averages at the start. */
  loadAvg: number[];
  converged: boolean;
  guestOk: boolean;
  measured?: {
    totalMs: number;
    downtimeMs: number;
    bytes: number;
    rounds: number;
    modeUsed?: string;
    normalPages?: number;
    normalBytes?: number;
    zeroPages?: number;
    mbps?: number;
    setupMs?: number;
    precopyBytes?: number;
    downtimeBytes?: number;
    postcopyBytes?: number;
    multifdBytes?: number;
  };
  error?: string;
}
