/**
 * A guest's memory as its host measured it: what it occupies, what it uses, and what it holds (a page
 * fingerprint). Agents report profiles; the control plane and the simulator place and overcommit from
 * them. Pure.
 */
import { checkFingerprint, type PageFingerprint } from './fingerprint.ts';

export interface GuestMemoryProfile {
  /** When it was measured, ISO 8601. */
  at: string;
  /** Configured memory, MiB. */
  memoryMiB: number;
  /** Guest memory resident in host RAM (pages present in the hypervisor process), MiB. */
  residentMiB: number;
  /** Memory the guest itself uses (total − available, its balloon statistics), MiB. */
  workingSetMiB: number;
  /** Whether the host may merge this guest's pages with others' (QEMU mem-merge; KSM). */
  mergeable: boolean;
  /** The guest's pages' content, sampled; absent when the host could not scan it. */
  fingerprint?: PageFingerprint;
  /** CPU time the scan took on the host, ms. */
  scanCpuMs?: number;
}

/**
 * Problems with a profile received from outside; empty when valid.
 * @example checkMemoryProfile(JSON.parse(body)) // [] or ['workingSetMiB must be ...']
 */
export function checkMemoryProfile(x: unknown): string[] {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return ['memory profile must be an object'];
  const p = x as Record<string, unknown>;
  const e: string[] = [];
  const mib = (k: string) => {
    const v = p[k];
    if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 2 ** 30))
      e.push(`${k} must be a number of MiB from 0 to 2^30`);
  };
  if (typeof p.at !== 'string' || Number.isNaN(Date.parse(p.at)) || p.at.length > 40)
    e.push('at must be an ISO 8601 time');
  mib('memoryMiB');
  mib('residentMiB');
  mib('workingSetMiB');
  if (typeof p.mergeable !== 'boolean') e.push('mergeable must be true or false');
  if (p.scanCpuMs !== undefined && !(typeof p.scanCpuMs === 'number' && p.scanCpuMs >= 0))
    e.push('scanCpuMs must be a number ≥ 0');
  if (p.fingerprint !== undefined) e.push(...checkFingerprint(p.fingerprint).map((m) => `fingerprint: ${m}`));
  return e;
}
