/**
 * The driver of a host, through the `HostDrivers` port the composition root gave the control plane
 * (simulated hosts, or real hosts through their agents); the control plane never names a concrete
 * driver.
 */
import { hostRef, type HostDriver } from '../../core/host-driver.ts';
import { DriverError } from '../../core/hypervisor.ts';
import { ControlError } from '../errors.ts';
import { Service } from '../service.ts';

/** A host row, as far as reaching its driver goes. */
export interface DriverHost {
  id: string;
  name: string;
  driver: string;
  agent_url: string | null;
  power_address?: string | null;
  agent_credential?: string | null;
}

/** The driver of a host, through the `HostDrivers` port. */
export class Drivers extends Service {
  /** The driver that runs a host's guests. @throws ControlError BACKEND when the host cannot be reached */
  driverFor(host: DriverHost): HostDriver {
    try {
      return this.ctx.hostDrivers.forHost(hostRef(host));
    } catch (e) {
      if (e instanceof DriverError) throw new ControlError('BACKEND', e.message, undefined, { cause: e });
      throw e;
    }
  }
}
