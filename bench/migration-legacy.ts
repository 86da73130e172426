/**
 * FROZEN copy of the migration models and defaults as they were before the calibration file (git
 * 07a1487, src/models/migration.ts), kept only so that `npm run bench:migration` prints the "before"
 * errors on the same recorded runs. Not used anywhere else.
 *
 * Analytic live-migration models: predicted total time, downtime and bytes for stop-and-copy,
 * iterative pre-copy, post-copy and their options, from the guest's memory, dirty rate, writable
 * working set and the link. Pure functions.
 *
 * Pre-copy rounds follow Clark et al. (NSDI 2005) with the working-set bound of Akoush et al.
 * (MASCOTS 2010): round 0 sends the used memory, round i the pages dirtied during round i − 1
 * (at most the writable working set); QEMU stops when the remaining data fits the downtime limit.
 * Post-copy follows Hines & Gopalan (VEE 2009): a short pre-copy warm-up, then the guest runs on
 * the destination while the rest is pushed and faulted in.
 */

import { modelOptions, type RecordedRun } from '../src/models/migration-fit.ts';

interface MigrationHostCalibration {
  /** Highest migration stream the hosts sustain (CPU-bound under TCG), MiB/s. */
  maxStreamMiBps: number;
  /** Fixed cost of setting up and finishing a migration, ms. */
  setupMs: number;
  /** Downtime floor (device state, final sync), ms. */
  minDowntimeMs: number;
  /** Multifd zstd: bytes sent per byte of memory for typical pages, and its throughput, MiB/s. */
  zstdRatio: number;
  zstdMiBps: number;
  /** XBZRLE: bytes sent per re-sent page byte. */
  xbzrleRatio: number;
}

/** Defaults measured on this project's machines (TCG, loopback); `npm run bench:migration` refits them. */
const DEFAULT_CALIBRATION: MigrationHostCalibration = {
  maxStreamMiBps: 1400,
  setupMs: 100,
  minDowntimeMs: 5,
  zstdRatio: 0.15,
  zstdMiBps: 700,
  xbzrleRatio: 0.8,
};

/** Share of a tiny guest's RAM that holds non-zero pages (kernel, page cache, workload), measured. */
const TINY_GUEST_USED_SHARE = 0.77;

interface MigrationModelInput {
  /** Guest RAM, MiB. */
  memMiB: number;
  /** Memory with non-zero pages (what round 0 sends; zero pages are skipped), MiB. Default memMiB. */
  usedMiB?: number;
  /** Rate at which the guest dirties memory, MiB/s. */
  dirtyMiBps: number;
  /** Writable working set: how much distinct memory the dirtying touches, MiB. Default usedMiB. */
  wwsMiB?: number;
  /** Link bandwidth available to the migration, Mbit/s. */
  bandwidthMbps: number;
}

type ModelMode = 'stop-and-copy' | 'precopy' | 'postcopy';

interface MigrationModelOptions {
  mode: ModelMode;
  maxDowntimeMs?: number;
  /** Xen-style stop rules. */
  stopAfterRounds?: number;
  stopAfterRamCopies?: number;
  postcopyAfterMs?: number;
  autoConverge?: boolean;
  xbzrle?: boolean;
  multifdZstd?: boolean;
}

interface MigrationPrediction {
  converged: boolean;
  totalMs: number;
  downtimeMs: number;
  bytes: number;
  rounds: number;
  /** Why it did not converge, or what made it stop. */
  note: string;
}

const MiB = 2 ** 20;

/**
 * Predict one migration.
 * @throws RangeError for non-positive memory or bandwidth
 * @example predictMigration({ memMiB: 256, dirtyMiBps: 0, bandwidthMbps: 1000 }, { mode: 'precopy' })
 */
