/**
 * The constraints of a plan's cluster with a placement the planners and the checker update as they
 * go: one place for "may this VM go there" (the core checkers) and "is that host in the VM's zone"
 * (plans never move a VM out of its zone). Pure.
 */
import {
  admitsAll,
  checkAll,
  constraintsByVm,
  type CheckOptions,
  type Constraint,
  type HostAttributes,
  type Violation,
} from '../../core/constraints/index.ts';
import type { PlanCluster } from './plan.ts';

const NONE: readonly Constraint[] = [];

/** A cluster's hard constraints and a mutable placement (VM id → the hosts it runs on). */
export class PlanConstraints {
  readonly hosts: Map<string, HostAttributes>;
  readonly placement = new Map<string, string[]>();
  readonly vmNames: Map<string, string>;
  /** True when the cluster has no hard constraint: every test below then passes at once. */
  readonly none: boolean;
  private readonly hard: readonly Constraint[];
  private readonly byVm: Map<string, Constraint[]>;
  private readonly zoneAtStart = new Map<string, string | undefined>();

  constructor(c: PlanCluster) {
    this.hosts = new Map(
      c.hosts.map((h) => [
        h.id,
        { id: h.id, name: h.name, zone: h.zone, rack: h.rack, tier: h.tier, datacenter: h.datacenter },
      ]),
    );
    this.vmNames = new Map(c.vms.map((v) => [v.id, v.name]));
    for (const v of c.vms) {
      this.placement.set(v.id, [v.hostId]);
      this.zoneAtStart.set(v.id, this.hosts.get(v.hostId)?.zone);
    }
    this.hard = (c.constraints ?? NONE).filter((x) => x.hard);
    this.none = this.hard.length === 0;
    this.byVm = constraintsByVm(this.hard);
  }

  /** The hard constraints about a VM. */
  about(vmId: string): readonly Constraint[] {
    return this.byVm.get(vmId) ?? NONE;
  }

  /** The first hard constraint that refuses `vmId` on `hostId` (as well as where it runs now). */
  refuses(vmId: string, hostId: string, o?: CheckOptions): Violation | undefined {
    const cs = this.byVm.get(vmId);
    return cs ? admitsAll(cs, this, vmId, hostId, o) : undefined;
  }

  /** Whether `hostId` is in the zone the VM was in when planning started (both unzoned counts). */
  inZone(vmId: string, hostId: string): boolean {
    return this.hosts.get(hostId)?.zone === this.zoneAtStart.get(vmId);
  }

  /** The VM now runs only on `hostId`. */
  move(vmId: string, hostId: string): void {
    this.placement.set(vmId, [hostId]);
  }

  /** The VM also runs on `hostId` (a migration started). */
  arrive(vmId: string, hostId: string): void {
    const l = this.placement.get(vmId);
    if (!l) this.placement.set(vmId, [hostId]);
    else if (!l.includes(hostId)) l.push(hostId);
  }

  /** The VM no longer runs on `hostId` (a migration finished). */
  leave(vmId: string, hostId: string): void {
    const l = this.placement.get(vmId)?.filter((h) => h !== hostId);
    if (l?.length) this.placement.set(vmId, l);
    else this.placement.delete(vmId);
  }

  /** Every violation of the hard constraints in the current placement. */
  violations(o?: CheckOptions): Violation[] {
    return this.none ? [] : checkAll(this.hard, this, o);
  }
}
