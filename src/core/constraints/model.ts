/**
 * Placement constraints as serializable data (BtrPlace's `SatConstraint`: Hermenier et al.,
 * "BtrPlace: a flexible consolidation manager for highly available applications", IEEE TDSC 2013).
 * A constraint names the VMs it is about; its checker (checkers.ts) says whether a state satisfies
 * it and whether one more placement would. The same data drives the placement filters, the plan
 * checker and every planner.
 */

/** The host attributes a constraint may refer to. Missing attributes are `undefined`. */
export interface HostAttributes {
  id: string;
  name: string;
  zone?: string;
  rack?: string;
  tier?: string;
  datacenter?: string;
}

/** Attributes a fence or a ban may select hosts by. */
export const HOST_ATTRIBUTES = ['zone', 'rack', 'tier', 'datacenter'] as const;
export type HostAttribute = (typeof HOST_ATTRIBUTES)[number];

/** Failure domains a `spread` constraint may spread over. */
export const SPREAD_DOMAINS = ['rack', 'zone', 'datacenter'] as const;
export type SpreadDomain = (typeof SPREAD_DOMAINS)[number];

/**
 * Hosts selected by id, or by attributes, or both: a host matches when its id is listed, or when
 * `where` is given and every attribute in it equals the host's.
 * @example { where: { zone: 'zone-2', tier: 'gpu' } }
 */
export interface HostSelector {
  hosts?: readonly string[];
  where?: Partial<Record<HostAttribute, string>>;
}

interface Common {
  /** Stable id (the store's id, or a generated one); named in every violation. */
  id: string;
  /** A name a person recognises (the server group's name, ...); messages prefer it to the id. */
  name?: string;
  /** Hard constraints are never broken by a placement or a plan; soft ones are only scored. */
  hard: boolean;
  /** Ids of the VMs the constraint is about (members not placed anywhere are ignored). */
  vms: readonly string[];
}

/** All placed VMs on one host (Nova's affinity server group; BtrPlace `Gather`). Discrete. */
export interface AffinityConstraint extends Common {
  type: 'affinity';
}
/** No two of the VMs on one host (Nova's anti-affinity; BtrPlace `Spread`). Continuous. */
export interface AntiAffinityConstraint extends Common {
  type: 'anti-affinity';
}
/** The VMs run only on the selected hosts (BtrPlace `Fence`; zone and tier pins). Continuous. */
export interface FenceConstraint extends Common, HostSelector {
  type: 'fence';
}
/** The VMs never run on the selected hosts (BtrPlace `Ban`). Continuous. */
export interface BanConstraint extends Common, HostSelector {
  type: 'ban';
}
/** At most `max` of the VMs on any one host (a generalised anti-affinity). Continuous. */
export interface MaxPerHostConstraint extends Common {
  type: 'max-per-host';
  max: number;
}
/**
 * At most `maxPerDomain` (default 1) of the VMs in any one rack, zone or data center (oVirt's and
 * Kubernetes' topology spread with a hard skew cap). A host without that attribute is a domain of
 * its own. Continuous.
 */
export interface SpreadConstraint extends Common {
  type: 'spread';
  over: SpreadDomain;
  maxPerDomain?: number;
}

/** Resources a `preserve` or an `overbook` is about (the flavor's dimensions). */
export const RESOURCES = ['vcpus', 'memoryMiB', 'diskGiB'] as const;
export type Resource = (typeof RESOURCES)[number];
export type ResourceAmounts = Partial<Record<Resource, number>>;

/**
 * BtrPlace lets some constraints be either: `continuous` true makes the rule hold in every
 * intermediate state of a plan, false (or absent: BtrPlace's default for the type) only at its end.
 */
interface Restriction {
  continuous?: boolean;
}

/** BtrPlace's name for `affinity`: all placed VMs on one host. Discrete. */
export interface GatherConstraint extends Common {
  type: 'gather';
}
/**
 * All placed VMs on the hosts of ONE of the host groups (BtrPlace `Among`; the groups should be
 * disjoint, a host counts in the first group that selects it). Discrete by default.
 */
export interface AmongConstraint extends Common, Restriction {
  type: 'among';
  groups: readonly HostSelector[];
}
/**
 * VM groups that never share a host across groups (BtrPlace `Split`); `vms` lists every VM of the
 * groups. Discrete by default.
 */
export interface SplitConstraint extends Common, Restriction {
  type: 'split';
  vmGroups: readonly (readonly string[])[];
}
/**
 * Each VM group on the hosts of one host group, and distinct VM groups in distinct host groups
 * (BtrPlace `SplitAmong`); `vms` lists every VM of the groups. Discrete by default.
 */
export interface SplitAmongConstraint extends Common, Restriction {
  type: 'splitAmong';
  vmGroups: readonly (readonly string[])[];
  groups: readonly HostSelector[];
}
/** The VMs' hosts run no other VMs (the VMs may share hosts; BtrPlace `Lonely`). Discrete by default. */
export interface LonelyConstraint extends Common, Restriction {
  type: 'lonely';
}
/** A placed VM never moves from where it runs (BtrPlace `Root`). Continuous. */
export interface RootConstraint extends Common {
  type: 'root';
}
/**
 * The VMs get at least `amount` of `resource` where they run: the host's capacity less the demand
 * of the VMs beside them (BtrPlace `Preserve`). Discrete.
 */
