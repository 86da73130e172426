/**
 * Analytic live-migration models: predicted total time, downtime and bytes for stop-and-copy,
 * iterative pre-copy, post-copy and their options, from the guest's memory, dirty rate, writable
 * working set and the link. Pure functions.
 *
 * Pre-copy rounds follow Clark et al. (NSDI 2005) with the working-set bound of Akoush et al.
 * (MASCOTS 2010): round 0 sends the used memory, round i the pages dirtied during round i − 1
 * (at most the writable working set); QEMU stops when the remaining data fits the downtime limit.
 * Post-copy follows Hines & Gopalan (VEE 2009): a short pre-copy warm-up, then the guest runs on
 * the destination while the rest is pushed and faulted in.
 *
 * Every parameter (per mode: stream, link efficiency, setup, zero-page scan, downtime floor, wire
 * ratio, TCG dirty share, load sensitivity) comes from a MigrationCalibration, by default
 * src/models/migration-calibration.json as `npm run bench:migration -- --refit` fits it to real runs.
 */

import {
  type CalibratedMode,
  DEFAULT_CALIBRATION,
  type MigrationCalibration,
} from './migration-calibration.ts';

export { DEFAULT_CALIBRATION, type MigrationCalibration };
/** @deprecated the calibration is per mode now: MigrationCalibration (src/models/migration-calibration.json). */
export type MigrationHostCalibration = MigrationCalibration;

/** Share of a tiny guest's RAM that holds non-zero pages (the calibration's nonZeroShare, measured). */
export const TINY_GUEST_USED_SHARE = DEFAULT_CALIBRATION.nonZeroShare;

export interface MigrationModelInput {
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
  /** The source host's load per CPU (1-min load average / CPUs); default the calibration's typical. */
  hostLoadPerCpu?: number;
}

export type ModelMode = 'stop-and-copy' | 'precopy' | 'postcopy';

export interface MigrationModelOptions {
  mode: ModelMode;
  maxDowntimeMs?: number;
  /** Xen-style stop rules. */
  stopAfterRounds?: number;
  stopAfterRamCopies?: number;
  postcopyAfterMs?: number;
  autoConverge?: boolean;
  xbzrle?: boolean;
  /** XBZRLE's page cache, MiB: re-sent pages found in it go as deltas (default: the whole working set). */
  xbzrleCacheMiB?: number;
  multifdZstd?: boolean;
}

