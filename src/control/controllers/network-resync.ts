/**
 * Network resync: every interval, every host that is up or in maintenance is pushed its whole
 * desired network state again (a new revision). An agent that restarted, or a push that failed
 * after a change was recorded (rules, floating IPs, a migration's source), converges on the next
 * round: level-triggered, as Kubernetes controllers resync their informers.
 */
import type { ControlPlane } from '../control-plane.ts';
import { controller, type Controller } from './controller.ts';

/** The resync loop. */
export function networkResyncController(
  cp: Pick<ControlPlane, 'networkPush'>,
  o: { intervalS: number },
): Controller {
  return controller('network-resync', o.intervalS, async () => {
    await cp.networkPush.resync();
  });
}
