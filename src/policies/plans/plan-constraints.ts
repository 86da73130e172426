/**
 * The constraints of a plan's cluster with a placement the planners and the checker update as they
 * go: one place for "may this VM go there" (the core checkers) and "is that host in the VM's zone"
 * (plans never move a VM out of its zone). Pure.
 */
import {
  admitsAll,
  checkAll,
  constraintsByVm,
  globalConstraints,
  type CheckOptions,
  type Constraint,
  type HostAttributes,
  type ResourceAmounts,
  type Violation,
} from '../../core/constraints/index.ts';
import type { PlanCluster } from './plan.ts';

const NONE: readonly Constraint[] = [];

/** A cluster's hard constraints and a mutable placement (VM id → the hosts it runs on). */
export class PlanConstraints {
  readonly hosts: Map<string, HostAttributes>;
  readonly placement = new Map<string, string[]>();
  readonly vmNames: Map<string, string>;
  /** Where each VM ran before the plan (root, quarantine), capacities and demands (preserve, overbook). */
  readonly origin = new Map<string, readonly string[]>();
  readonly capacity: Map<string, ResourceAmounts>;
  readonly demand: Map<string, ResourceAmounts>;
  /** The VMs on each host (the checkers' index of `placement`). */
  readonly onHost = new Map<string, Set<string>>();
  /** Hosts that are on (maxOnline): up ones. */
  readonly online: Set<string>;
  /** True when the cluster has no hard constraint: every test below then passes at once. */
  readonly none: boolean;
  private readonly hard: readonly Constraint[];
  private readonly byVm: Map<string, Constraint[]>;
  /** Constraints about every VM (host rules, lonely, preserve). */
  private readonly global: readonly Constraint[];
  private readonly zoneAtStart = new Map<string, string | undefined>();

  constructor(c: PlanCluster) {
    this.hosts = new Map(
      c.hosts.map((h) => [
        h.id,
        { id: h.id, name: h.name, zone: h.zone, rack: h.rack, tier: h.tier, datacenter: h.datacenter },
      ]),
    );
    this.vmNames = new Map(c.vms.map((v) => [v.id, v.name]));
    this.capacity = new Map(c.hosts.map((h) => [h.id, h.physical ?? h.capacity]));
    this.demand = new Map(c.vms.map((v) => [v.id, { vcpus: v.vcpus, memoryMiB: v.memoryMiB }]));
    this.online = new Set(c.hosts.filter((h) => h.state === 'up').map((h) => h.id));
    for (const v of c.vms) {
      this.placement.set(v.id, [v.hostId]);
      this.origin.set(v.id, [v.hostId]);
      this.index(v.id, v.hostId, true);
      this.zoneAtStart.set(v.id, this.hosts.get(v.hostId)?.zone);
    }
    this.hard = (c.constraints ?? NONE).filter((x) => x.hard);
    this.none = this.hard.length === 0;
    this.global = globalConstraints(this.hard);
    this.byVm = constraintsByVm(this.hard.filter((x) => !this.global.includes(x)));
  }

  /** True when some hard constraint may judge every VM (planners then judge whole placements). */
  get hasGlobal(): boolean {
    return this.global.length > 0;
  }

  /** The hard constraints about a VM (its own, then those about every VM). */
  about(vmId: string): readonly Constraint[] {
    const own = this.byVm.get(vmId);
    if (!this.global.length) return own ?? NONE;
    return own ? [...own, ...this.global] : this.global;
  }

  /** The first hard constraint that refuses `vmId` on `hostId` (as well as where it runs now). */
  refuses(vmId: string, hostId: string, o?: CheckOptions): Violation | undefined {
    const cs = this.about(vmId);
    return cs.length ? admitsAll(cs, this, vmId, hostId, o) : undefined;
  }

  /** Whether `hostId` is in the zone the VM was in when planning started (both unzoned counts). */
  inZone(vmId: string, hostId: string): boolean {
    return this.hosts.get(hostId)?.zone === this.zoneAtStart.get(vmId);
  }

  /** A host switched on or off (maxOnline). */
  power(hostId: string, on: boolean): void {
    if (on) this.online.add(hostId);
    else this.online.delete(hostId);
  }

  private index(vmId: string, hostId: string, on: boolean): void {
    let set = this.onHost.get(hostId);
    if (!set) this.onHost.set(hostId, (set = new Set()));
    if (on) set.add(vmId);
    else set.delete(vmId);
  }

  /** The VM now runs only on `hostId`. */
  move(vmId: string, hostId: string): void {
    for (const h of this.placement.get(vmId) ?? []) this.index(vmId, h, false);
    this.placement.set(vmId, [hostId]);
    this.index(vmId, hostId, true);
  }

  /** The VM also runs on `hostId` (a migration started). */
  arrive(vmId: string, hostId: string): void {
    const l = this.placement.get(vmId);
    if (!l) this.placement.set(vmId, [hostId]);
    else if (!l.includes(hostId)) l.push(hostId);
    this.index(vmId, hostId, true);
  }

  /** The VM no longer runs on `hostId` (a migration finished). */
  leave(vmId: string, hostId: string): void {
    const l = this.placement.get(vmId)?.filter((h) => h !== hostId);
    if (l?.length) this.placement.set(vmId, l);
    else this.placement.delete(vmId);
    this.index(vmId, hostId, false);
  }

  /** Every violation of the hard constraints in the current placement. */
  violations(o?: CheckOptions): Violation[] {
    return this.none ? [] : checkAll(this.hard, this, o);
  }
}
