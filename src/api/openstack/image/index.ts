/**
 * The OpenStack image service, Glance v2 (docs/openstack.md; https://docs.openstack.org/api-ref/image/v2/):
 * images are nubis's image records (`cp.imageRecords`), their data goes through nubis's image
 * registry (`cp.images`: streamed to the image folder, checksummed on the way), so a VM boots an
 * image uploaded here like one uploaded with `POST /v1/images/:name/data`.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { OsError, osBase, osPrincipal, type OsDeps } from '../frame.ts';
import { createFields, patchFields } from './input.ts';
import { listImages } from './list.ts';
import { registerMembers } from './members.ts';
import { glanceImage, imageSchema, imagesSchema } from './view.ts';

/** Glance's JSON-patch media type (https://docs.openstack.org/api-ref/image/v2/#update-image). */
export const IMAGE_PATCH_TYPE = 'application/openstack-images-v2.1-json-patch';
/** The older one Tempest sends (`{"replace": "/name", "value": …}`, JSON-patch draft 10). */
const IMAGE_PATCH_TYPE_20 = 'application/openstack-images-v2.0-json-patch';

/** The API versions nubis answers under `/v2` (no import, no stores: the contract's section 10). */
const VERSIONS = ['2.6', '2.5', '2.4', '2.3', '2.2', '2.1', '2.0'];

type IdParams = { id: string };

/** Register the image service's routes (paths relative to its prefix, see SERVICE_PATHS). */
export function registerImage(s: FastifyInstance, { cp, opts }: OsDeps): void {
  s.addContentTypeParser(
    [IMAGE_PATCH_TYPE, IMAGE_PATCH_TYPE_20],
    { parseAs: 'string' },
    (_req, body, done) => {
      try {
        done(null, JSON.parse(String(body)));
      } catch {
        done(new OsError(400, 'Malformed request body: not a JSON patch'), undefined);
      }
    },
  );
  // Image data is streamed from `req.raw` by the route, never buffered whole (the root's parser leaves it unread).
  if (!s.hasContentTypeParser('application/octet-stream'))
    s.addContentTypeParser('application/octet-stream', (_req, _payload, done) => done(null, undefined));

  const principal = (req: FastifyRequest) => osPrincipal(cp, req);

  s.get('/', async (req, reply) => {
    const href = `${osBase(req, opts)}/image/v2/`;
    return reply.code(300).send({
      versions: VERSIONS.map((v, n) => ({
        id: `v${v}`,
        status: n === 0 ? 'CURRENT' : 'SUPPORTED',
        links: [{ rel: 'self', href }],
      })),
    });
  });

  s.get('/v2/schemas/image', async (req) => {
    await principal(req);
    return imageSchema();
  });
  s.get('/v2/schemas/images', async (req) => {
    await principal(req);
    return imagesSchema();
  });

  s.post('/v2/images', async (req, reply) => {
    const p = await principal(req);
    const { fields, id } = createFields(req.body);
    const i = await cp.imageRecords.register(p, fields, id);
    return reply
      .code(201)
      .header('location', `${osBase(req, opts)}/image/v2/images/${i.id}`)
      .send(glanceImage(i));
  });

  s.get('/v2/images', async (req) => {
    const p = await principal(req);
    const shared = await cp.imageMembers.sharedWith(p);
    return listImages(await cp.imageRecords.list(p), req.query as Record<string, string>, p.tenantId, shared);
  });
  registerMembers(s, { cp, opts });

  s.get<{ Params: IdParams }>('/v2/images/:id', async (req) => {
    const p = await principal(req);
    return glanceImage(await cp.imageRecords.get(p, req.params.id));
  });

  s.patch<{ Params: IdParams }>('/v2/images/:id', async (req, reply) => {
    const p = await principal(req);
    const ct = String(req.headers['content-type'] ?? '');
    if (![IMAGE_PATCH_TYPE, IMAGE_PATCH_TYPE_20, 'application/json'].some((m) => ct.startsWith(m)))
      throw new OsError(415, `Send the changes as ${IMAGE_PATCH_TYPE}`);
    const i = await cp.imageRecords.get(p, req.params.id);
    const changed = await cp.imageRecords.update(p, i.id, patchFields(i, req.body));
    return reply.header('content-type', 'application/json; charset=utf-8').send(glanceImage(changed));
  });

  s.delete<{ Params: IdParams }>('/v2/images/:id', async (req, reply) => {
    const p = await principal(req);
    await cp.imageRecords.delete(p, req.params.id);
    return reply.code(204).send();
  });

  s.put<{ Params: IdParams }>('/v2/images/:id/file', async (req, reply) => {
    const p = await principal(req);
    const ct = String(req.headers['content-type'] ?? 'application/octet-stream');
    if (!ct.startsWith('application/octet-stream'))
      throw new OsError(415, 'Send the image data with Content-Type application/octet-stream');
    await cp.imageRecords.get(p, req.params.id);
    await cp.images.receiveData(p, req.params.id, req.raw);
    return reply.code(204).send();
  });

  s.get<{ Params: IdParams }>('/v2/images/:id/file', async (req, reply) => {
    const p = await principal(req);
    const i = await cp.imageRecords.get(p, req.params.id);
    if (i.status === 'deactivated' && p.role !== 'admin')
      throw new OsError(403, 'The requested image has been deactivated. Image data download is forbidden.');
    if (!i.file || !i.sha256 || (i.status !== 'active' && i.status !== 'deactivated'))
      return reply.code(204).send();
    const { data } = await cp.images.download(p, i.id);
    return reply
      .header('content-type', 'application/octet-stream')
      .header('content-length', String(Number(i.size_bytes ?? 0)))
      .header('content-md5', i.md5 ?? '')
      .send(Readable.from(data));
  });

  for (const action of ['deactivate', 'reactivate'] as const)
    s.post<{ Params: IdParams }>(`/v2/images/:id/actions/${action}`, async (req, reply) => {
      const p = await principal(req);
      await cp.imageRecords.setActive(p, req.params.id, action === 'reactivate');
      return reply.code(204).send();
    });

  s.put<{ Params: IdParams & { tag: string } }>('/v2/images/:id/tags/:tag', async (req, reply) => {
    const p = await principal(req);
    if (req.params.tag.length > 255) throw new OsError(400, 'A tag is at most 255 characters');
    await cp.imageRecords.tag(p, req.params.id, req.params.tag, true);
    return reply.code(204).send();
  });
  s.delete<{ Params: IdParams & { tag: string } }>('/v2/images/:id/tags/:tag', async (req, reply) => {
    const p = await principal(req);
    await cp.imageRecords.tag(p, req.params.id, req.params.tag, false);
    return reply.code(204).send();
  });
}
