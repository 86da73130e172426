/** The interface every constraint's checker implements (BtrPlace's `SatConstraintChecker`). */
import type { Constraint, ConstraintState, Violation } from './model.ts';

/** A constraint bound to the code that judges states against it. */
export interface ConstraintChecker {
  readonly constraint: Constraint;
  /**
   * True when the constraint must hold in every intermediate state of a plan, live migrations
   * included (the VM runs on its source and its target at once); false when it must hold only at
   * the end of a plan (BtrPlace's continuous vs discrete restrictions).
   */
  readonly continuous: boolean;
  /** Every violation in the state (from scratch, whether hard or soft). */
  check(state: ConstraintState): Violation[];
  /**
   * May `vmId` run on `hostId` (as well as wherever it runs now) given where the other VMs are?
   * Returns the violation it would cause, or undefined. A VM the constraint is not about is always
   * admitted. The VM's own current hosts are not held against it.
   */
  admits(state: ConstraintState, vmId: string, hostId: string): Violation | undefined;
  /** How well `vmId` on `hostId` keeps the constraint, in [0, 1] (1: fully); used for soft ones. */
  score(state: ConstraintState, vmId: string, hostId: string): number;
}

/** The constraint's VMs other than `vmId`. */
export function others(c: Constraint, vmId: string): readonly string[] {
  return c.vms.filter((v) => v !== vmId);
}
