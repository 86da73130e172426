/**
 * High availability: a failed host's VMs are evacuated (Masakari's instance recovery). Declaring a
 * host failed evacuates it at once; this loop finds failed hosts that still hold VMs to act on (an
 * evacuation a crash interrupted, an HA VM that found no room last time) and calls the same
 * evacuation service again. Evacuation is idempotent: VMs already restarted have left the host, and
 * VMs already given up are in `error`. An HA VM whose local volumes are on the failed host waits for
 * it (in `error`, a `vm.ha.waiting` event) and is restarted there when the host is up again.
 */
import type { ControlPlane } from '../control-plane.ts';
import type { Principal } from '../principal.ts';
import { controller, type Controller } from './controller.ts';

/** Failed hosts that still hold a live VM that is not in `error`, or an HA VM whose restart failed (in `error`), in name order. */
export async function hostsToEvacuate(cp: Pick<ControlPlane, 'db'>): Promise<string[]> {
  const rows = await cp.db
    .selectFrom('hosts')
    .innerJoin('vms', 'vms.host_id', 'hosts.id')
    .select(['hosts.id', 'hosts.name'])
    .where('hosts.state', '=', 'failed')
    .where('vms.deleted_at', 'is', null)
    .where((eb) => eb.or([eb('vms.state', '!=', 'error'), eb('vms.ha', '=', 1)]))
    .distinct()
    .orderBy('hosts.name')
    .execute();
  return rows.map((r) => r.id);
}

/**
 * The HA loop: evacuate failed hosts that still hold live VMs, and restart on their own host the HA
 * VMs that waited for it (their local volumes are there) once it is up again.
 */
export function haController(
  cp: Pick<ControlPlane, 'db' | 'evacuate' | 'ha'>,
  system: Principal,
  o: { intervalS: number },
): Controller {
  return controller('ha', o.intervalS, async () => {
    for (const hostId of await hostsToEvacuate(cp)) await cp.evacuate(system, hostId);
    await cp.ha.restartReturned(system);
  });
}
