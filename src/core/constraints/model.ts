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

/** Every constraint, discriminated by `type`. */
export type Constraint =
  | AffinityConstraint
  | AntiAffinityConstraint
  | FenceConstraint
  | BanConstraint
  | MaxPerHostConstraint
  | SpreadConstraint;
export type ConstraintType = Constraint['type'];
export const CONSTRAINT_TYPES: readonly ConstraintType[] = [
  'affinity',
  'anti-affinity',
  'fence',
  'ban',
  'max-per-host',
  'spread',
];

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
