/**
 * The lower bound next to a consolidation plan: the fewest hosts any placement of the cluster's VMs
 * could use (L1/L2 per dimension, bounds.ts), the hosts the plan's result uses, and the gap between
 * them. Plans keep every VM in its zone, so the bound is the sum of the zones' bounds. Pure.
 */
import type { PackHost, PackVm } from '../optimize/instance.ts';
import type { PlanAction, PlanCluster } from '../plans/plan.ts';
import { boundGap, lowerBound } from './bounds.ts';

/** The bound and the plan's result, reported with every plan. */
export interface PlanBound {
  /** Fewest hosts with VMs that any placement (in the VMs' zones) needs. */
  lowerBoundHosts: number;
  /** Hosts with VMs once the plan's migrations are done. */
  hostsAfter: number;
  /** (hostsAfter − lowerBoundHosts) / hostsAfter: how far the result may be from the best. */
  gap: number;
}

/**
 * Bound and result of a plan on a cluster. Every listed host counts as one that could take VMs (a
 * plan may switch hosts on; counting more hosts only weakens the bound, it never makes it wrong);
 * VMs on hosts the cluster does not list are left out.
 */
export function planBound(c: PlanCluster, actions: readonly PlanAction[]): PlanBound {
  const hostOf = new Map(c.hosts.map((h) => [h.id, h]));
  const at = new Map(c.vms.filter((v) => hostOf.has(v.hostId)).map((v) => [v.id, v.hostId]));
  for (const a of actions)
    if (a.type === 'migrate' && at.has(a.vmId) && hostOf.has(a.to)) at.set(a.vmId, a.to);
  const hostsAfter = new Set(at.values()).size;
  const zones = new Map<string, { dims: string[]; hosts: PackHost[]; vms: PackVm[] }>();
  const zone = (z: string | undefined) => {
    const k = z ?? '';
    let p = zones.get(k);
    if (!p) zones.set(k, (p = { dims: ['vcpus', 'memoryMiB'], hosts: [], vms: [] }));
    return p;
  };
  for (const h of c.hosts)
    zone(h.zone).hosts.push({
      id: h.id,
      name: h.name,
      capacity: [h.capacity.vcpus, h.capacity.memoryMiB],
      idleW: h.idleW,
      on: h.state === 'up',
    });
  for (const v of c.vms)
    if (hostOf.has(v.hostId))
      zone(hostOf.get(v.hostId)!.zone).vms.push({
        id: v.id,
        demand: [v.vcpus, v.memoryMiB],
        hostId: v.hostId,
        moveCostS: 0,
      });
  let lb = 0;
  for (const p of zones.values()) lb += Math.min(lowerBound(p).hosts, p.hosts.length);
  return { lowerBoundHosts: lb, hostsAfter, gap: boundGap(hostsAfter, lb) };
}

/** The bound as a person reads it, for a plan's summary line. */
export function describePlanBound(b: PlanBound): string {
  return `${b.hostsAfter} host(s) with VMs after, lower bound ${b.lowerBoundHosts} (gap ${(b.gap * 100).toFixed(1)} %)`;
}
