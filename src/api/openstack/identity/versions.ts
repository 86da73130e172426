/** Keystone's version documents (no token): GET / (300) and GET /v3 (contract section 3). */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { osBase, type OsDeps } from '../frame.ts';

function version(req: FastifyRequest, d: OsDeps) {
  return {
    id: 'v3.14',
    status: 'stable',
    updated: '2020-04-07T00:00:00Z',
    links: [{ rel: 'self', href: `${osBase(req, d.opts)}/identity/v3/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
  };
}

/** GET /, GET /v3, GET /v3/. */
export function versionRoutes(s: FastifyInstance, d: OsDeps): void {
  s.get('/', async (req, reply) => reply.code(300).send({ versions: { values: [version(req, d)] } }));
  s.get('/v3', async (req) => ({ version: version(req, d) }));
  s.get('/v3/', async (req) => ({ version: version(req, d) }));
}
