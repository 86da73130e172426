/**
 * Helpers over a `ConstraintState`: building one, names for messages, where a VM runs, and the
 * failure domain of a host.
 */
import type { ConstraintState, HostAttributes, Resource, SpreadDomain } from './model.ts';

/**
 * A state from hosts and (VM id, host id) pairs; a VM listed twice runs on both hosts (a live
 * migration in flight).
 * @example constraintState(hosts, [['vm-1', 'h1'], ['vm-2', 'h2']])
 */
export function constraintState(
  hosts: Iterable<HostAttributes>,
  placement: Iterable<readonly [vmId: string, hostId: string]>,
  vmNames?: ReadonlyMap<string, string>,
): ConstraintState {
  const where = new Map<string, string[]>();
  for (const [vm, host] of placement) {
    const l = where.get(vm);
    if (!l) where.set(vm, [host]);
    else if (!l.includes(host)) l.push(host);
  }
  return { hosts: new Map([...hosts].map((h) => [h.id, h])), placement: where, vmNames };
}

const NOWHERE: readonly string[] = [];

/** Hosts the VM runs on: none, one, or two while it migrates. */
export function hostsOf(s: ConstraintState, vmId: string): readonly string[] {
  return s.placement.get(vmId) ?? NOWHERE;
}

/** The VM's name for messages (its id when the state has no name for it). */
export function vmName(s: ConstraintState, vmId: string): string {
  return s.vmNames?.get(vmId) ?? vmId;
}

/** The host's attributes; a host the state does not know has only its id. */
export function hostOf(s: ConstraintState, hostId: string): HostAttributes {
  return s.hosts.get(hostId) ?? { id: hostId, name: hostId };
}

/** `web-1, web-2` */
export function names(s: ConstraintState, vmIds: readonly string[]): string {
  return vmIds.map((v) => vmName(s, v)).join(', ');
}

/** The host's failure domain over `rack`, `zone` or `datacenter`; a host without one is its own. */
export function domainOf(h: HostAttributes, over: SpreadDomain): string {
  const d = h[over];
  return d === undefined ? `host ${h.name}` : `${over} ${d}`;
}

/** The VMs running on a host (a migrating VM runs on two). */
export function vmsOn(s: ConstraintState, hostId: string): string[] {
  if (s.onHost) return [...(s.onHost.get(hostId) ?? [])];
  const out: string[] = [];
  for (const [v, hs] of s.placement) if (hs.includes(hostId)) out.push(v);
  return out;
}

/** The VM's demand of a resource (0 when the state does not know it). */
export function demandOf(s: ConstraintState, vmId: string, r: Resource): number {
  return s.demand?.get(vmId)?.[r] ?? 0;
}

/**
 * The demand of a resource on a host, less that of `without` (VMs on it): the host's `used` total
 * when the state has one, else the sum over the VMs `placement` puts there.
 */
export function loadOn(
  s: ConstraintState,
  hostId: string,
  r: Resource,
  without: readonly string[] = [],
): number {
  const total = s.used?.get(hostId)?.[r];
  const on = vmsOn(s, hostId);
  const base = total ?? on.reduce((x, v) => x + demandOf(s, v, r), 0);
  return base - without.filter((v) => on.includes(v)).reduce((x, v) => x + demandOf(s, v, r), 0);
}

/** Whether a host is on: in `online` when the state has it, else when a VM runs on it. */
export function isOnline(s: ConstraintState, hostId: string, without?: string): boolean {
  if (s.online) return s.online.has(hostId);
  if (s.onHost) {
    const on = s.onHost.get(hostId);
    return !!on && on.size > (without !== undefined && on.has(without) ? 1 : 0);
  }
  for (const [v, hs] of s.placement) if (v !== without && hs.includes(hostId)) return true;
  return false;
}
