/**
 * The JSON shapes of the API's requests and answers, as a client sees them (dates are ISO strings).
 * Types the control plane exports from pure modules (policies, models, the VM state machine) are
 * reused; the rest are declared here, next to the routes that answer them (src/api/routes/).
 */
import type { VmAction, VmState } from '../control/vm-states.ts';
import type { PowerModelSpec } from '../models/power.ts';
import type { PlacementDecision, Resources } from '../policies/placement/pipeline.ts';
import type { PlanAction } from '../policies/plans/plan.ts';
import type { ScalingPolicy } from '../policies/autoscaling.ts';

export type { PlacementDecision, PlanAction, PowerModelSpec, Resources, ScalingPolicy, VmAction, VmState };

export type Role = 'admin' | 'operator' | 'member' | 'reader';

/** The caller (GET /v1/me). */
export interface Me {
  userId: string;
  userName: string;
  tenantId: string;
  role: Role;
}

export interface Quotas {
  vcpus: number;
  memoryMiB: number;
  vms: number;
  diskGiB: number;
}
export interface Tenant {
  id: string;
  name: string;
  quotas: Quotas;
}
export interface User {
  id: string;
  tenantId: string;
  name: string;
  role: Role;
}
/** A new token: `token` is shown this once. */
export interface CreatedToken {
  id: string;
  token: string;
  userId: string;
  name: string;
  expiresAt: string | null;
}

export interface CpuSample {
  t: number;
  cpu: number;
}
export interface Host {
  id: string;
  name: string;
  state: string;
  datacenter: string;
  zone: string;
  rack: string;
  tier: string;
  driver: string;
  lastSeenAt: string | null;
  powerAddress: string | null;
  capacity: Resources;
  reserved: Resources;
  used: Resources;
  overcommit: { cpu: number; memory: number; disk: number };
  vms: number;
  /** Mean measured CPU utilization of the host (0..1). */
  cpu: number;
  powerW: number;
  /** Storage pools (names) the host declares it sees; a simulated host also sees every pool of its zone. */
  pools?: string[];
  /** Recent CPU samples (GET /v1/hosts/:id only). */
  cpuSeries?: CpuSample[];
}
export interface HostCreate {
  name: string;
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
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
  driver?: 'sim' | 'qemu';
  agentUrl?: string;
  powerAddress?: string;
  powerModel?: PowerModelSpec;
}
export type HostState = 'up' | 'maintenance' | 'off' | 'failed';
export interface DrainResult {
  host: string;
  state: string;
  moved: string[];
  stuck: { vm: string; reason: string }[];
}
export interface PowerResult {
  host: string;
  state: string;
  result: unknown;
}

export interface Flavor {
  id: string;
  name: string;
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
}
export interface Image {
  id: string;
  name: string;
  format: string;
  sizeMiB: number;
  /** `public` (every tenant) or `private` (its tenant's). */
  visibility?: string;
  /** `queued` while uploading, then `active`. */
  status?: string;
  tenantId?: string | null;
  /** Uploaded images: SHA-256 of the file, its size and the disk size the guest sees. */
  sha256?: string | null;
  sizeBytes?: number | null;
  virtualSizeBytes?: number | null;
}
export interface StoragePool {
  id: string;
  name: string;
  kind: 'local' | 'shared';
  zone: string | null;
}
export interface Volume {
  id: string;
  name: string;
  tenantId: string;
  sizeGiB: number;
  /** creating, available, attaching, in-use, detaching, deleting, error. */
  state: string;
  pool: string | null;
  poolKind: string | null;
  /** Operators only. */
  hostId?: string | null;
  vmId: string | null;
  vm: string | null;
  imageId: string | null;
  sourceVolumeId: string | null;
  /** What the guest sees: /dev/disk/by-id/virtio-SERIAL. */
  serial: string;
  createdAt: string;
}
export interface VolumeCreate {
  name: string;
  sizeGiB: number;
  pool?: string;
  fromImage?: string;
  fromVolume?: string;
  fromSnapshot?: string;
}
export interface VolumeSnapshot {
  id: string;
  volumeId: string;
  name: string;
  sizeGiB: number;
  createdAt: string;
}
export type ServerGroupPolicy = 'affinity' | 'anti-affinity' | 'soft-affinity' | 'soft-anti-affinity';
export interface ServerGroup {
  id: string;
  name: string;
  policy: ServerGroupPolicy | string;
  tenantId: string;
  /** At most this many members on one host; members spread over racks, zones or data centers. */
  maxPerHost?: number | null;
  spreadOver?: 'rack' | 'zone' | 'datacenter' | null;
}

