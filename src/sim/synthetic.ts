/**
 * Seeded synthetic CPU traces in the PlanetLab format, so a user can simulate tens of thousands of
 * hosts without trace files. Each VM gets a base level from a log-normal mix fitted to the
 * PlanetLab day statistics (median ≈ 5 %, mean ≈ 11 %), a diurnal sine with a random phase, an
 * AR(1) noise term, and occasional bursts.
 */
import type { Random } from '../runtime/random.ts';
import type { Workload } from './workload.ts';

export interface SyntheticOptions {
  vms: number;
  samples?: number;
  sampleIntervalS?: number;
  /** Median base utilization, percent. */
  medianPercent?: number;
}

function normal(r: Random): number {
  // Box–Muller
  const u = 1 - r.next();
  const v = r.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Generate a workload; the same seed gives the same bytes. */
export function syntheticWorkload(o: SyntheticOptions, random: Random, seedLabel: string | number): Workload {
  const samples = o.samples ?? 288;
  const n = samples + 1;
  const out = new Uint8Array(o.vms * n);
  const med = o.medianPercent ?? 5;
  for (let v = 0; v < o.vms; v++) {
    const base = Math.min(90, med * Math.exp(1.1 * normal(random)));
    const amp = base * (0.2 + 0.6 * random.next());
    const phase = random.next() * 2 * Math.PI;
    const burstRate = 0.01 + 0.03 * random.next();
    let ar = 0;
    let burst = 0;
    for (let k = 0; k < samples; k++) {
      ar = 0.8 * ar + 0.6 * normal(random) * Math.max(1, base * 0.3);
      if (burst > 0) burst--;
      else if (random.next() < burstRate) burst = 1 + random.int(6);
      let x =
        base +
        amp * Math.sin((2 * Math.PI * k) / samples + phase) +
        ar +
        (burst > 0 ? 30 + 40 * random.next() : 0);
      x = Math.round(x);
      out[v * n + k] = x < 0 ? 0 : x > 99 ? 99 : x;
    }
    out[v * n + samples] = out[v * n + samples - 1]!;
  }
  return {
    source: `synthetic:${seedLabel}`,
    names: Array.from({ length: o.vms }, (_, i) => `synthetic-${i}`),
    samplesPerVm: n,
    sampleIntervalS: o.sampleIntervalS ?? 300,
    samples: out,
  };
}

/**
 * Load of a simulated VM at time tS for `nubis serve`'s demo hosts: a level fixed by the VM's id
 * (5–60 %), a daily sine with a phase from the id, and a 5-minute wobble. Pure and repeatable.
 */
export function demoUtilization(id: string, tS: number): number {
  let h = 2166136261;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619) >>> 0; // FNV-1a
  const base = 0.05 + ((h % 1000) / 1000) * 0.55;
  const phase = (((h >>> 10) % 1000) / 1000) * 2 * Math.PI;
  const u =
    base +
    0.15 * Math.sin((2 * Math.PI * tS) / 86400 + phase) +
    0.05 * Math.sin((2 * Math.PI * tS) / 300 + phase * 3);
  return Math.min(1, Math.max(0, u));
}
