/** Answers and requests of the inventory edit and delete routes (hosts, tenants, users, tokens, snapshots). */
import type { PowerModelSpec, Quotas, Role } from './types.ts';

/** What `PATCH /v1/hosts/:id` may change besides the state (admin). */
export interface HostUpdate {
  /** The host's VXLAN underlay address (null: its agent URL's host name). */
  underlayIp?: string | null;
  /** Provider/external physical networks the host is wired to. */
  physnets?: string[];
  /** Storage pools (names) the host sees. */
  pools?: string[];
  cpuRatio?: number;
  memoryRatio?: number;
  diskRatio?: number;
  reservedVcpus?: number;
  reservedMemoryMiB?: number;
  reservedDiskGiB?: number;
  datacenter?: string;
  rack?: string;
  tier?: string;
  zone?: string;
  powerAddress?: string | null;
  powerModel?: PowerModelSpec;
  /** 'static' (flavor × memory ratio) or 'measured' (guarantee + working set at a risk). */
  memoryPolicy?: 'static' | 'measured';
  /** A measured host's accepted risk of needing more memory than it has (0 < risk < 0.5). */
  memoryRisk?: number;
  /** Share of each VM's flavor memory guaranteed on a measured host (0 < share ≤ 1). */
  memoryGuarantee?: number;
}
/** A host's memory model (`GET /v1/hosts/:id/memory`). */
export interface HostMemory {
  host: string;
  id: string;
  policy: 'static' | 'measured';
  risk: number;
  guarantee: number;
  capacityMiB: number;
  staticCapacityMiB: number;
  demand: {
    guaranteedMiB: number;
    configuredMiB: number;
    expectedMiB: number;
    sdMiB: number;
    sharedMiB: number;
    atRiskMiB: number;
  };
  vms: {
    id: string;
    name: string;
    memoryMiB: number;
    guaranteedMiB: number;
    measured: boolean;
    workingSetMiB: number | null;
    workingSetSdMiB: number | null;
    demandMiB: number;
    mergeable: boolean;
  }[];
  /** With `with=`: the host's demand with those VMs added. */
  with?: {
    vms: { id: string; name: string; measured: boolean }[];
    demand: HostMemory['demand'];
    /** Pages the added VMs would share with the host's VMs, MiB. */
    sharedWithHostMiB: number;
    admitted: boolean;
    reason: string;
  };
}
/** A VM's measured memory (`GET /v1/vms/:id/memory`): a summary, never page hashes. */
export interface VmMemory {
  vm: string;
  id: string;
  measured: boolean;
  memorySharing: 'shared' | 'private';
  measuredAt?: string;
  memoryMiB?: number;
  residentMiB?: number;
  workingSetMiB?: number;
  workingSetMeanMiB?: number;
  workingSetSdMiB?: number;
  samples?: number;
  mergeable?: boolean;
  fingerprint?: {
    sampleBits: number;
    pages: number;
    zeroPages: number;
    sampledContents: number;
    selfSharedMiB: number;
  } | null;
}
/** What retiring a host did: the VMs moved, those that could not, and whether it was deleted. */
export interface RetireResult {
  host: string;
  deleted: boolean;
  moved: string[];
  stuck: { vm: string; reason: string }[];
}
/** A tenant with its quotas and what it uses. */
export interface TenantDetail {
  id: string;
  name: string;
  /** 'shared' (its VMs' pages may be merged) or 'private'. */
  memorySharing?: 'shared' | 'private';
  quotas: Quotas;
  usage: Quotas;
}
/** A user as listed (never their tokens). */
export interface UserRow {
  id: string;
  tenantId: string;
  tenant?: string;
  name: string;
  role: Role;
  createdAt: string;
}
/** A token as listed: never its secret or hash. */
export interface TokenRow {
  id: string;
  name: string;
  userId: string;
  user: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}
/** A server group with its members. */
export interface ServerGroupDetail {
  id: string;
  name: string;
  policy: string;
  tenantId: string;
  members: { id: string; name: string; hostId: string | null }[];
}
/** A VM's snapshots, oldest first. */
export interface SnapshotList {
  vmId: string;
  vm: string;
  snapshots: { name: string }[];
}

/** The end of a VM's serial console log (GET /v1/vms/:id/console). */
export interface VmConsoleLog {
  vmId: string;
  /** The last bytes of the log, as text. */
  text: string;
  /** Size of the whole log, bytes: a follower prints what grew since its last read. */
  sizeBytes: number;
  /** True when `text` is not the whole log. */
  truncated: boolean;
}

/** A one-time ticket for a VM's console WebSocket (valid 30 s, used once). */
export interface ConsoleTicket {
  ticket: string;
  vmId: string;
  /** The WebSocket path; open it with `?ticket=` + ticket. */
  path: string;
  expiresAt: string;
}
