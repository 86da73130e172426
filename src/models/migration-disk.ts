/**
 * Analytic model of a live migration with local disks (block migration): a mirror phase, then the
 * memory phase of src/models/migration.ts. The mirror's first pass copies the disk (allocated bytes at
 * the stream rate, unallocated ranges as cheap zero writes); the guest's writes during a pass are sent
 * in the next one, converging like memory pre-copy (Clark et al., NSDI 2005) until the job is READY
 * (QEMU's mirror then copies each new write as it happens); the memory then moves while the disk
 * writes keep taking their share of the link. Pure functions.
 */
import {
  DEFAULT_CALIBRATION,
  type MigrationHostCalibration,
  type MigrationModelInput,
  type MigrationModelOptions,
  type MigrationPrediction,
  predictMigration,
} from './migration.ts';

export interface BlockMigrationCalibration {
  /** Highest mirror throughput for allocated data (QEMU's I/O and NBD on these hosts), MiB/s. */
  maxMirrorMiBps: number;
  /** Throughput over unallocated (sparse) ranges, written as zeroes, MiB/s. */
  zeroMiBps: number;
  /** Fixed cost of the NBD server, the exports and the jobs, ms. */
  mirrorSetupMs: number;
}

/** Defaults measured on this project's machine (TCG, loopback; test/migration-block-qemu.test.ts). */
export const DEFAULT_BLOCK_CALIBRATION: BlockMigrationCalibration = {
  maxMirrorMiBps: 900,
  zeroMiBps: 10_000,
  mirrorSetupMs: 50,
};

export interface BlockMigrationInput extends MigrationModelInput {
  /** Virtual size of the mirrored disks, bytes (0: shared storage, only memory moves). */
  diskBytes: number;
  /** Bytes the disks hold (allocated); default diskBytes. */
  allocatedBytes?: number;
  /** Rate at which the guest writes to its disks, MiB/s. */
  writeMiBps: number;
}

export interface BlockMigrationPrediction {
  converged: boolean;
  /** Mirror phase until every job is READY, ms (0 when no disk moves). */
  mirrorMs: number;
  totalMs: number;
  downtimeMs: number;
  /** Bytes the disks sent (first pass and re-sent writes) and all bytes (disks and memory). */
  diskBytes: number;
  bytes: number;
  memory: MigrationPrediction;
  note: string;
}

const MiB = 2 ** 20;
/** Mirror passes before a model gives up on convergence (QEMU would keep mirroring for ever). */
const MAX_PASSES = 30;

/**
 * Predict a migration with disks: mirror phase then memory phase (options as for predictMigration).
 * @throws RangeError for negative sizes or rates, or those predictMigration refuses
 * @example predictBlockMigration({ memMiB: 256, dirtyMiBps: 0, bandwidthMbps: 1000, diskBytes: 2 ** 30, writeMiBps: 1 }, { mode: 'precopy' })
 */
export function predictBlockMigration(
  i: BlockMigrationInput,
  o: MigrationModelOptions,
  cal: BlockMigrationCalibration = DEFAULT_BLOCK_CALIBRATION,
  memCal: MigrationHostCalibration = DEFAULT_CALIBRATION,
): BlockMigrationPrediction {
  if (!(i.diskBytes >= 0)) throw new RangeError(`diskBytes must be >= 0, got ${i.diskBytes}`);
  if (!(i.writeMiBps >= 0)) throw new RangeError(`writeMiBps must be >= 0, got ${i.writeMiBps}`);
  if (!(i.bandwidthMbps > 0)) throw new RangeError(`bandwidthMbps must be > 0, got ${i.bandwidthMbps}`);
  const disk = i.diskBytes / MiB;
  if (disk === 0) {
    const m = predictMigration(i, o, memCal);
    return { ...m, mirrorMs: 0, diskBytes: 0, memory: m, note: `shared disks; ${m.note}` };
  }
  const alloc = Math.min(disk, (i.allocatedBytes ?? i.diskBytes) / MiB);
  const rate = Math.min((i.bandwidthMbps * 1e6) / 8 / MiB, cal.maxMirrorMiBps);
  // Pass 0: the allocated data at the stream rate, the sparse rest as zero writes.
  let passS = alloc / rate + (disk - alloc) / cal.zeroMiBps;
  let mirrorS = passS,
    sent = alloc,
    converged = true,
    note = '';
  // Later passes: what the guest wrote meanwhile (bounded by the allocated data plus new blocks).
  for (let p = 1; ; p++) {
    const dirty = Math.min(disk, i.writeMiBps * passS);
    if (dirty * MiB < 4096) break; // nothing left but the last block: READY
    if (i.writeMiBps >= rate || p >= MAX_PASSES) {
      converged = false;
      note = `the guest writes ${i.writeMiBps} MiB/s, the mirror sends ${rate.toFixed(0)} MiB/s: it never catches up`;
      break;
    }
    passS = dirty / rate;
    mirrorS += passS;
    sent += dirty;
  }
  // Memory phase: the link minus what the guest's writes take while they are mirrored.
  const left = Math.max(1e-3, i.bandwidthMbps - (i.writeMiBps * MiB * 8) / 1e6);
  const m = predictMigration({ ...i, bandwidthMbps: left }, o, memCal);
  const memS = m.totalMs / 1000;
  // Writes go on while the memory moves (for ever when the memory never converges).
  const duringMem = i.writeMiBps > 0 ? i.writeMiBps * memS : 0;
  const mirrorMs = (cal.mirrorSetupMs / 1000 + mirrorS) * 1000;
  return {
    converged: converged && m.converged,
    mirrorMs,
    totalMs: mirrorMs + m.totalMs,
    downtimeMs: m.downtimeMs,
    diskBytes: (sent + duringMem) * MiB,
    bytes: (sent + duringMem) * MiB + m.bytes,
    memory: m,
    note: note || `mirror READY after ${(mirrorS * 1000).toFixed(0)} ms; ${m.note}`,
  };
}
