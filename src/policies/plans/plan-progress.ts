/**
 * A plan's cluster as its timed actions start and end: where each VM is, what each host holds
 * (a migrating VM counts on both hosts until it ends), each host's power state, the VMs moving and
 * the migrations touching each host. The scheduler and the timed-plan checker both walk it.
 */
import { PlanConstraints } from './plan-constraints.ts';
import type { PlanAction, PlanCluster, PlanVm } from './plan.ts';

/** vCPUs and memory. */
export type Amounts = { vcpus: number; memoryMiB: number };

/** The state of a cluster while a plan runs (mutable; the caller starts actions, `end` ends them). */
export class PlanProgress {
  /** The VMs by id. */
  readonly vms: Map<string, PlanVm>;
  /** Schedulable capacity by host id. */
  readonly cap: Map<string, Amounts>;
  /** What each host holds now, by host id. */
  readonly used: Map<string, Amounts>;
  /** Each host's power state, by host id. */
  readonly state: Map<string, string>;
  /** Each VM's host, by VM id (a migrating VM's source until it ends). */
  readonly where: Map<string, string>;
  /** The plan's constraints, kept up to date with the moves. */
  readonly pc: PlanConstraints;
  /** The VMs migrating now. */
  readonly moving = new Set<string>();
  /** How many running migrations touch each host (as source or target). */
  readonly touching = new Map<string, number>();
  /** How many migrations run now. */
  migrating = 0;

  constructor(c: PlanCluster) {
    this.vms = new Map(c.vms.map((v) => [v.id, v]));
    this.cap = new Map(c.hosts.map((h) => [h.id, h.capacity]));
    this.used = new Map(c.hosts.map((h) => [h.id, { vcpus: 0, memoryMiB: 0 }]));
    for (const v of c.vms) {
      const u = this.used.get(v.hostId);
      if (u) {
        u.vcpus += v.vcpus;
        u.memoryMiB += v.memoryMiB;
      }
    }
    this.state = new Map<string, string>(c.hosts.map((h) => [h.id, h.state]));
    this.where = new Map(c.vms.map((v) => [v.id, v.hostId]));
    this.pc = new PlanConstraints(c);
  }

  /** Ends action A (started before): a host switched on is up; a migrated VM leaves its source. */
  end(a: PlanAction): void {
    if (a.type === 'power-on') {
      this.state.set(a.hostId, 'up');
      this.pc.power(a.hostId, true);
    } else if (a.type === 'migrate') {
      const v = this.vms.get(a.vmId)!,
        s = this.used.get(a.from);
      if (s) {
        s.vcpus -= v.vcpus;
        s.memoryMiB -= v.memoryMiB;
      }
      this.pc.leave(a.vmId, a.from);
      this.where.set(a.vmId, a.to);
      this.moving.delete(a.vmId);
      this.migrating--;
      for (const h of [a.from, a.to]) this.touching.set(h, this.touching.get(h)! - 1);
    }
  }
}
