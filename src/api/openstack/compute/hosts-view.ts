/** How a nubis host reads as Nova's compute service and hypervisor (shared by ./hypervisors.ts, ./services.ts, ./availability-zones.ts). */
import type { ControlPlane } from '../../../control/control-plane.ts';
import { novaIntId } from './nova-common.ts';

/** A host as `cp.listHosts` returns it. */
export type NubisHost = Awaited<ReturnType<ControlPlane['listHosts']>>[number];

/** The service's `state`: `up` while the host runs (in maintenance too), `down` when off or failed. */
export const serviceState = (h: NubisHost): 'up' | 'down' =>
  h.state === 'up' || h.state === 'maintenance' ? 'up' : 'down';

/** The service's `status`: a host in maintenance takes no new VMs, as a disabled nova-compute. */
export const serviceStatus = (h: NubisHost): 'enabled' | 'disabled' =>
  h.state === 'maintenance' ? 'disabled' : 'enabled';

/** Why a service is disabled (null when enabled). */
export const disabledReason = (h: NubisHost): string | null =>
  h.state === 'maintenance' ? 'nubis: host in maintenance' : null;

/** The integer id of a host's `nova-compute` service. */
export const serviceId = (h: Pick<NubisHost, 'id'>): number => novaIntId(`nova-compute:${h.id}`);

/** When the host was last heard of (its agent's heartbeat), as Nova writes times. */
export const lastSeen = (h: NubisHost): string | null =>
  h.lastSeenAt ? new Date(h.lastSeenAt).toISOString().replace(/\.\d+Z$/, 'Z') : null;
