/**
 * What each constraint type takes through the API (BtrPlace's catalog, Hermenier et al., IEEE TDSC
 * 2013, and the server-group rules): its required and optional fields, and who may set it. Errors
 * name the type, the field and what the type accepts.
 */
import {
  CONSTRAINT_TYPES,
  HOST_CONSTRAINT_TYPES,
  RESOURCES,
  type ConstraintType,
  type HostAttribute,
  type Resource,
} from '../../core/constraints/index.ts';
import { ControlError } from '../errors.ts';

/** Hosts by name or id, or by attributes. */
export interface HostGroupInput {
  hosts?: string[];
  where?: Partial<Record<HostAttribute, string>>;
}

/** A constraint as the API receives it: VMs and hosts by name or id. */
export interface ConstraintInput {
  name: string;
  type: ConstraintType;
  /** Default true. */
  hard?: boolean;
  vms?: string[];
  /** The VMs of this server group (name or id in the tenant) now, with `vms`. */
  serverGroup?: string;
  hosts?: string[];
  where?: Partial<Record<HostAttribute, string>>;
  max?: number;
  over?: 'rack' | 'zone' | 'datacenter';
  maxPerDomain?: number;
  /** split, splitAmong: groups of VMs (names or ids). */
  vmGroups?: string[][];
  /** among, splitAmong: groups of hosts. */
  hostGroups?: HostGroupInput[];
  /** preserve, overbook. */
  resource?: Resource;
  /** preserve: the least the VMs get. */
  amount?: number;
  /** overbook: demand ≤ ratio × capacity. */
  ratio?: number;
  /** among, split, splitAmong, lonely, maxOnline, runningCapacity, overbook: hold during plans too. */
  continuous?: boolean;
}

type Field = Exclude<keyof ConstraintInput, 'name' | 'type' | 'hard'>;
/** `hosts|where`: one of them at least. */
type Need = Field | 'hosts|where';

const SELECT: Need = 'hosts|where';
/** Each type's required and optional fields. */
export const CONSTRAINT_FIELDS: Record<ConstraintType, { needs: Need[]; may: Field[] }> = {
  affinity: { needs: [], may: ['vms'] },
  gather: { needs: [], may: ['vms'] },
  'anti-affinity': { needs: [], may: ['vms'] },
  fence: { needs: [SELECT], may: ['vms'] },
  ban: { needs: [SELECT], may: ['vms'] },
  'max-per-host': { needs: ['max'], may: ['vms'] },
  spread: { needs: ['over'], may: ['vms', 'maxPerDomain'] },
  among: { needs: ['hostGroups'], may: ['vms', 'continuous'] },
  split: { needs: ['vmGroups'], may: ['continuous'] },
  splitAmong: { needs: ['vmGroups', 'hostGroups'], may: ['continuous'] },
  lonely: { needs: [], may: ['vms', 'continuous'] },
  root: { needs: [], may: ['vms'] },
  preserve: { needs: ['resource', 'amount'], may: ['vms'] },
  noDelay: { needs: [], may: ['vms'] },
  quarantine: { needs: [SELECT], may: [] },
  maxOnline: { needs: [SELECT, 'max'], may: ['continuous'] },
  runningCapacity: { needs: [SELECT, 'max'], may: ['continuous'] },
  overbook: { needs: [SELECT, 'resource', 'ratio'], may: ['continuous'] },
};

// A rule about VMs may name them one by one or as a server group's members.
for (const f of Object.values(CONSTRAINT_FIELDS)) if (f.may.includes('vms')) f.may.push('serverGroup');

const HINT: Record<string, string> = {
  'hosts|where': 'hosts (names or ids) or where (zone, rack, tier, datacenter)',
  max: 'max (a whole number)',
  over: 'over: rack, zone or datacenter',
  hostGroups: 'hostGroups (a list of { hosts, where })',
  vmGroups: 'vmGroups (a list of lists of VM names or ids)',
  resource: `resource: ${RESOURCES.join(', ')}`,
  amount: 'amount (≥ 0)',
  ratio: 'ratio (> 0)',
};

/** Whether only operators and admins may set the type (rules about hosts). */
export const isHostConstraint = (t: ConstraintType): boolean => HOST_CONSTRAINT_TYPES.includes(t);

const given = (o: ConstraintInput, f: Field) => {
  const v = o[f];
  if (v === undefined) return false;
  if (f === 'where') return Object.keys(v as object).length > 0;
  return true;
};

/** @throws ControlError BAD_REQUEST for an unknown type, naming the accepted ones */
export function validateType(t: string): asserts t is ConstraintType {
  if (!CONSTRAINT_TYPES.includes(t as ConstraintType))
    throw new ControlError(
      'BAD_REQUEST',
      `Unknown constraint type "${t}"; accepted: ${CONSTRAINT_TYPES.join(', ')}`,
    );
}

/**
 * Check the type and that the input has the fields its type needs and no other.
 * @throws ControlError BAD_REQUEST naming the type, the field and what the type takes
 */
export function validateInput(o: ConstraintInput): void {
  validateType(o.type);
  const { needs, may } = CONSTRAINT_FIELDS[o.type];
  const allowed = new Set<string>([...may, ...needs.flatMap((n) => n.split('|'))]);
  const takes = [...needs.map((n) => HINT[n] ?? n), ...may.map((m) => `${m} (optional)`)].join('; ');
  for (const f of Object.keys(o) as (keyof ConstraintInput)[]) {
    if (f === 'name' || f === 'type' || f === 'hard' || !given(o, f as Field)) continue;
    if (f === 'vms' && !o.vms!.length) continue;
    if (!allowed.has(f))
      throw new ControlError(
        'BAD_REQUEST',
        `${f} is not a field of ${o.type}; ${o.type} takes: ${takes || 'vms'}`,
        {
          field: f,
        },
      );
  }
  for (const n of needs) {
    const ok = n === SELECT ? given(o, 'hosts') || given(o, 'where') : given(o, n as Field);
    if (!ok)
      throw new ControlError('BAD_REQUEST', `A ${o.type} needs ${HINT[n] ?? n}; ${o.type} takes: ${takes}`, {
        field: n,
      });
  }
  if (o.resource !== undefined && !RESOURCES.includes(o.resource))
    throw new ControlError(
      'BAD_REQUEST',
      `resource must be one of ${RESOURCES.join(', ')}, got "${o.resource}"`,
    );
  for (const [i, g] of (o.hostGroups ?? []).entries())
    if (!g.hosts?.length && !Object.keys(g.where ?? {}).length)
      throw new ControlError('BAD_REQUEST', `hostGroups[${i}] needs hosts (names or ids) or where`);
  for (const [i, g] of (o.vmGroups ?? []).entries())
    if (!g.length) throw new ControlError('BAD_REQUEST', `vmGroups[${i}] is empty; each group lists VMs`);
}
