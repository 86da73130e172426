/**
 * Running many constraints at once: the checker of each, every violation of a state, the first
 * constraint that refuses a placement ("why not placed" names it), and the soft score of a host.
 */
import { affinityChecker, antiAffinityChecker } from './affinity.ts';
import type { ConstraintChecker } from './checker.ts';
import { maxPerHostChecker, spreadChecker } from './counting.ts';
import { banChecker, fenceChecker } from './host-sets.ts';
import {
  concerns,
  GLOBAL_CONSTRAINT_TYPES,
  type Constraint,
  type ConstraintState,
  type Violation,
} from './model.ts';
import { maxOnlineChecker, overbookChecker, preserveChecker, runningCapacityChecker } from './resources.ts';
import { noDelayChecker, quarantineChecker, rootChecker } from './stay.ts';
import { amongChecker, lonelyChecker, splitAmongChecker, splitChecker } from './vm-groups.ts';

const cache = new WeakMap<Constraint, ConstraintChecker>();

/**
 * The checker of a constraint (memoised per constraint object).
 * @throws RangeError for a malformed constraint (e.g. `max-per-host` with max 0), naming it
 */
export function checkerFor(c: Constraint): ConstraintChecker {
  let k = cache.get(c);
  if (k) return k;
  switch (c.type) {
    case 'affinity':
    case 'gather':
      k = affinityChecker(c);
      break;
    case 'anti-affinity':
      k = antiAffinityChecker(c);
      break;
    case 'fence':
      k = fenceChecker(c);
      break;
    case 'ban':
      k = banChecker(c);
      break;
    case 'max-per-host':
      k = maxPerHostChecker(c);
      break;
    case 'spread':
      k = spreadChecker(c);
      break;
    case 'among':
      k = amongChecker(c);
      break;
    case 'split':
      k = splitChecker(c);
      break;
    case 'splitAmong':
      k = splitAmongChecker(c);
      break;
    case 'lonely':
      k = lonelyChecker(c);
      break;
    case 'root':
      k = rootChecker(c);
      break;
    case 'quarantine':
      k = quarantineChecker(c);
      break;
    case 'noDelay':
      k = noDelayChecker(c);
      break;
    case 'preserve':
      k = preserveChecker(c);
      break;
    case 'overbook':
      k = overbookChecker(c);
      break;
    case 'runningCapacity':
      k = runningCapacityChecker(c);
      break;
    case 'maxOnline':
      k = maxOnlineChecker(c);
      break;
    default:
      throw new RangeError(`Unknown constraint type "${(c as { type: string }).type}"`);
  }
  cache.set(c, k);
  return k;
}

/** Which constraints a check covers: all hard ones, or only the continuous / discrete hard ones. */
export interface CheckOptions {
  only?: 'continuous' | 'discrete';
}

const applies = (c: Constraint, o?: CheckOptions) =>
  c.hard && (!o?.only || checkerFor(c).continuous === (o.only === 'continuous'));

/** Every violation of the hard constraints in the state, in constraint order. */
export function checkAll(
  constraints: readonly Constraint[],
  state: ConstraintState,
  o?: CheckOptions,
): Violation[] {
  return constraints.filter((c) => applies(c, o)).flatMap((c) => checkerFor(c).check(state));
}

/**
 * The first hard constraint that refuses `vmId` on `hostId` (as well as wherever it runs now),
 * with its reason; undefined when every hard constraint admits it.
 */
export function admitsAll(
  constraints: readonly Constraint[],
  state: ConstraintState,
  vmId: string,
  hostId: string,
  o?: CheckOptions,
): Violation | undefined {
  for (const c of constraints) {
    if (!applies(c, o)) continue;
    const v = checkerFor(c).admits(state, vmId, hostId);
    if (v) return v;
  }
  return undefined;
}

/**
 * The soft constraints' preference for `vmId` on `hostId`: the mean of their scores in [0, 1], or
 * 0.5 (neutral) when no soft constraint is about the VM.
 */
export function softScore(
  constraints: readonly Constraint[],
  state: ConstraintState,
  vmId: string,
  hostId: string,
): number {
  let sum = 0,
    n = 0;
  for (const c of constraints)
    if (!c.hard && concerns(c, vmId)) {
      sum += checkerFor(c).score(state, vmId, hostId);
      n++;
    }
  return n ? sum / n : 0.5;
}

/**
 * The constraints about each VM, in constraint order (a planner's index). Constraints about every
 * VM (host rules, lonely, preserve: `concerns`) are indexed under their listed VMs only; add
 * `globalConstraints` to a VM's list.
 */
export function constraintsByVm(constraints: readonly Constraint[]): Map<string, Constraint[]> {
  const by = new Map<string, Constraint[]>();
  for (const c of constraints)
    for (const v of new Set(c.vms)) {
      const l = by.get(v);
      if (l) l.push(c);
      else by.set(v, [c]);
    }
  return by;
}

/** The constraints that may judge any VM, whatever their `vms` (see `concerns`). */
export function globalConstraints(constraints: readonly Constraint[]): Constraint[] {
  return constraints.filter((c) => GLOBAL_CONSTRAINT_TYPES.includes(c.type));
}
