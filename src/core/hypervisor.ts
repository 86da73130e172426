/**
 * The hypervisor driver port: what the control plane and the agent need from a hypervisor.
 * Implemented by the simulated driver (src/drivers/sim) and the QEMU/KVM driver (src/drivers/qemu);
 * one conformance suite runs against both (test/hypervisor-conformance.ts).
 */

import type { GuestNic } from './network/host-network.ts';
import type { GuestDisk, ImageRef } from './storage/host-storage.ts';

export const GuestState = {
  /** Defined, no process. */
  shutoff: 'shutoff',
  running: 'running',
  paused: 'paused',
  /** The process went away without being stopped. */
  crashed: 'crashed',
} as const;
export type GuestState = (typeof GuestState)[keyof typeof GuestState];

/** What to boot: a kernel and initramfs (the tiny guest), or a bootable qcow2 disk, or both. */
export interface GuestImage {
  /** Kernel to boot directly; without it the guest boots from `disk`. */
  kernel?: string;
  initrd?: string;
  /** Extra kernel command line. */
  append?: string;
  /** A qcow2 disk image to attach (copied on write per guest). */
  disk?: string;
  /** An image of the registry: the host fetches it once (verified by its checksum) into its cache
   * and boots a copy-on-write overlay of it. */
  cached?: ImageRef;
}

export interface GuestSpec {
  id: string;
  /** Network interfaces (virtio-net on a tap the host's network plumbing attaches); none = no network. */
  nics?: GuestNic[];
  /** Volumes attached to the guest (virtio-blk, in this order after the root disk). */
  disks?: GuestDisk[];
  memoryMiB: number;
  vcpus: number;
  image: GuestImage;
  /**
   * Workload of the tiny guest: MiB to dirty and rate (MiB/s; < 0 = as fast as possible); `fill`: a
   * known data set of `mib` MiB derived from `seed` (the same pages in every guest with that seed).
   */
  workload?: { mib: number; rateMiBps: number; fill?: { seed: number; mib: number } };
  /** Minimum memory the balloon may leave the guest, MiB. */
  minMemoryMiB?: number;
  /** Whether the host may merge this guest's identical pages with others' (KSM). Default true;
   * false for tenants who opt out of page sharing (a side channel between tenants). */
  mergeable?: boolean;
}

export interface GuestInfo {
  id: string;
  state: GuestState;
  spec: GuestSpec;
  /** Snapshot names, oldest first. */
  snapshots: string[];
}

/** The guest's own view of its memory (virtio-balloon statistics), MiB. */
export interface GuestMemoryStats {
  totalMiB: number;
  availableMiB: number;
  freeMiB: number;
}

export interface GuestMetrics {
  state: GuestState;
  /** CPU time consumed by the guest's process (or simulated), s. */
  cpuTimeS: number;
  /** Configured memory, MiB. */
  memoryMiB: number;
  /** Memory the guest has after ballooning, MiB. */
  balloonMiB: number;
  /** Host memory the guest uses (resident set), MiB. */
  rssMiB: number;
}

/** An error a caller can handle; `code` is stable. */
export class DriverError extends Error {
  constructor(
    readonly code: 'NOT_FOUND' | 'ALREADY_EXISTS' | 'INVALID_STATE' | 'BAD_SPEC' | 'BACKEND',
    message: string,
    readonly vmId?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface HypervisorDriver {
  /** `sim` or `qemu`. */
  readonly kind: string;
  /** Acceleration the driver uses for guests (`kvm`, `tcg`, `sim`). */
  readonly accel: string;
  create(spec: GuestSpec): Promise<GuestInfo>;
  get(id: string): Promise<GuestInfo | undefined>;
  list(): Promise<GuestInfo[]>;
  start(id: string): Promise<void>;
  /** Graceful power-off, forced after `timeoutMs` (or at once with force). */
  stop(id: string, opts?: { force?: boolean; timeoutMs?: number }): Promise<void>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  reboot(id: string): Promise<void>;
  snapshot(id: string, name: string): Promise<void>;
  restore(id: string, name: string): Promise<void>;
  /** A guest's snapshot names, oldest first. Throws NOT_FOUND for an unknown guest. */
  listSnapshots(id: string): Promise<string[]>;
  /** Delete one snapshot. Throws NOT_FOUND for an unknown guest or snapshot name. */
  deleteSnapshot(id: string, name: string): Promise<void>;
  delete(id: string): Promise<void>;
  /** Set the balloon target: the memory the guest keeps, MiB. */
  setBalloon(id: string, targetMiB: number): Promise<void>;
  metrics(id: string): Promise<GuestMetrics>;
  /** Release resources held by the driver (not the guests). */
  close(): Promise<void>;
}

/**
 * The one rule for guest ids: 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit.
 * Ids become folder names on hosts, so no '/', and never '.' or '..'.
 */
export const GUEST_ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;

/** Check a guest spec; returns problems (empty when valid). */
export function checkGuestSpec(s: GuestSpec): string[] {
  const e: string[] = [];
  if (typeof s.id !== 'string' || !GUEST_ID_PATTERN.test(s.id))
    e.push(
      `id ${JSON.stringify(String(s.id).slice(0, 80))} must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  if (!(Number.isInteger(s.memoryMiB) && s.memoryMiB >= 64))
    e.push(`memoryMiB must be an integer >= 64, got ${s.memoryMiB}`);
  if (!(Number.isInteger(s.vcpus) && s.vcpus >= 1 && s.vcpus <= 64))
    e.push(`vcpus must be an integer in 1..64, got ${s.vcpus}`);
  if (!s.image?.kernel && !s.image?.disk && !s.image?.cached)
    e.push('image needs a kernel (direct boot), a bootable qcow2 disk or a registry image');
  const f = s.workload?.fill;
  if (
    f !== undefined &&
    !(
      Number.isInteger(f.seed) &&
      f.seed >= 0 &&
      f.seed < 2 ** 32 &&
      Number.isInteger(f.mib) &&
      f.mib >= 1 &&
      f.mib < s.memoryMiB
    )
  )
    e.push('workload.fill needs a whole seed in 0..2^32-1 and whole mib in 1..memoryMiB-1');
  if (s.minMemoryMiB !== undefined && !(s.minMemoryMiB >= 0 && s.minMemoryMiB <= s.memoryMiB))
    e.push(`minMemoryMiB must be in 0..memoryMiB, got ${s.minMemoryMiB}`);
  return e;
}
