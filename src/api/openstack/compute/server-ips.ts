/** `GET /v2.1/servers/{id}/ips[/{network}]`: a server's fixed IPs by network (https://docs.openstack.org/api-ref/compute/#servers-ips-servers-ips). */
import type { FastifyInstance } from 'fastify';
import { OsError, type OsDeps } from '../frame.ts';
import { findServer, serverBundle, serverCaller } from './server-common.ts';
import { serverAddresses } from './server-view.ts';

/** Register the server IP routes. */
export function registerServerIps(s: FastifyInstance, deps: OsDeps): void {
  const { cp } = deps;
  s.get('/v2.1/servers/:id/ips', async (req) => {
    const { p } = await serverCaller(deps, req);
    const v = await findServer(cp, p, (req.params as { id: string }).id);
    return { addresses: serverAddresses(await serverBundle(cp, v), false) };
  });
  s.get('/v2.1/servers/:id/ips/:network', async (req) => {
    const { p } = await serverCaller(deps, req);
    const { id, network } = req.params as { id: string; network: string };
    const v = await findServer(cp, p, id);
    const all = serverAddresses(await serverBundle(cp, v), false);
    if (!Object.hasOwn(all, network)) throw new OsError(404, `Instance ${id} is not on network ${network}`);
    return { [network]: all[network] };
  });
}
