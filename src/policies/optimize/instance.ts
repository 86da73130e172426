/**
 * A packing instance: what the exact optimizer, the lower bounds and the optimizer benchmark read,
 * built from a simulator snapshot or from the control plane's plan cluster (vectors of resources,
 * so every dimension counts: CPU, memory, and whatever else a caller adds). Pure data.
 */
import type { Constraint, HostAttributes, ResourceAmounts } from '../../core/constraints/index.ts';
import type { PowerModelSpec } from '../../models/power.ts';

/** One host: capacity per dimension (in `PackInstance.dims` order) and what keeping it on costs. */
export interface PackHost extends HostAttributes {
  /** Schedulable capacity per dimension (after overcommit and reservations). */
  capacity: readonly number[];
  /** Power drawn idle when on, W (the cost of keeping it on). */
  idleW: number;
  /** Whether it is on now (a host off costs a boot to use). */
  on: boolean;
  /** Power as a function of CPU load (power-aware heuristics); absent: linear from `idleW`. */
  power?: PowerModelSpec;
  /**
   * Physical capacity before overcommit, what `overbook` and `preserve` judge (as `PlanHost.physical`);
   * absent: `capacity` of the dimension named like the resource.
   */
  physical?: ResourceAmounts;
}

/** One VM: demand per dimension and where it runs now (undefined: not placed yet). */
export interface PackVm {
  id: string;
  name?: string;
  demand: readonly number[];
  /** Its current host; a VM that stays there costs nothing. */
  hostId?: string;
  /** The predicted cost of moving it, seconds (migration models, disks included). */
  moveCostS: number;
}

/** Hosts, VMs, resource dimensions and the hard constraints a solution must keep. */
export interface PackInstance {
  /** Dimension names, e.g. ['cpu', 'memoryMiB']; every capacity and demand has this length. */
  dims: readonly string[];
  hosts: readonly PackHost[];
  vms: readonly PackVm[];
  constraints?: readonly Constraint[];
}

/** Where every VM goes, and what that costs. */
export interface PackSolution {
  /** VM id → host id, for every VM of the instance. */
  placement: ReadonlyMap<string, string>;
  /** Hosts with at least one VM. */
  hostsUsed: number;
  /** VMs whose host changed. */
  migrations: number;
  /** Sum of the moved VMs' `moveCostS`. */
  moveCostS: number;
}

/** How an optimizer run ended (HiGHS's model status, simplified). */
export type OptimizeStatus = 'optimal' | 'time-limit' | 'infeasible' | 'error';

/** An optimizer's answer: the incumbent, the proven bound and the gap, always reported together. */
export interface OptimizeResult {
  status: OptimizeStatus;
  /** The best solution known (the warm start if the solver found nothing better). */
  incumbent?: PackSolution;
  /** Where the incumbent came from. */
  source: 'solver' | 'warm-start' | 'none';
  /** Objective value of the incumbent (hosts used + weighted move cost, see the optimizer). */
  objective?: number;
  /** Proven lower bound on the objective. */
  bound: number;
  /** (objective - bound) / objective, 0 when proven optimal. */
  gap: number;
  /** Wall-clock seconds spent (reported, never asserted). */
  elapsedS: number;
  /** What a person should know about the run (warm start used, fallbacks, solver messages). */
  notes?: string[];
  /** Ids of hard constraints the model does not encode (checked on the solution afterwards). */
  unencoded?: string[];
  /** Independent parts solved (zones, when VMs stay in their zone). */
  parts?: number;
}
