/**
 * Automation: per zone, a consolidation audit whose plan is proposed (partial) or applied (full)
 * as the zone's automation level says, after plans that wait for hosts to switch on are resumed.
 */
import type { ControlPlane } from '../control-plane.ts';
import type { Principal } from '../principal.ts';
import { controller, type Controller } from './controller.ts';

/** The automation loop (the audit rounds; energy and autoscaling have their own loops). */
export function automationController(
  cp: Pick<ControlPlane, 'automation'>,
  system: Principal,
  o: { intervalS: number },
): Controller {
  return controller('automation', o.intervalS, async () => {
    await cp.automation.auditRound(system);
  });
}
