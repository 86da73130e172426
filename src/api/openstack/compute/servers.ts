/** Nova's servers: `/v2.1/servers…` (docs/openstack.md). */
import type { FastifyInstance } from 'fastify';
import type { OsDeps } from '../frame.ts';

/** Register the servers' routes. */
export function registerServers(_s: FastifyInstance, _deps: OsDeps): void {}
