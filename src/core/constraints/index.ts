/** Placement constraints: the model, the checkers, and running them together. */
export {
  CONSTRAINT_TYPES,
  HOST_ATTRIBUTES,
  SPREAD_DOMAINS,
  constraintLabel,
  type AffinityConstraint,
  type AntiAffinityConstraint,
  type BanConstraint,
  type Constraint,
  type ConstraintState,
  type ConstraintType,
  type FenceConstraint,
  type HostAttribute,
  type HostAttributes,
  type HostSelector,
  type MaxPerHostConstraint,
  type SpreadConstraint,
  type SpreadDomain,
  type Violation,
} from './model.ts';
export type { ConstraintChecker } from './checker.ts';
export { affinityChecker, antiAffinityChecker } from './affinity.ts';
export { banChecker, describeSelector, fenceChecker, selects } from './host-sets.ts';
export { maxPerHostChecker, spreadChecker } from './counting.ts';
export { admitsAll, checkAll, checkerFor, constraintsByVm, softScore, type CheckOptions } from './check.ts';
export { constraintState, domainOf, hostOf, hostsOf, vmName } from './state.ts';
