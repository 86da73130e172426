/**
 * nubis speaks OpenStack (docs/openstack.md): Keystone v3, Nova v2.1 (microversions up to 2.30),
 * Glance v2, Neutron v2.0 and Cinder v3 under `/openstack`, each a translation to and from nubis's
 * own services (one model: tenants are projects, quotas, metering and constraints apply).
 */
import type { FastifyInstance } from 'fastify';
import { registerCompute } from './compute/index.ts';
import { osScope, type OsDeps } from './frame.ts';
import { registerIdentity } from './identity/index.ts';
import { registerImage } from './image/index.ts';
import { registerNetwork } from './network/index.ts';
import { registerVolume } from './volume/index.ts';

/** Add the OpenStack services to nubis's API. */
export function registerOpenStack(app: FastifyInstance, deps: OsDeps): void {
  osScope(app, 'identity', deps, registerIdentity);
  osScope(app, 'compute', deps, registerCompute);
  osScope(app, 'image', deps, registerImage);
  osScope(app, 'network', deps, registerNetwork);
  osScope(app, 'volume', deps, registerVolume);
}