/** Placement constraint types (src/core/constraints; BtrPlace's catalog). */
export type ConstraintType =
  | 'affinity'
  | 'anti-affinity'
  | 'fence'
  | 'ban'
  | 'max-per-host'
  | 'spread'
  | 'gather'
  | 'among'
  | 'split'
  | 'splitAmong'
  | 'lonely'
  | 'root'
  | 'preserve'
  | 'noDelay'
  | 'quarantine'
  | 'maxOnline'
  | 'runningCapacity'
  | 'overbook';
/** Hosts by name or id, or by attributes (a group of `among` or `splitAmong`). */
export interface ConstraintHostGroup {
  hosts?: string[];
  where?: { zone?: string; rack?: string; tier?: string; datacenter?: string };
}
/** The fields the catalog's constraints add (see docs/constraints.md for which type takes which). */
export interface ConstraintCatalogFields {
  vmGroups?: string[][];
  /** On create: the VMs of this server group (name or id) now. */
  serverGroup?: string;
  hostGroups?: ConstraintHostGroup[];
  resource?: 'vcpus' | 'memoryMiB' | 'diskGiB';
  amount?: number;
  ratio?: number;
  continuous?: boolean;
}
/** The body of POST /v1/constraints: VMs and hosts by name or id. */
export interface ConstraintCreate extends ConstraintCatalogFields {
  name: string;
  type: ConstraintType;
  hard?: boolean;
  vms?: string[];
  hosts?: string[];
  where?: { zone?: string; rack?: string; tier?: string; datacenter?: string };
  max?: number;
  over?: 'rack' | 'zone' | 'datacenter';
  maxPerDomain?: number;
}
/** A placement constraint, with what the current placement breaks (`violations`, for hard and soft alike). */
export interface PlacementConstraint extends ConstraintCatalogFields {
  id: string;
  name: string;
  tenantId: string;
  type: ConstraintType;
  hard: boolean;
  vms: { id: string; name: string }[];
  hosts?: string[];
  where?: { zone?: string; rack?: string; tier?: string; datacenter?: string };
  max?: number;
  over?: 'rack' | 'zone' | 'datacenter';
  maxPerDomain?: number;
  label: string;
  violations: string[];
  createdAt: string;
}

export interface Vm {
  id: string;
  name: string;
  tenantId: string;
  state: VmState;
  flavor: string;
  image: string;
  hostId: string | null;
  hostName?: string | null;
  serverGroupId: string | null;
  ha: boolean;
  haPriority: number;
  /** Latest measured CPU utilization of its vCPUs (0..1), or null before the first report. */
  cpu: number | null;
  createdAt: string;
  updatedAt: string;
  allowedActions: VmAction[];
  /** Recent CPU samples (GET /v1/vms/:id only). */
  cpuSeries?: CpuSample[];
}
export interface VmCreate {
  name: string;
  flavor: string;
  image: string;
  serverGroup?: string;
  preset?: 'pack' | 'spread' | 'first-fit';
  zone?: string;
  tier?: string;
  ha?: boolean;
  haPriority?: number;
  /** Constraints (names or ids) the new VM joins. */
  constraints?: string[];
  /** Networks (names or ids): one new port on each, in order. */
  networks?: string[];
  /** Existing free ports (ids) to attach. */
  ports?: string[];
  /** Security groups of the new ports (default: `default`). */
  securityGroups?: string[];
  /** Key pair name (served by the metadata service). */
  key?: string;
  /** User data (at most 64 KiB). */
  userData?: string;
  /** Available volumes (names or ids) to attach at build. */
  volumes?: string[];
}
/** The body of POST /v1/vms/:id/actions besides the action. */
export interface VmActionOptions {
  snapshotName?: string;
  flavor?: string;
  name?: string;
}
export interface MigrateOptions {
  toHost?: string;
  mode?: 'stop-and-copy' | 'precopy' | 'postcopy';
  downtimeTargetMs?: number;
  bandwidthMbps?: number;
}
/** The record of a multi-step change (create, action, migration). */
export interface Operation {
  id: string;
  tenantId: string;
  vmId: string | null;
  kind: string;
  status: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each kind has its own result
  result: any;
  error: string | null;
  createdAt: string;
  finishedAt: string | null;
}

export interface PlanResult {
  done?: number;
  of?: number;
  wave?: number;
  waves?: number;
  waitingForNames?: string[];
  failed?: { action: number; error: string } | null;
  cancelled?: number;
  violations?: { action: number; reason: string }[];
}
export interface Plan {
  id: string;
  status: string;
  zone: string | null;
  createdAt: string;
  createdBy: string;
  summary: string;
  actions: PlanAction[];
  result: PlanResult | null;
  finishedAt: string | null;
  /** When the last action ends in the plan's schedule, s (actions then carry startS, durationS, after). */
  makespanS?: number;
}
/** What an audit answers: a stored plan, or (id null) nothing to do. */
export type PlanProposal = Omit<Plan, 'id'> & { id: string | null };
export interface PlanAudit {
  spareHosts?: number;
  holdDownS?: number;
  paybackHorizonS?: number;
  powerOffGraceS?: number;
  policy?: string;
  /** Seconds the `optimal` policy's solver may run (default 10, at most 600). */
  timeLimitS?: number;
  zone?: string;
  moves?: { vm: string; to: string }[];
}
export interface MigrationLimits {
  maxMigrationsPerHost?: number;
  maxMigrationsPerCluster?: number;
}

