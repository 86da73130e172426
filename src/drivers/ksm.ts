/**
 * Kernel same-page merging (KSM) on this host, through /sys/kernel/mm/ksm (Linux
 * Documentation/admin-guide/mm/ksm.rst). QEMU marks guest RAM mergeable unless a guest runs with
 * `mem-merge=off` (how nubis keeps opted-out tenants' pages apart).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface KsmState {
  available: boolean;
  run: boolean;
  pagesShared: number;
  pagesSharing: number;
  pagesToScan: number;
  sleepMs: number;
  /** Memory saved by sharing: pages_sharing × page size, MiB. */
  savedMiB: number;
}

export const KSM_DIR = '/sys/kernel/mm/ksm';

function num(dir: string, f: string): number {
  return Number(readFileSync(join(dir, f), 'utf8').trim());
}

/** Read KSM's state and savings. */
export function readKsm(dir = KSM_DIR): KsmState {
  try {
    const sharing = num(dir, 'pages_sharing');
    return {
      available: true,
      run: num(dir, 'run') === 1,
      pagesShared: num(dir, 'pages_shared'),
      pagesSharing: sharing,
      pagesToScan: num(dir, 'pages_to_scan'),
      sleepMs: num(dir, 'sleep_millisecs'),
      savedMiB: (sharing * 4096) / 2 ** 20,
    };
  } catch {
    return {
      available: false,
      run: false,
      pagesShared: 0,
      pagesSharing: 0,
      pagesToScan: 0,
      sleepMs: 0,
      savedMiB: 0,
    };
  }
}

/** Turn KSM on or off and optionally set its scan speed (root only). */
export function setKsm(
  run: boolean,
  o: { pagesToScan?: number; sleepMs?: number } = {},
  dir = KSM_DIR,
): void {
  if (o.pagesToScan !== undefined) writeFileSync(join(dir, 'pages_to_scan'), String(o.pagesToScan));
  if (o.sleepMs !== undefined) writeFileSync(join(dir, 'sleep_millisecs'), String(o.sleepMs));
  writeFileSync(join(dir, 'run'), run ? '1' : '0');
}

/** Host memory from /proc/meminfo, MiB (free = MemAvailable). */
export function hostMemory(): { totalMiB: number; freeMiB: number } {
  const t = readFileSync('/proc/meminfo', 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(t)?.[1] ?? 0);
  return { totalMiB: kb('MemTotal') / 1024, freeMiB: kb('MemAvailable') / 1024 };
}
