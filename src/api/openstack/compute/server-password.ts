/**
 * `/v2.1/servers/{id}/os-server-password`: the encrypted password a guest posts to Nova's metadata
 * service. nubis has no metadata-service password: always the empty one Nova shows when none was set;
 * clearing it is 204 (https://docs.openstack.org/api-ref/compute/#servers-password-servers-os-server-password).
 */
import type { FastifyInstance } from 'fastify';
import type { OsDeps } from '../frame.ts';
import { findServer, serverCaller } from './server-common.ts';

/** Register the server password routes. */
export function registerServerPassword(s: FastifyInstance, deps: OsDeps): void {
  const { cp } = deps;
  s.get('/v2.1/servers/:id/os-server-password', async (req) => {
    const { p } = await serverCaller(deps, req);
    await findServer(cp, p, (req.params as { id: string }).id);
    return { password: '' };
  });
  s.delete('/v2.1/servers/:id/os-server-password', async (req, reply) => {
    const { p } = await serverCaller(deps, req);
    await findServer(cp, p, (req.params as { id: string }).id, 'vm:action');
    return reply.code(204).send();
  });
}
