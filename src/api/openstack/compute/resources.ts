/** Nova's version documents and its resources other than servers (docs/openstack.md). */
import type { FastifyInstance } from 'fastify';
import type { OsDeps } from '../frame.ts';
import { registerAvailabilityZones } from './availability-zones.ts';
import { registerFlavors } from './flavors.ts';
import { registerHypervisors } from './hypervisors.ts';
import { registerKeypairs } from './keypairs.ts';
import { registerLimits } from './limits.ts';
import { registerMigrations } from './migrations.ts';
import { registerQuotaSets } from './quota-sets.ts';
import { registerServerGroups } from './server-groups.ts';
import { registerServices } from './services.ts';
import { registerVersions } from './versions.ts';

/** Register the version documents, flavors, keypairs, server groups, limits, quotas, zones, hypervisors, services, migrations. */
export function registerComputeResources(s: FastifyInstance, deps: OsDeps): void {
  registerVersions(s, deps);
  registerFlavors(s, deps);
  registerKeypairs(s, deps);
  registerServerGroups(s, deps);
  registerLimits(s, deps);
  registerQuotaSets(s, deps);
  registerAvailabilityZones(s, deps);
  registerHypervisors(s, deps);
  registerServices(s, deps);
  registerMigrations(s, deps);
}