export function legacyPredictMigration(
  i: MigrationModelInput,
  o: MigrationModelOptions,
  cal: MigrationHostCalibration = DEFAULT_CALIBRATION,
): MigrationPrediction {
  if (!(i.memMiB > 0)) throw new RangeError(`memMiB must be > 0, got ${i.memMiB}`);
  if (!(i.bandwidthMbps > 0)) throw new RangeError(`bandwidthMbps must be > 0, got ${i.bandwidthMbps}`);
  if (!(i.dirtyMiBps >= 0)) throw new RangeError(`dirtyMiBps must be >= 0, got ${i.dirtyMiBps}`);
  const used = Math.min(i.memMiB, i.usedMiB ?? i.memMiB);
  const wws = Math.min(used, i.wwsMiB ?? used);
  // Effective stream: the link or the hosts' CPU, whichever is slower; compression changes how much
  // memory one byte on the wire carries.
  const link = (i.bandwidthMbps * 1e6) / 8 / MiB; // MiB/s on the wire
  let wireRatio = 1,
    memRate = Math.min(link, cal.maxStreamMiBps);
  if (o.multifdZstd) {
    wireRatio = cal.zstdRatio;
    memRate = Math.min(link / cal.zstdRatio, cal.zstdMiBps);
  }
  const resendRatio = o.xbzrle ? cal.xbzrleRatio : 1;
  const setupS = cal.setupMs / 1000;
  const floorS = cal.minDowntimeMs / 1000;

  if (o.mode === 'stop-and-copy') {
    const t = used / memRate;
    return {
      converged: true,
      totalMs: (setupS + t + floorS) * 1000,
      downtimeMs: (t + floorS) * 1000,
      bytes: used * wireRatio * MiB,
      rounds: 1,
      note: 'guest paused for the whole copy',
    };
  }

  if (o.mode === 'postcopy') {
    const warmS = Math.min((o.postcopyAfterMs ?? 1000) / 1000, used / memRate);
    const sentWarm = warmS * memRate;
    // Only pages dirtied after they were sent go again.
    const redirty = Math.min(i.dirtyMiBps * warmS, wws) * (sentWarm / used);
    const rest = used - sentWarm + redirty;
    const t = warmS + rest / memRate;
    return {
      converged: true,
      totalMs: (setupS + t + floorS) * 1000,
      downtimeMs: (floorS + Math.min(rest, 1) / memRate) * 1000,
      bytes: (sentWarm + rest) * wireRatio * MiB,
      rounds: 1,
      note: 'switched to post-copy after the warm-up',
    };
  }

  // Pre-copy rounds.
  const limitS = (o.maxDowntimeMs ?? 300) / 1000;
  let dirty = i.dirtyMiBps;
  let toSend = used;
  let sent = 0,
    time = 0,
    rounds = 0;
  const maxRounds = o.stopAfterRounds ?? 1000;
  const maxBytes = (o.stopAfterRamCopies ?? Infinity) * i.memMiB;
  for (;;) {
    rounds++;
    const bytes = rounds === 1 ? toSend : toSend * resendRatio;
    const t = bytes / memRate;
    sent += bytes;
    time += t;
    const next = Math.min(dirty * t, wws);
    // QEMU finishes when the remaining data can be sent within the downtime limit.
    if ((next * resendRatio) / memRate <= limitS) {
      const down = (next * resendRatio) / memRate + floorS;
      return {
        converged: true,
        totalMs: (setupS + time + down) * 1000,
        downtimeMs: down * 1000,
        bytes: (sent + next * resendRatio) * wireRatio * MiB,
        rounds: rounds + 1,
        note: 'remaining memory fit the downtime limit',
      };
    }
    if (rounds >= maxRounds || sent >= maxBytes) {
      const down = (next * resendRatio) / memRate + floorS;
      return {
        converged: true,
        totalMs: (setupS + time + down) * 1000,
        downtimeMs: down * 1000,
        bytes: (sent + next * resendRatio) * wireRatio * MiB,
        rounds: rounds + 1,
        note: rounds >= maxRounds ? 'stopped after the round limit' : 'stopped after the copy limit',
      };
    }
    if (o.autoConverge) dirty *= 0.7; // QEMU throttles the guest in 10-20 % steps; 0.7 per round is a fair average
    toSend = next;
    if (rounds >= 60) {
      return {
        converged: false,
        totalMs: Infinity,
        downtimeMs: Infinity,
        bytes: Infinity,
        rounds,
        note: `pre-copy does not converge: ${round(dirty)} MiB/s dirtied against ${round(memRate)} MiB/s sent leaves ${round(next)} MiB (${round((next / memRate) * 1000)} ms) above the ${round(limitS * 1000)} ms limit`,
      };
    }
  }
}

const round = (x: number) => Math.round(x * 10) / 10;

/** The old benchmark's prediction of a recorded run: its inputs (share of RAM, nominal dirty rate). */
export function legacyPredictRun(r: RecordedRun): MigrationPrediction {
  return legacyPredictMigration(
    {
      memMiB: r.memMiB,
      usedMiB: r.memMiB * TINY_GUEST_USED_SHARE,
      wwsMiB: r.wwsMiB,
      dirtyMiBps: r.dirtyMiBps,
      bandwidthMbps: r.bandwidthMbps,
    },
    modelOptions(r.mode),
  );
}
