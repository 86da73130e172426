/**
 * A workload: one CPU-utilization trace per VM, integer percent samples at a fixed interval
 * (the PlanetLab format). Stored flat (VM-major) in a Uint8Array: 289 bytes per VM-day.
 */
export interface Workload {
  /** Where it came from (a trace folder, or "synthetic:seed"). */
  source: string;
  /** VM names (trace file names), index = VM id. */
  names: string[];
  /** Samples per VM. */
  samplesPerVm: number;
  /** Seconds between samples. */
  sampleIntervalS: number;
  /** Percent 0..100, VM-major: samples[v * samplesPerVm + k]. */
  samples: Uint8Array;
}

/**
 * CPU utilization (fraction) of VM v at time tS, computed as CloudSim's
 * `UtilizationModelPlanetLabInMemory#getUtilization` (linear interpolation; the sample after the
 * last repeats the last), operation for operation.
 */
export function utilizationAt(w: Workload, v: number, tS: number): number {
  const n = w.samplesPerVm;
  const base = v * n;
  const iv = w.sampleIntervalS;
  const s = w.samples;
  if (tS % iv === 0) {
    const k = Math.trunc(tS) / Math.trunc(iv);
    return s[base + (k >= n ? n - 1 : k)]! / 100;
  }
  const t1 = Math.floor(tS / iv);
  const t2 = Math.ceil(tS / iv);
  const u1 = s[base + (t1 >= n ? n - 1 : t1)]! / 100;
  const u2 = s[base + (t2 >= n ? n - 1 : t2)]! / 100;
  const delta = (u2 - u1) / ((t2 - t1) * iv);
  return u1 + delta * (tS - t1 * iv);
}
