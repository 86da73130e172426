/**
 * Cinder's volume metadata: `/volumes/{id}/metadata` (GET, POST merges, PUT replaces) and
 * `/metadata/{key}` (GET, PUT, DELETE), on nubis's volume metadata (cp.volumeDetails).
 * https://docs.openstack.org/api-ref/block-storage/v3/#volume-metadata
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { OsError, type OsDeps } from '../frame.ts';
import { parseInput, v3Route } from './context.ts';

const items = z.record(z.string().min(1).max(255), z.string().max(255));

/** Register the metadata routes. */
export function registerVolumeMetadata(s: FastifyInstance, deps: OsDeps): void {
  const { cp } = deps;
  const idOf = (req: { params: unknown }) => (req.params as { id: string }).id;
  const keyOf = (req: { params: unknown }) => (req.params as { key: string }).key;

  v3Route(s, deps, 'GET', '/volumes/:id/metadata', async (ctx, req) => ({
    metadata: await cp.volumeDetails.metadata(ctx.p, idOf(req)),
  }));
  for (const method of ['POST', 'PUT'] as const)
    v3Route(s, deps, method, '/volumes/:id/metadata', async (ctx, req) => {
      const b = parseInput(z.object({ metadata: items }), req.body, 'metadata');
      const all = await cp.volumeDetails.setMetadata(ctx.p, idOf(req), b.metadata, method === 'PUT');
      return { metadata: method === 'PUT' ? b.metadata : all };
    });
  v3Route(s, deps, 'GET', '/volumes/:id/metadata/:key', async (ctx, req) => {
    const md = await cp.volumeDetails.metadata(ctx.p, idOf(req));
    const key = keyOf(req);
    if (!(key in md)) throw new OsError(404, `Volume has no metadata key "${key}"`);
    return { meta: { [key]: md[key] } };
  });
  v3Route(s, deps, 'PUT', '/volumes/:id/metadata/:key', async (ctx, req) => {
    const b = parseInput(z.object({ meta: items }), req.body, 'meta');
    const key = keyOf(req);
    if (Object.keys(b.meta).length !== 1 || !(key in b.meta))
      throw new OsError(400, `The body must be {"meta": {"${key}": value}}`);
    await cp.volumeDetails.setMetadata(ctx.p, idOf(req), b.meta);
    return { meta: b.meta };
  });
  v3Route(s, deps, 'DELETE', '/volumes/:id/metadata/:key', async (ctx, req, reply) => {
    await cp.volumeDetails.deleteMetadataKey(ctx.p, idOf(req), keyOf(req));
    return reply.code(200).send();
  });
}
