/**
 * The hypervisor driver for a host: a local one by kind, or the host's agent (one client per agent
 * URL).
 *
 * Uses: no other service.
 */
import type { HypervisorDriver } from '../../core/hypervisor.ts';
import { AgentDriver } from '../../drivers/agent/agent-driver.ts';
import { ControlError } from '../errors.ts';
import { Service } from '../service.ts';

/** The hypervisor driver for a host: a local one by kind, or the host's agent (one client per agent URL). */
export class Drivers extends Service {
  private readonly agents = new Map<string, AgentDriver>();

  /** The driver that runs a host's guests: a local one by kind, or the host's agent. */
  driverFor(host: { driver: string; agent_url: string | null; name: string }): HypervisorDriver {
    if (host.driver === 'qemu') {
      if (!host.agent_url) throw new ControlError('BACKEND', `Host "${host.name}" has no agent URL`);
      let a = this.agents.get(host.agent_url);
      if (!a) {
        a = new AgentDriver(host.agent_url, this.ctx.agentToken);
        this.agents.set(host.agent_url, a);
      }
      return a;
    }
    const d = this.ctx.drivers[host.driver];
    if (!d) throw new ControlError('BACKEND', `No driver for hosts of kind "${host.driver}"`);
    return d;
  }
}
