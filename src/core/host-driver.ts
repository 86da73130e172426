/**
 * The host driver port: everything the control plane asks of a host, beyond the guest lifecycle of
 * `HypervisorDriver`: live-migrate a guest to another host of the same kind, switch a host on or off,
 * and (through `list()`) say which guests it really runs, so that a reconciler can compare the
 * records with the truth. `HostDrivers` gives the driver of a host row; composition roots build it
 * (simulated hosts, or real hosts reached through their agents), `control/` only sees these types.
 */
import type { ConsoleDriver } from './console.ts';
import type { HypervisorDriver } from './hypervisor.ts';
import type { GuestMemoryProfile } from './memory/profile.ts';
import type { HostNetworkState } from './network/host-network.ts';
import type { GuestDisk, VolumeSpec } from './storage/host-storage.ts';

/** What a driver needs to know about a host (a host row, as the control plane stores it). */
export interface HostRef {
  id: string;
  name: string;
  /** Host kind: `sim` (simulated) or `qemu` (a real host with an agent). */
  driver: string;
  /** The agent's base URL (real hosts). */
  agentUrl: string | null;
  /** MAC or BMC address the power-control command uses (real hosts). */
  powerAddress: string | null;
  /** The credential the host's agent issued at enrollment: presented to that agent only (real hosts). */
  agentCredential?: string | null;
}

/** A live-migration request. Give a mode (with an optional bandwidth), or a downtime target. */
export interface MigrateRequest {
  mode?: 'precopy' | 'postcopy' | 'stop-and-copy';
  bandwidthMbps?: number;
  /** Let the migration models pick settings that meet this downtime (ms), or refuse up front. */
  downtimeTargetMs?: number;
  /** The VM's recent CPU utilization (0..1): a simulated host models the dirty rate from it. */
  cpuUtilization?: number;
  /**
   * How the disks move: `mirror` (live copy of the local disks over NBD before the memory) or `shared`
   * (the destination sees them: only memory moves). Default: shared when the destination sees the disk.
   */
  disks?: 'mirror' | 'shared';
}

/** A volume as a host reports it (`listVolumes`, `createVolume`). */
export interface HostVolume {
  id: string;
  /** The pool's name. */
  pool: string;
  sizeGiB: number;
  /** Names of its snapshots. */
  snapshots: string[];
}

/** What a completed migration reports (the agent's report, or the modelled one of a simulated host). */
export interface MigrationReport {
  status: string;
  modeUsed: string;
  totalMs?: number;
  downtimeMs?: number;
  bytes?: number;
  /** True when the figures come from the migration models, not from a measured migration. */
  modeled?: boolean;
  [key: string]: unknown;
}

/** What switching a host on or off did. */
export interface PowerResult {
  exitCode: number;
  output: string;
}

/** The driver of one host (with its guests' serial consoles). */
export interface HostDriver extends HypervisorDriver, ConsoleDriver {
  /**
   * Live-migrate a running guest of this host to `target` (a host of the same kind); resolves when
   * the guest runs there. Throws `DriverError` (INVALID_STATE, NOT_FOUND, BAD_SPEC, BACKEND) and
   * leaves the guest on this host when it fails.
   */
  migrate(id: string, target: HostRef, request: MigrateRequest): Promise<MigrationReport>;
  /**
   * Switch `target` on or off from this host: a host switches itself off, and another host that is
   * up switches a switched-off host on (IPMI, Wake-on-LAN). Throws `DriverError` BACKEND on failure.
   */
  power(action: 'on' | 'off', target: HostRef): Promise<PowerResult>;
  /**
   * A running guest's measured memory: resident and used memory and a page fingerprint
   * (memory/fingerprint.ts) sampled at 2^-sampleBits. Real hosts scan the hypervisor process; simulated
   * hosts make a deterministic one. Optional: a driver without it reports no profiles. Throws
   * `DriverError` NOT_FOUND, INVALID_STATE (not running), BACKEND.
   */
  memoryProfile?(id: string, o?: { sampleBits?: number }): Promise<GuestMemoryProfile>;
  /**
   * Converge the host's network to `state` (the whole desired state: networks, ports, rules,
   * floating IPs, metadata; see network/host-network.ts). Idempotent; a state with a lower
   * revision than the one the host has is ignored. Throws `DriverError` BACKEND when the host
   * cannot be reached or fails to plumb it.
   */
  applyNetwork(state: HostNetworkState): Promise<void>;
  /**
   * Create a volume in a pool this host sees (a qcow2 file; a copy-on-write clone when `spec.from`
   * names a volume, snapshot or image). Idempotent for the same spec. Throws `DriverError` BAD_SPEC
   * (unknown pool, other size), NOT_FOUND (the source), BACKEND.
   */
  createVolume(spec: VolumeSpec): Promise<HostVolume>;
  /** Delete a volume and its snapshots (nothing if it is not there). Throws `DriverError` BACKEND. */
  deleteVolume(pool: string, id: string): Promise<void>;
  /** Hot-plug (or, for a stopped guest, add to its definition) a volume as a disk. Throws NOT_FOUND, INVALID_STATE, BACKEND. */
  attachVolume(guestId: string, disk: GuestDisk): Promise<void>;
  /** Unplug a volume from a guest (nothing if it is not attached). Throws NOT_FOUND (the guest), BACKEND. */
  detachVolume(guestId: string, volumeId: string): Promise<void>;
  /** Take a named snapshot of a volume (idempotent). Throws NOT_FOUND, BACKEND. */
  snapshotVolume(pool: string, id: string, name: string): Promise<void>;
  /** Delete a volume's snapshot (nothing if it is not there). Throws NOT_FOUND (the volume), BACKEND. */
  deleteVolumeSnapshot(pool: string, id: string, name: string): Promise<void>;
  /** The volumes of a pool this host sees (for the reconciler). */
  listVolumes(pool: string): Promise<HostVolume[]>;
}

/** Factory port: the driver of a host row. */
export interface HostDrivers {
  /** The driver of `host`; throws `DriverError` BACKEND when the host cannot be reached (no agent URL, unknown kind). */
  forHost(host: HostRef): HostDriver;
}

/** The `HostRef` of a stored host row. */
export function hostRef(row: {
  id: string;
  name: string;
  driver: string;
  agent_url: string | null;
  power_address?: string | null;
  agent_credential?: string | null;
}): HostRef {
  return {
    id: row.id,
    name: row.name,
    driver: row.driver,
    agentUrl: row.agent_url,
    powerAddress: row.power_address ?? null,
    agentCredential: row.agent_credential ?? null,
  };
}
