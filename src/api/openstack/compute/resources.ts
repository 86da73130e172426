/** Nova's version documents and its resources other than servers (docs/openstack.md). */
import type { FastifyInstance } from 'fastify';
import type { OsDeps } from '../frame.ts';

/** Register the version documents, flavors, keypairs, server groups, limits, quotas, zones, hypervisors, services, migrations. */
export function registerComputeResources(_s: FastifyInstance, _deps: OsDeps): void {}