export interface PreserveConstraint extends Common {
  type: 'preserve';
  resource: Resource;
  amount: number;
}
/** The VMs' actions start at time 0 of a plan (BtrPlace `NoDelay`); judged on schedules. Continuous. */
export interface NoDelayConstraint extends Common {
  type: 'noDelay';
}
/**
 * The selected hosts in quarantine: no VM enters them, none of theirs leaves (BtrPlace
 * `Quarantine`). About every VM (`vms` is empty). Continuous.
 */
export interface QuarantineConstraint extends Common, HostSelector {
  type: 'quarantine';
}
/** At most `max` of the selected hosts on at once (BtrPlace `MaxOnline`). Discrete by default. */
export interface MaxOnlineConstraint extends Common, HostSelector, Restriction {
  type: 'maxOnline';
  max: number;
}
/** At most `max` VMs running on the selected hosts together (BtrPlace `RunningCapacity`). Discrete by default. */
export interface RunningCapacityConstraint extends Common, HostSelector, Restriction {
  type: 'runningCapacity';
  max: number;
}
/**
 * On each selected host, the VMs' demand of `resource` is at most `ratio` × its capacity (BtrPlace
 * `Overbook`). Continuous by default.
 */
export interface OverbookConstraint extends Common, HostSelector, Restriction {
  type: 'overbook';
  resource: Resource;
  ratio: number;
}

/** Every constraint, discriminated by `type`. */
export type Constraint =
  | AffinityConstraint
  | AntiAffinityConstraint
  | FenceConstraint
  | BanConstraint
  | MaxPerHostConstraint
  | SpreadConstraint
  | GatherConstraint
  | AmongConstraint
  | SplitConstraint
  | SplitAmongConstraint
  | LonelyConstraint
  | RootConstraint
  | PreserveConstraint
  | NoDelayConstraint
  | QuarantineConstraint
  | MaxOnlineConstraint
  | RunningCapacityConstraint
  | OverbookConstraint;
export type ConstraintType = Constraint['type'];
export const CONSTRAINT_TYPES: readonly ConstraintType[] = [
  'affinity',
  'anti-affinity',
  'fence',
  'ban',
  'max-per-host',
  'spread',
  'gather',
  'among',
  'split',
  'splitAmong',
  'lonely',
  'root',
  'preserve',
  'noDelay',
  'quarantine',
  'maxOnline',
  'runningCapacity',
  'overbook',
];
/**
 * Constraints about hosts (operators set them): they may refuse any VM, so every placement and
 * plan judges them, whatever their `vms`.
 */
export const HOST_CONSTRAINT_TYPES: readonly ConstraintType[] = [
  'quarantine',
  'maxOnline',
  'runningCapacity',
  'overbook',
];
/** Constraints that may refuse VMs they do not list: the host ones, and lonely and preserve (a neighbour). */
export const GLOBAL_CONSTRAINT_TYPES: readonly ConstraintType[] = [
  ...HOST_CONSTRAINT_TYPES,
  'lonely',
  'preserve',
];

/** Whether the constraint may judge `vmId`: it lists the VM, or it is about every VM (a host rule, ...). */
export function concerns(c: Constraint, vmId: string): boolean {
  return GLOBAL_CONSTRAINT_TYPES.includes(c.type) || c.vms.includes(vmId);
}

/**
 * What checkers look at: the hosts' attributes and where each VM runs. A VM runs on one host, or
 * on two while it live-migrates (its source and its target: BtrPlace's continuous semantics). A
 * VM absent from `placement` is not placed.
 */
export interface ConstraintState {
  hosts: ReadonlyMap<string, HostAttributes>;
  placement: ReadonlyMap<string, readonly string[]>;
  /** VM names for messages (the id is used when a name is missing). */
  vmNames?: ReadonlyMap<string, string>;
  /**
   * The VMs on each host, when the state keeps that index (the same facts as `placement`, read from
   * the host side: rules about every VM then cost per host, not per VM of the cluster).
   */
  onHost?: ReadonlyMap<string, ReadonlySet<string>>;
  /** Where each VM ran when the plan started (root and quarantine judge a state against it). */
  origin?: ReadonlyMap<string, readonly string[]>;
  /** Hosts that are on (maxOnline); without it a host is on when a VM runs on it. */
  online?: ReadonlySet<string>;
  /** Each host's capacity (preserve, overbook); a host without one is not judged. */
  capacity?: ReadonlyMap<string, ResourceAmounts>;
  /** Each VM's demand (its flavor); a VM without one demands nothing. */
  demand?: ReadonlyMap<string, ResourceAmounts>;
  /**
   * The demand already on each host, when known in total (the scheduler's counters): replaces the
   * sum of `demand` over the VMs `placement` puts there.
   */
  used?: ReadonlyMap<string, ResourceAmounts>;
  /** When each VM's action starts in a schedule (seconds from the plan's start, or a wave index); noDelay wants 0. */
  starts?: ReadonlyMap<string, number>;
}

/** A broken constraint: which one, the VMs involved, where, and a sentence a person can read. */
export interface Violation {
  constraint: Constraint;
  /** The VMs that break it together (for `admits`: the VM asked about first, then the others). */
  vmIds: string[];
  /** The host involved, when there is one (a spread names a domain in its message instead). */
  hostId?: string;
  message: string;
}

/** `anti-affinity "web"`: the type and the name (or id) used at the start of every message. */
export function constraintLabel(c: Constraint): string {
  return `${c.type}${c.hard ? '' : ' (soft)'} "${c.name ?? c.id}"`;
}
