/**
 * Simulated load: simulated hosts have no agent to measure their guests, so `nubis serve` reports a
 * synthetic CPU load for their running VMs, as a monitoring agent would; plots, power, energy and
 * load-aware audits then have something to work on. The load function is passed in (the simulator's).
 */
import type { ControlPlane } from '../control-plane.ts';
import type { Principal } from '../principal.ts';
import { controller, type Controller } from './controller.ts';

export interface SimLoadOptions {
  intervalS: number;
  /** CPU utilization (0..1) of a VM at a time (s). */
  utilization: (vmId: string, nowS: number) => number;
}

/** The simulated-load loop: one metrics report for the running VMs on hosts of driver `sim`. */
export function simLoadController(
  cp: Pick<ControlPlane, 'db' | 'recordMetrics'>,
  system: Principal,
  o: SimLoadOptions,
): Controller {
  return controller('sim-load', o.intervalS, async (nowS) => {
    const rows = await cp.db
      .selectFrom('vms')
      .innerJoin('hosts', 'hosts.id', 'vms.host_id')
      .select(['vms.id'])
      .where('hosts.driver', '=', 'sim')
      .where('vms.state', '=', 'running')
      .where('vms.deleted_at', 'is', null)
      .orderBy('vms.id')
      .execute();
    if (rows.length)
      await cp.recordMetrics(
        system,
        rows.map((r) => ({ vm: r.id, cpu: o.utilization(r.id, nowS) })),
      );
  });
}
