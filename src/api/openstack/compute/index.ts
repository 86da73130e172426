/** The OpenStack compute service (Nova v2.1, microversions 2.1 … 2.30): docs/openstack.md. */
import type { FastifyInstance } from 'fastify';
import type { OsDeps } from '../frame.ts';
import { registerComputeResources } from './resources.ts';
import { registerServers } from './servers.ts';

/** Register the compute service's routes (under `/openstack/compute`). */
export function registerCompute(s: FastifyInstance, deps: OsDeps): void {
  registerComputeResources(s, deps);
  registerServers(s, deps);
}