export interface MigrationPrediction {
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
export function predictMigration(
  i: MigrationModelInput,
  o: MigrationModelOptions,
  cal: MigrationCalibration = DEFAULT_CALIBRATION,
): MigrationPrediction {
  if (!(i.memMiB > 0)) throw new RangeError(`memMiB must be > 0, got ${i.memMiB}`);
  if (!(i.bandwidthMbps > 0)) throw new RangeError(`bandwidthMbps must be > 0, got ${i.bandwidthMbps}`);
  if (!(i.dirtyMiBps >= 0)) throw new RangeError(`dirtyMiBps must be >= 0, got ${i.dirtyMiBps}`);
  const mc = cal.modes[calibratedMode(o)];
  const used = Math.min(i.memMiB, i.usedMiB ?? i.memMiB);
  const wws = Math.min(used, i.wwsMiB ?? used);
  // Effective stream: the capped link (as QEMU's rate limiter delivers it) or the hosts' CPU,
  // whichever is slower; compression changes how much memory one byte on the wire carries.
  const link = ((i.bandwidthMbps * 1e6) / 8 / MiB) * mc.linkEfficiency; // MiB/s on the wire
  const wireRatio = mc.wireRatio;
  // Other processes take CPU from the migration thread (TCG: the stream is CPU-bound).
  const load = Math.max(0, i.hostLoadPerCpu ?? cal.typicalLoadPerCpu);
  const memRate = Math.min(link / wireRatio, mc.streamMiBps / (1 + mc.loadSensitivity * load));
  // Under TCG the guest's vCPU and the migration thread share the CPU: the guest dirties less.
  const dirtyRate = i.dirtyMiBps * mc.dirtyShare;
  const resendRatio = o.xbzrle ? xbzrleResendRatio(wws, o.xbzrleCacheMiB, cal.xbzrleRatio) : 1;
  const setupS = mc.setupMs / 1000;
  const floorS = mc.downtimeFloorMs / 1000;
  // The first pass also reads every zero page to find it is zero (QEMU sends a flag, not the page).
  const zeroS = (i.memMiB - used) / mc.zeroScanMiBps;

  if (o.mode === 'stop-and-copy') {
    // The guest is paused from before the setup to the end: its downtime is the whole migration.
    const t = setupS + used / memRate + zeroS;
    return {
      converged: true,
      totalMs: t * 1000,
      downtimeMs: (t + floorS) * 1000,
      bytes: used * wireRatio * MiB,
      rounds: 1,
      note: 'guest paused for the whole copy',
    };
  }

  // Pre-copy's rounds: the mode itself, and post-copy's warm-up when it finishes before the switch.
  const rounds = () =>
    precopy(
      {
        used,
        wws,
        dirtyRate,
        memRate,
        capRate: o.multifdZstd ? 0 : link,
        zeroS,
        wireRatio,
        resendRatio,
        setupS,
        floorS,
        switchover: mc.switchoverShare ?? 1,
      },
      o,
      i,
      cal,
    );
  if (o.mode === 'postcopy') {
    const afterS = (o.postcopyAfterMs ?? 1000) / 1000;
    // A migration that completes within the warm-up never switches: it is a pre-copy.
    const pre = rounds();
    if (pre.converged && pre.totalMs / 1000 - setupS <= afterS)
      return { ...pre, note: `finished before the switch to post-copy: ${pre.note}` };
    const sentWarm = Math.min(afterS * memRate, used);
    // Only pages dirtied after they were sent go again.
    const redirty = Math.min(dirtyRate * afterS, wws) * (sentWarm / used);
    const rest = used - sentWarm + redirty;
    const t = afterS + zeroS + rest / memRate;
    return {
      converged: true,
      totalMs: (setupS + t) * 1000,
      downtimeMs: floorS * 1000,
      bytes: (sentWarm + rest) * wireRatio * MiB,
      rounds: 1,
      note: 'switched to post-copy after the warm-up',
    };
  }
  return rounds();
}

/**
 * Bytes sent per re-sent byte with XBZRLE (Svärd et al., VEE 2011): a re-sent page found in the
 * cache goes as a delta (`ratio` of the page), a miss goes whole; with a cache of C MiB over a
 * writable working set of W MiB, a share min(1, C / W) of re-sent pages hits (LRU over a uniform
 * dirtying).
 */
export function xbzrleResendRatio(wwsMiB: number, cacheMiB: number | undefined, ratio: number): number {
  const hit = cacheMiB === undefined || !(wwsMiB > 0) ? 1 : Math.min(1, Math.max(0, cacheMiB) / wwsMiB);
  return hit * ratio + (1 - hit);
}

/** The calibration's mode for these options (auto-converge and XBZRLE are pre-copy's). */
export function calibratedMode(o: MigrationModelOptions): CalibratedMode {
  if (o.mode === 'stop-and-copy' || o.mode === 'postcopy') return o.mode;
  return o.multifdZstd ? 'precopy+multifd-zstd' : 'precopy';
}

/** Pre-copy rounds (Clark et al.): round 0 sends the used memory, round i what round i − 1 let dirty. */
interface Stream {
  used: number;
  wws: number;
  dirtyRate: number;
  /** Memory moved per second, and what QEMU expects before measuring (the cap; 0: no such rule), MiB/s. */
  memRate: number;
  capRate: number;
  /** Time the first pass spends scanning zero pages, s. */
  zeroS: number;
  wireRatio: number;
  resendRatio: number;
  setupS: number;
  floorS: number;
  /** Share of the last round's remainder still dirty when QEMU switches over (ModeCalibration). */
  switchover: number;
}

function precopy(
  {
    used,
    wws,
    dirtyRate,
    memRate,
    capRate,
    zeroS,
    wireRatio,
    resendRatio,
    setupS,
    floorS,
    switchover,
  }: Stream,
  o: MigrationModelOptions,
  i: MigrationModelInput,
  cal: MigrationCalibration,
): MigrationPrediction {
  const limitS = (o.maxDowntimeMs ?? 300) / 1000;
  // Before its first measurement QEMU expects the bandwidth cap, and counts every page of the RAM
  // as pending (zero or not): when all of it fits the limit at that rate (fast links), it stops the
  // guest at once and copies everything in the downtime (seen on 10 Gbit/s; not with multifd).
  if (i.memMiB / capRate <= limitS) {
    const down = used / memRate + zeroS + floorS;
    return {
      converged: true,
      totalMs: (setupS + down) * 1000,
      downtimeMs: down * 1000,
      bytes: used * wireRatio * MiB,
      rounds: 1,
      note: 'all memory fit the downtime limit at the capped rate: copied with the guest paused',
    };
  }
  let dirty = dirtyRate;
  let toSend = used;
  let sent = 0,
    time = 0,
    rounds = 0;
  const maxRounds = o.stopAfterRounds ?? 1000;
  const maxBytes = (o.stopAfterRamCopies ?? Infinity) * i.memMiB;
  let highRounds = 0;
  for (;;) {
    rounds++;
    const bytes = rounds === 1 ? toSend : toSend * resendRatio;
    const t = bytes / memRate + (rounds === 1 ? zeroS : 0);
    sent += bytes;
    time += t;
    const next = Math.min(dirty * t, wws);
    const stop =
      // QEMU finishes when the remaining data can be sent within the downtime limit.
      (next * resendRatio) / memRate <= limitS
        ? 'remaining memory fit the downtime limit'
        : rounds >= maxRounds
          ? 'stopped after the round limit'
          : sent >= maxBytes
            ? 'stopped after the copy limit'
            : undefined;
    if (stop) {
      // QEMU re-syncs the dirty bitmap as soon as a round's remainder fits the limit, so what is
      // left when it stops is a share of what a full round would leave (fitted: switchoverShare).
      const down = (switchover * next * resendRatio) / memRate + floorS;
      return {
        converged: true,
        totalMs: (setupS + time + down) * 1000,
        downtimeMs: down * 1000,
        bytes: (sent + next * resendRatio) * wireRatio * MiB,
        rounds: rounds + 1,
        note: stop,
      };
    }
    // QEMU's auto-converge (migration/ram.c, migration_trigger_throttle) throttles the guest only
    // after two syncs in which it dirtied more than half of what was sent (throttle-trigger-threshold
    // 50 %); each trigger throttles it a step more.
    if (o.autoConverge && next > 0.5 * bytes && ++highRounds >= 2) {
      highRounds = 0;
      dirty *= cal.autoConvergeFactor;
    }
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

export interface MigrationPlanInput extends MigrationModelInput {
  /** Downtime the guest can tolerate, ms. */
  downtimeTargetMs: number;
  /** Longest acceptable migration, ms. */
  maxTotalMs?: number;
  allowPostcopy?: boolean;
  allowAutoConverge?: boolean;
  allowCompression?: boolean;
}

export interface MigrationPlan {
  ok: boolean;
  options?: MigrationModelOptions;
  predicted?: MigrationPrediction;
  /** Why these settings, or why it was refused. */
  reason: string;
}

/**
 * Choose a migration's mode and settings before it starts so that it finishes within the downtime
 * target (nubis's planning-to-converge; other systems react with timeouts). Tries, in order of
 * least intrusive first: plain pre-copy, pre-copy with multifd zstd, with auto-converge, post-copy;
 * refuses with the reason when none fits.
 */
export function planMigration(
  p: MigrationPlanInput,
  cal: MigrationCalibration = DEFAULT_CALIBRATION,
): MigrationPlan {
  const maxTotal = p.maxTotalMs ?? Infinity;
  const candidates: [MigrationModelOptions, string][] = [
    [{ mode: 'precopy', maxDowntimeMs: p.downtimeTargetMs }, 'pre-copy converges within the downtime target'],
  ];
  if (p.allowCompression !== false)
    candidates.push([
      { mode: 'precopy', maxDowntimeMs: p.downtimeTargetMs, multifdZstd: true },
      'pre-copy converges only with multifd zstd compression',
    ]);
  if (p.allowAutoConverge !== false)
    candidates.push([
      { mode: 'precopy', maxDowntimeMs: p.downtimeTargetMs, autoConverge: true },
      'pre-copy converges only with auto-converge (the guest is throttled)',
    ]);
  if (p.allowPostcopy !== false)
    candidates.push([
      { mode: 'postcopy', postcopyAfterMs: 1000 },
      'pre-copy cannot converge: post-copy after a 1-s warm-up',
    ]);
  const reasons: string[] = [];
  for (const [options, why] of candidates) {
    const r = predictMigration(p, options, cal);
    if (r.converged && r.downtimeMs <= p.downtimeTargetMs && r.totalMs <= maxTotal)
      return { ok: true, options, predicted: r, reason: why };
    reasons.push(
      `${describe(options)}: ${r.converged ? `${Math.round(r.downtimeMs)} ms downtime, ${Math.round(r.totalMs)} ms total` : r.note}`,
    );
  }
  return {
    ok: false,
    reason: `No setting meets ${p.downtimeTargetMs} ms downtime${Number.isFinite(maxTotal) ? ` within ${maxTotal} ms` : ''}: ${reasons.join('; ')}`,
  };
}

function describe(o: MigrationModelOptions): string {
  return [
    o.mode,
    o.multifdZstd ? 'multifd zstd' : '',
    o.autoConverge ? 'auto-converge' : '',
    o.xbzrle ? 'xbzrle' : '',
  ]
    .filter(Boolean)
    .join(' + ');
}
