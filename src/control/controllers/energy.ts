/**
 * Energy integration: every host's power since the last integration is added to the energy per
 * host, zone and tenant. Write paths that change power (metrics, power actions) integrate first, so
 * the integral has no gaps; this loop keeps it current when nothing else happens. Reports add the
 * part not yet integrated in memory.
 */
import type { ControlPlane } from '../control-plane.ts';
import { controller, type Controller } from './controller.ts';

/** The energy-integration loop. */
export function energyController(
  cp: Pick<ControlPlane, 'integrateEnergy'>,
  o: { intervalS: number },
): Controller {
  return controller('energy', o.intervalS, () => cp.integrateEnergy());
}
