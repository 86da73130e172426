/**
 * The `HostDrivers` factory the composition roots build: simulated hosts get a view of the shared
 * simulated driver, real hosts the driver of their agent (one per bound agent URL and credential,
 * reused). Each agent is reached only at the URL bound at its enrollment, with the credential it
 * issued then: there is no secret shared between hosts.
 */
import type { HostDriver, HostDrivers, HostRef } from '../core/host-driver.ts';
import { DriverError } from '../core/hypervisor.ts';
import { AgentDriver } from './agent/agent-driver.ts';
import type { AgentTls } from './agent/agent-request.ts';
import type { SimHypervisorDriver } from './sim/sim-driver.ts';
import { SimHostDriver } from './sim/sim-host-driver.ts';

/** What the factory is built from (all optional). */
export interface HostDriversOptions {
  /** The driver that holds every simulated host's guests; without it, simulated hosts are refused. */
  sim?: SimHypervisorDriver;
  /** Pinned CA (and client certificate for mutual TLS) for agents reached over HTTPS. */
  agentTls?: AgentTls;
}

/**
 * Build the factory.
 * @example createHostDrivers({ sim: new SimHypervisorDriver(clock) }).forHost(hostRef(row)).list()
 */
export function createHostDrivers(
  o: HostDriversOptions,
): HostDrivers & { readonly sim?: SimHypervisorDriver } {
  const agents = new Map<string, AgentDriver>();
  const sims = new Map<string, SimHostDriver>();
  return {
    sim: o.sim,
    forHost(host: HostRef): HostDriver {
      if (host.driver === 'qemu') {
        if (!host.agentUrl) throw new DriverError('BACKEND', `Host "${host.name}" has no agent URL`);
        if (!host.agentCredential)
          throw new DriverError(
            'BACKEND',
            `Host "${host.name}" has no agent credential: enroll its agent (nubis agent --join URL) first`,
          );
        const key = `${host.id} ${host.agentUrl} ${host.agentCredential}`;
        let a = agents.get(key);
        if (!a) agents.set(key, (a = new AgentDriver(host.agentUrl, host.agentCredential, o.agentTls)));
        return a;
      }
      if (host.driver === 'sim' && o.sim) {
        let s = sims.get(host.id);
        if (!s || s.host.name !== host.name) sims.set(host.id, (s = new SimHostDriver(o.sim, host)));
        return s;
      }
      throw new DriverError('BACKEND', `No driver for hosts of kind "${host.driver}" (host "${host.name}")`);
    },
  };
}
