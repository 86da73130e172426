/** Placement constraints: the model, the checkers, and running them together. */
export {
  CONSTRAINT_TYPES,
  GLOBAL_CONSTRAINT_TYPES,
  HOST_ATTRIBUTES,
  HOST_CONSTRAINT_TYPES,
  RESOURCES,
  SPREAD_DOMAINS,
  concerns,
  constraintLabel,
  type AffinityConstraint,
  type AmongConstraint,
  type GatherConstraint,
  type LonelyConstraint,
  type MaxOnlineConstraint,
  type NoDelayConstraint,
  type OverbookConstraint,
  type PreserveConstraint,
  type QuarantineConstraint,
  type Resource,
  type ResourceAmounts,
  type RootConstraint,
  type RunningCapacityConstraint,
  type SplitAmongConstraint,
  type SplitConstraint,
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
export { amongChecker, lonelyChecker, splitAmongChecker, splitChecker } from './vm-groups.ts';
export { noDelayChecker, quarantineChecker, rootChecker } from './stay.ts';
export { maxOnlineChecker, overbookChecker, preserveChecker, runningCapacityChecker } from './resources.ts';
export {
  admitsAll,
  checkAll,
  checkerFor,
  constraintsByVm,
  globalConstraints,
  softScore,
  type CheckOptions,
} from './check.ts';
export {
  constraintState,
  demandOf,
  domainOf,
  hostOf,
  hostsOf,
  isOnline,
  loadOn,
  vmName,
  vmsOn,
} from './state.ts';
