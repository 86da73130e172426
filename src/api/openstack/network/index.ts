/** The OpenStack network service's routes (docs/openstack.md). */
import type { FastifyInstance } from 'fastify';
import type { OsDeps } from '../frame.ts';

/** Register the network service's routes (paths relative to its prefix, see SERVICE_PATHS). */
export function registerNetwork(_s: FastifyInstance, _deps: OsDeps): void {}