export type AutomationLevel = 'manual' | 'partial' | 'full';
export interface AutomationSettings {
  level: AutomationLevel;
  policy?: string;
  spareHosts?: number;
  powerOffGraceS?: number;
  maxMigrationsPerHost?: number;
  maxMigrationsPerCluster?: number;
}
export interface AutomationOverview {
  automation: AutomationLevel;
  global: AutomationSettings;
  zones: Record<string, AutomationSettings>;
}
export interface AutomationSet {
  automation: AutomationLevel;
  zone?: string;
  policy?: string;
  spareHosts?: number;
  powerOffGraceS?: number;
  maxMigrationsPerHost?: number;
  maxMigrationsPerCluster?: number;
}

export interface ScalingGroup {
  id: string;
  tenantId: string;
  name: string;
  min: number;
  max: number;
  desired: number;
  policy: ScalingPolicy;
  scaleIn: string;
  lastScaledAt: string | null;
  serverGroupId: string;
  members: string[];
  /** What the last reported metric decided (POST .../metrics only). */
  decision?: string;
}
export interface ScalingGroupCreate {
  name: string;
  flavor: string;
  image: string;
  min: number;
  max: number;
  desired?: number;
  policy: ScalingPolicy;
  scaleIn?: 'newest' | 'least-loaded';
}

export interface Overview {
  vms: { total: number; byState: Record<string, number> };
  energyTodayKWh: number;
  facilityEnergyTodayKWh: number;
  pue: number;
  /** Admins and operators only. */
  hosts?: { total: number; byState: Record<string, number> };
  powerW?: number;
  overloadedHosts?: number;
  slaViolation?: number;
}

export interface EventRow {
  id: number;
  at: string;
  tenantId?: string | null;
  kind: string;
  vmId: string | null;
  hostId: string | null;
  actor: string | null;
  detail: Record<string, unknown>;
}
/** Filters of a VM list, each optional (references by id or name where noted). */
export interface VmFilters {
  state?: string;
  /** A host id (admin, operator). */
  host?: string;
  /** A tenant id or name (admin, operator). */
  tenant?: string;
  zone?: string;
  /** A flavor id or name. */
  flavor?: string;
  /** An image id or name. */
  image?: string;
  /** A name prefix. */
  name?: string;
  /** A server group id. */
  serverGroup?: string;
}

/** Filters of a host list, each optional and exact. */
export interface HostFilters {
  state?: string;
  zone?: string;
  rack?: string;
  driver?: string;
}

export interface EventQuery {
  vm?: string;
  host?: string;
  after?: number;
  limit?: number;
}

/** A row of the security event log (never a secret: tokens by id only). */
export interface SecurityEventRow {
  id: number;
  at: string;
  kind: string;
  principal: string | null;
  tenantId: string | null;
  source: string | null;
  operation: string | null;
  object: string | null;
  detail: Record<string, unknown>;
}
export interface SecurityEventQuery {
  after?: number;
  kind?: string;
  limit?: number;
}

export interface MetricSample {
  vm: string;
  /** CPU utilization of the VM's vCPUs, 0..1. */
  cpu: number;
}
/** A heartbeat (sent with the host credential; the host is the credential's, its URL the one bound at enrollment). */
export interface Heartbeat {
  hostname?: string;
  cpus?: number;
  memoryMiB?: number;
  accel?: string;
  health?: { status: 'ok' | 'degraded'; reason?: string };
  /** The storage pools the host has (they define the pools it sees). */
  pools?: { name: string; kind: 'local' | 'shared' }[];
  [more: string]: unknown;
}

/** A one-time join token (the token is in the creation answer only). */
export interface JoinToken {
  id: string;
  name: string;
  token: string;
  expiresAt: string;
}
/** What an agent sends to enroll its host. */
export interface EnrollRequest {
  joinToken: string;
  hostname: string;
  agentUrl: string;
  cpus: number;
  memoryMiB: number;
  accel?: string;
  /** The storage pools the host has (they define the pools it sees). */
  pools?: { name: string; kind: 'local' | 'shared' }[];
  /** The credential the control plane must present to this agent (generated by the control plane when omitted). */
  agentCredential?: string;
}
/** The answer to an enrollment: the host and its credential (shown once). */
export interface Enrollment {
  hostId: string;
  hostCredential: string;
  /** Present when the request gave no agentCredential. */
  agentCredential?: string;
}
export type * from './report-types.ts';
export type * from './inventory-types.ts';
export type * from './network-types.ts';
