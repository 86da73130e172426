/** The dashboard: a static single-page app (hash routes) served from web/dist, same origin as the API. */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { existsSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { gzipSync } from 'node:zlib';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

/** Serves `root/index.html` at `/` and `root/assets/*` (immutable, gzipped when asked). */
export function registerStaticWeb(app: FastifyInstance, root: string): void {
  // Compressed once per file and kept (the built assets are a few hundred KB).
  const gzipped = new Map<string, Buffer>();
  const send = (file: string, reply: FastifyReply, immutable: boolean, acceptEncoding?: string) => {
    const type = TYPES[extname(file)] ?? 'application/octet-stream';
    reply
      .header('content-type', type)
      .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .header('vary', 'accept-encoding');
    if (/\bgzip\b/.test(acceptEncoding ?? '') && /\.(js|css|html|svg|json)$/.test(file)) {
      let z = gzipped.get(file);
      if (!z) {
        z = gzipSync(readFileSync(file));
        if (immutable) gzipped.set(file, z);
      }
      return reply.header('content-encoding', 'gzip').send(z);
    }
    return reply.send(readFileSync(file));
  };
  app.get('/', async (req, reply) => {
    const index = join(root, 'index.html');
    if (!existsSync(index))
      return reply
        .code(503)
        .header('content-type', 'text/plain')
        .send('The dashboard is not built: run npm run build:web (npm ci does it)\n');
    return send(index, reply, false, req.headers['accept-encoding']);
  });
  app.get<{ Params: { '*': string } }>('/assets/*', async (req, reply) => {
    const rel = req.params['*'];
    if (!/^[A-Za-z0-9._-]+$/.test(rel))
      return reply.code(404).send({ code: 'NOT_FOUND', message: 'No such asset' });
    const file = join(root, 'assets', rel);
    if (!existsSync(file)) return reply.code(404).send({ code: 'NOT_FOUND', message: 'No such asset' });
    return send(file, reply, true, req.headers['accept-encoding']);
  });
}
