/**
 * Live migration with local disks (block migration): the disks are mirrored to the destination
 * first, while the guest keeps writing, then memory moves as in `predictMigration`. The mirror is a
 * pre-copy of disk blocks: a bulk pass, then the blocks written meanwhile, until what is left is
 * copied at the switchover (Bradford et al., "Live wide-area migration of virtual machines including
 * local persistent state", VEE 2007; QEMU's drive-mirror works the same way).
 *
 * Pure: no I/O.
 */
import {
  DEFAULT_CALIBRATION,
  predictMigration,
  type MigrationHostCalibration,
  type MigrationModelInput,
  type MigrationModelOptions,
  type MigrationPrediction,
} from './migration.ts';

const MiB = 2 ** 20;

/** A migration's input with the disks that must be mirrored. */
export interface DiskMigrationInput extends MigrationModelInput {
  /** Bytes of local disk to mirror (the space the disks use; 0 or absent: shared storage only), MiB. */
  diskMiB?: number;
  /** Rate at which the guest writes to those disks during the mirror, MiB/s. */
  diskWriteMiBps?: number;
}

/** The prediction, with the disk phase on its own. */
export interface DiskMigrationPrediction extends MigrationPrediction {
  /** Time spent mirroring disks before memory moves, ms (0 without local disks). */
  diskMs: number;
  /** Bytes the mirror sent. */
  diskBytes: number;
}

/**
 * Predict a migration that first mirrors `diskMiB` of local disk. With a stream of s MiB/s and
 * writes of w MiB/s the mirror sends D·s/(s−w) MiB in D/(s−w) s (the sum of the pre-copy series
 * D, D·w/s, D·(w/s)², ...); it does not converge when w ≥ s. Without disks it is `predictMigration`.
 */
export function predictDiskMigration(
  i: DiskMigrationInput,
  o: MigrationModelOptions,
  cal: MigrationHostCalibration = DEFAULT_CALIBRATION,
): DiskMigrationPrediction {
  const mem = predictMigration(i, o, cal);
  const disk = i.diskMiB ?? 0;
  if (!(disk >= 0)) throw new RangeError(`diskMiB must be >= 0, got ${i.diskMiB}`);
  const w = i.diskWriteMiBps ?? 0;
  if (!(w >= 0)) throw new RangeError(`diskWriteMiBps must be >= 0, got ${i.diskWriteMiBps}`);
  if (disk === 0) return { ...mem, diskMs: 0, diskBytes: 0 };
  const s = Math.min((i.bandwidthMbps * 1e6) / 8 / MiB, cal.maxStreamMiBps);
  if (w >= s)
    return {
      ...mem,
      converged: false,
      diskMs: Infinity,
      diskBytes: Infinity,
      totalMs: Infinity,
      bytes: Infinity,
      note: `disk writes (${w.toFixed(1)} MiB/s) outpace the mirror stream (${s.toFixed(1)} MiB/s)`,
    };
  const diskS = disk / (s - w);
  const diskBytes = ((disk * s) / (s - w)) * MiB;
  return {
    ...mem,
    diskMs: diskS * 1000,
    diskBytes,
    totalMs: mem.totalMs + diskS * 1000,
    bytes: mem.bytes + diskBytes,
    note: `${mem.note}; mirrored ${disk.toFixed(0)} MiB of disk first`,
  };
}
