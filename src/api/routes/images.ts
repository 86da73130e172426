/** The image registry: upload (a streamed body), show, download (by people and by hosts). */
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { RouteModule } from '../route-def.ts';
import { idParam } from '../schemas.ts';

const imageName = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'letters, digits, ".", "_" or "-", starting with a letter or digit');

/** Send an image's bytes (with its checksum and size in headers). */
function sendData(
  reply: FastifyReply,
  d: {
    image: { id: string; sha256: string | null; sizeBytes: number | null };
    data: AsyncIterable<Uint8Array>;
  },
) {
  reply
    .header('content-type', 'application/octet-stream')
    .header('content-length', String(d.image.sizeBytes ?? 0))
    .header('x-image-sha256', d.image.sha256 ?? '')
    .header('content-disposition', `attachment; filename="${d.image.id}"`);
  return reply.send(Readable.from(d.data));
}

const bearer = (req: FastifyRequest) => {
  const h = req.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice(7).trim() : undefined;
};

/** POST/GET /v1/images/:id/data, GET /v1/images/:id, GET /v1/agents/images/:id/data. */
export const imageRoutes: RouteModule = (route, { cp }) => {
  route({
    method: 'POST',
    url: '/v1/images/:id/data',
    summary:
      'Upload a new image named :id (body: the qcow2 or raw file, Content-Type application/octet-stream; streamed, checksummed, format checked by qemu-img); ?public=true for admins',
    tag: 'images',
    status: 201,
    params: z.object({ id: imageName }).strict(),
    query: z.object({ public: z.enum(['true', 'false']).optional() }).strict(),
    handler: async ({ p, params, query, req }) =>
      cp.images.upload(p, params.id, req.raw, {
        public: query.public === 'true',
        contentType: String(req.headers['content-type'] ?? ''),
      }),
  });
  route({
    method: 'GET',
    url: '/v1/images/:id',
    summary: 'An image (by id or name): format, sizes, checksum, visibility, status',
    tag: 'images',
    params: idParam,
    handler: async ({ p, params }) => cp.images.get(p, params.id),
  });
  route({
    method: 'GET',
    url: '/v1/images/:id/data',
    summary: "Download an uploaded image's file (public images, or your tenant's)",
    tag: 'images',
    params: idParam,
    handler: async ({ p, params, reply }) => {
      return sendData(reply, await cp.images.download(p, params.id));
    },
  });
  route({
    method: 'GET',
    url: '/v1/agents/images/:id/data',
    summary:
      'A host agent downloads an image to cache it (Authorization: Bearer with the host credential; checks it by the X-Image-Sha256 header)',
    tag: 'hosts',
    open: true,
    params: idParam,
    handler: async ({ params, req, reply }) => {
      return sendData(reply, await cp.images.downloadForHost(bearer(req), params.id));
    },
  });
};
