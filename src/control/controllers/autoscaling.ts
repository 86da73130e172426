/**
 * Autoscaling: scaling groups on `metric: cpu` grow or shrink on their members' mean measured CPU,
 * within their cooldowns (groups on other metrics scale when their metric is reported).
 */
import type { ControlPlane } from '../control-plane.ts';
import type { Principal } from '../principal.ts';
import { controller, type Controller } from './controller.ts';

/** The autoscaling loop. */
export function autoscalingController(
  cp: Pick<ControlPlane, 'scaling'>,
  system: Principal,
  o: { intervalS: number },
): Controller {
  return controller('autoscaling', o.intervalS, async () => {
    await cp.scaling.scaleOnCpu(system);
  });
}
