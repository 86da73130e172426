/**
 * Boot completion: a simulated host switched on is `booting` until its boot time has passed, then
 * `up` (real hosts are up when their agent reports). Reads never promote: this loop does.
 */
import type { ControlPlane } from '../control-plane.ts';
import { controller, type Controller } from './controller.ts';

/** The boot-promotion loop. */
export function bootController(
  cp: Pick<ControlPlane, 'promoteBooted'>,
  o: { intervalS: number },
): Controller {
  return controller('boot', o.intervalS, () => cp.promoteBooted());
}
