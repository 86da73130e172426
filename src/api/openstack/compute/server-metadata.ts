/**
 * `/v2.1/servers/{id}/metadata[/{key}]`: a server's metadata, kept on nubis's VM record
 * (https://docs.openstack.org/api-ref/compute/#server-metadata-servers-metadata).
 */
import type { FastifyInstance } from 'fastify';
import { OsError, type OsDeps } from '../frame.ts';
import { findServer, refuseIfLocked, serverCaller } from './server-common.ts';
import { checkMetadata } from './server-create.ts';

const metaOf = (raw: string) => JSON.parse(raw || '{}') as Record<string, string>;

/** Register the server metadata routes. */
export function registerServerMetadata(s: FastifyInstance, deps: OsDeps): void {
  const { cp } = deps;
  const params = (req: { params: unknown }) => req.params as { id: string; key?: string };
  s.get('/v2.1/servers/:id/metadata', async (req) => {
    const { p } = await serverCaller(deps, req);
    return { metadata: metaOf((await findServer(cp, p, params(req).id)).metadata) };
  });
  for (const method of ['post', 'put'] as const)
    s[method]('/v2.1/servers/:id/metadata', async (req) => {
      const { p } = await serverCaller(deps, req);
      const v = await findServer(cp, p, params(req).id, 'vm:action');
      refuseIfLocked(p, v);
      const given = checkMetadata((req.body as { metadata?: unknown } | undefined)?.metadata);
      // POST merges into the set, PUT replaces it.
      const metadata = method === 'post' ? { ...metaOf(v.metadata), ...given } : given;
      await cp.vmAttributes.edit(p, v.id, { metadata });
      return { metadata };
    });
  s.get('/v2.1/servers/:id/metadata/:key', async (req) => {
    const { p } = await serverCaller(deps, req);
    const { id, key } = params(req);
    const m = metaOf((await findServer(cp, p, id)).metadata);
    if (!Object.hasOwn(m, key!)) throw new OsError(404, `Metadata item was not found`);
    return { meta: { [key!]: m[key!] } };
  });
  s.put('/v2.1/servers/:id/metadata/:key', async (req) => {
    const { p } = await serverCaller(deps, req);
    const { id, key } = params(req);
    const v = await findServer(cp, p, id, 'vm:action');
    refuseIfLocked(p, v);
    const meta = checkMetadata((req.body as { meta?: unknown } | undefined)?.meta, 'meta');
    if (Object.keys(meta).length !== 1 || !Object.hasOwn(meta, key!))
      throw new OsError(400, 'Request body and URI mismatch');
    await cp.vmAttributes.edit(p, v.id, { metadata: { ...metaOf(v.metadata), ...meta } });
    return { meta };
  });
  s.delete('/v2.1/servers/:id/metadata/:key', async (req, reply) => {
    const { p } = await serverCaller(deps, req);
    const { id, key } = params(req);
    const v = await findServer(cp, p, id, 'vm:action');
    refuseIfLocked(p, v);
    const m = metaOf(v.metadata);
    if (!Object.hasOwn(m, key!)) throw new OsError(404, `Metadata item was not found`);
    delete m[key!];
    await cp.vmAttributes.edit(p, v.id, { metadata: m });
    return reply.code(204).send();
  });
}
