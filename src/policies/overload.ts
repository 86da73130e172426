/**
 * Host overload detectors of Beloglazov & Buyya (CCPE 2012, §6): static threshold (THR),
 * interquartile range (IQR), median absolute deviation (MAD), local regression (LR) and robust
 * local regression (LRR). Pure functions of a host's load view.
 */
import {
  cloudsimLoessEstimates,
  cloudsimRobustLoessEstimates,
  iqrCloudsim,
  loessLine,
  mad,
} from '../core/stats.ts';

/** What a detector may look at. `history()` is newest first, trailing zeros trimmed (CloudSim's rule). */
export interface HostLoadView {
  /** Host total MIPS. */
  capacityMips: number;
  /** Sum of the current CPU requests of the VMs on the host, MIPS (uncapped). */
  requestedMips: number;
  /** Host CPU utilization history, newest first, as fractions of capacity. */
  history(): Float64Array;
  /** Largest RAM among the host's VMs, MiB (for the LR migration-time horizon). */
  maxVmRamMiB: number;
  /** Host network bandwidth, Mbit/s. */
  bandwidthMbps: number;
}

/** Returns true when the host is overloaded. */
export type OverloadDetector = (host: HostLoadView) => boolean;

/** How LR/LRR fit their line: CloudSim's (plain OLS, quirk Q5) or the real tricube LOESS. */
export type RegressionFlavor = 'cloudsim' | 'loess';

/** THR: overloaded when utilization > threshold. */
export function thresholdDetector(threshold: number): OverloadDetector {
  return (h) => h.requestedMips / h.capacityMips > threshold;
}

function spreadDetector(
  safety: number,
  spread: (d: Float64Array) => number,
  minHistory: number,
  fallback: OverloadDetector,
): OverloadDetector {
  return (h) => {
    const hist = h.history();
    if (hist.length < minHistory) return fallback(h);
    const upper = 1 - safety * spread(hist);
    return h.requestedMips / h.capacityMips > upper;
  };
}

/** IQR: overloaded when utilization > 1 − s·IQR(history); fewer than 12 values → fallback. */
export function iqrDetector(safety: number, fallback: OverloadDetector): OverloadDetector {
  return spreadDetector(safety, iqrCloudsim, 12, fallback);
}

/** MAD: overloaded when utilization > 1 − s·MAD(history); fewer than 12 values → fallback. */
export function madDetector(safety: number, fallback: OverloadDetector): OverloadDetector {
  return spreadDetector(safety, mad, 12, fallback);
}

/** Window length of LR/LRR (the 10 newest history values). */
export const LR_WINDOW = 10;

/**
 * LR / LRR: fit a line to the 10 newest utilization values and predict one migration-time horizon
 * ahead; overloaded when s · prediction ≥ 1. Fewer than 10 values → fallback.
 * @param migrationBandwidthShare share of the host link used by migrations (CloudSim: 0.5)
 */
export function regressionDetector(
  safety: number,
  robust: boolean,
  flavor: RegressionFlavor,
  fallback: OverloadDetector,
  stepS = 300,
  migrationBandwidthShare = 0.5,
): OverloadDetector {
  const y = new Float64Array(LR_WINDOW);
  return (h) => {
    const hist = h.history();
    if (hist.length < LR_WINDOW) return fallback(h);
    for (let i = 0; i < LR_WINDOW; i++) y[i] = hist[LR_WINDOW - i - 1]!;
    let est: [number, number];
    try {
      if (flavor === 'cloudsim') est = robust ? cloudsimRobustLoessEstimates(y) : cloudsimLoessEstimates(y);
      else est = loessLine(y, robust ? 2 : 0);
    } catch {
      return fallback(h);
    }
    // CloudSim: RAM (MB) / (BW kbit/s / (2·8000)); with BW in Mbit/s and share 0.5 that is RAM·8/(BW·0.5).
    const migrationTimeS = h.maxVmRamMiB / ((h.bandwidthMbps * 1000) / (8000 / migrationBandwidthShare));
    const intervals = Math.ceil(migrationTimeS / stepS);
    const predicted = (est[0] + est[1] * (LR_WINDOW + intervals)) * safety;
    return predicted >= 1;
  };
}
