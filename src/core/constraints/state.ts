/**
 * Helpers over a `ConstraintState`: building one, names for messages, where a VM runs, and the
 * failure domain of a host.
 */
import type { ConstraintState, HostAttributes, SpreadDomain } from './model.ts';

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
