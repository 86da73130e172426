/**
 * The storage contract between the control plane and a host: images a host fetches and caches by
 * checksum, volumes that live in storage pools, and the disks a guest has. The control plane decides
 * (which pool, which host, whether a migration must mirror disks); hosts carry it out through the
 * `HostDriver` storage methods. Simulated hosts keep it as data; real hosts use qcow2 files in pool
 * folders, QMP hot-plug and NBD mirroring.
 *
 * Pure types and helpers: no I/O.
 */

/** A storage pool: `local` (a folder on each host, seen by that host only) or `shared` (one folder or
 * export every host of its zone sees, as a NAS or SAN would be). */
export interface PoolRef {
  /** Pool name (matches STORAGE_ID_PATTERN); hosts map it to a folder (agent flag `--pool NAME=DIR`). */
  name: string;
  kind: 'local' | 'shared';
}

/** An image as a host fetches it: the control plane's registry serves it, the host caches it by checksum. */
export interface ImageRef {
  /** Image id (matches STORAGE_ID_PATTERN). */
  id: string;
  /** Lower-case hex SHA-256 of the image file: the cache key and the check after download. */
  sha256: string;
  sizeBytes: number;
  format: 'qcow2' | 'raw';
  /** Where the host downloads it: a URL, or a `/v1/` path of the control plane the host enrolled with (the driver authenticates as the host there). */
  url: string;
}

/** A volume as a host creates and keeps it. */
export interface VolumeSpec {
  /** Volume id (matches STORAGE_ID_PATTERN): the file name in the pool. */
  id: string;
  pool: PoolRef;
  sizeGiB: number;
  /** Create as a copy-on-write clone of another volume of the same pool, or of an image. */
  from?: { volumeId: string } | { image: ImageRef } | { snapshot: { volumeId: string; name: string } };
}

/** A disk of a guest beyond its root disk: an attached volume. */
export interface GuestDisk {
  volumeId: string;
  pool: PoolRef;
  sizeGiB: number;
  /** Serial the guest sees (`/dev/disk/by-id/virtio-SERIAL`, at most 20 characters): `diskSerial(volumeId)`. */
  serial: string;
}

/** Ids of images and volumes that reach a host: the guest id rule (they become file names). */
export const STORAGE_ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;

/** The serial a volume's disk shows the guest (virtio-blk serials hold 20 bytes). */
export function diskSerial(volumeId: string): string {
  return volumeId.replace(/[^a-zA-Z0-9_.-]/g, '').slice(0, 20);
}

/** Whether a guest with these disks can move only by mirroring them (any local disk). The root disk is
 * local unless the guest boots from a volume in a shared pool. */
export function needsBlockMigration(disks: readonly GuestDisk[], rootShared = false): boolean {
  return !rootShared || disks.some((d) => d.pool.kind === 'local');
}
