/** Pure helpers behind the storage pages (images, volumes, pools): tested without a browser. */
import type { Host, StoragePool, Volume } from './api.ts';

/** Bytes as B, KiB, MiB, GiB or TiB (binary units, one decimal unless whole); `—` when unknown. */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let x = n;
  let i = 0;
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    i++;
  }
  return `${Number.isInteger(x) ? x : x.toFixed(1)} ${units[i]}`;
}

/** The first 12 hex digits of a checksum (as `docker images` shows an id); `—` for catalog images. */
export const shortSha = (sha: string | null | undefined) => (sha ? sha.slice(0, 12) : '—');

/**
 * The hosts that see a pool, by name: those that declare it, and simulated hosts of its zone
 * (every zone when the pool has none), as the control plane decides (src/control/storage/pools.ts).
 */
export function hostsSeeing(pool: Pick<StoragePool, 'name' | 'zone'>, hosts: readonly Host[]): string[] {
  return hosts
    .filter(
      (h) =>
        (h.pools ?? []).includes(pool.name) ||
        (h.driver === 'sim' && (pool.zone === null || pool.zone === h.zone)),
    )
    .map((h) => h.name)
    .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
}

/** Where a new volume comes from: empty, or a copy of an image, a volume or a snapshot. */
export type VolumeSource = 'empty' | 'image' | 'volume' | 'snapshot';

/** The create request of the volume form (trimmed; empty choices left out). */
export function volumeCreateBody(f: {
  name: string;
  sizeGiB: string;
  pool: string;
  source: VolumeSource;
  from: string;
}) {
  const from = f.from.trim();
  return {
    name: f.name.trim(),
    sizeGiB: Number(f.sizeGiB),
    ...(f.pool ? { pool: f.pool } : {}),
    ...(f.source === 'image' && from ? { fromImage: from } : {}),
    ...(f.source === 'volume' && from ? { fromVolume: from } : {}),
    ...(f.source === 'snapshot' && from ? { fromSnapshot: from } : {}),
  };
}

/** The volumes a VM has attached, by name. */
export const volumesOf = (vmId: string, volumes: readonly Volume[]) =>
  volumes.filter((v) => v.vmId === vmId).sort((a, b) => a.name.localeCompare(b.name));

/** The volumes that can be attached now: available, not attached to anything. */
export const attachable = (volumes: readonly Volume[]) =>
  volumes.filter((v) => v.state === 'available' && !v.vmId).sort((a, b) => a.name.localeCompare(b.name));

/** What the buttons of a volume may do in its state (the API refuses the rest with a 409). */
export function volumeActions(v: Pick<Volume, 'state' | 'vmId'>): ('attach' | 'detach' | 'delete')[] {
  if (v.state === 'available') return ['attach', 'delete'];
  if (v.state === 'in-use') return ['detach'];
  if (v.state === 'error') return ['delete'];
  return [];
}

/** Percent of an upload sent, 0..100 (whole numbers; 0 while the size is unknown). */
export const uploadPercent = (sent: number, total: number) =>
  total > 0 ? Math.min(100, Math.floor((sent / total) * 100)) : 0;
