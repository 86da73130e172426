/**
 * Node lifecycle: hosts whose agent has been silent longer than the timeout are declared failed
 * (Kubernetes' node lifecycle controller; the agent fences itself after the same timeout). Declaring
 * a host failed starts its evacuation; the HA controller finishes what that left undone.
 */
import type { ControlPlane } from '../control-plane.ts';
import type { Principal } from '../principal.ts';
import { controller, type Controller } from './controller.ts';

export interface NodeLifecycleOptions {
  /** Declare a host failed when its agent has been silent this long, s (> 0). */
  failAfterS: number;
  /** Seconds between checks; default a sixth of `failAfterS`, at least 1. */
  intervalS?: number;
}

/**
 * The heartbeat check as a controller (it acts on hosts of driver `qemu`: simulated hosts have no agent).
 * @throws RangeError if `failAfterS` is not a number > 0.
 */
export function nodeLifecycleController(
  cp: Pick<ControlPlane, 'checkHeartbeats'>,
  system: Principal,
  o: NodeLifecycleOptions,
): Controller {
  if (!(o.failAfterS > 0)) throw new RangeError(`failAfterS must be a number > 0, got ${o.failAfterS}`);
  return controller('node-lifecycle', o.intervalS ?? Math.max(1, o.failAfterS / 6), async () => {
    await cp.checkHeartbeats(system, o.failAfterS);
  });
}
