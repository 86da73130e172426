/**
 * The OpenStack volume service (Cinder v3, docs/openstack.md): version documents, then every route
 * at `/v3/...` and `/v3/{project_id}/...`, each a translation to nubis's volumes. Only microversion
 * 3.0: a request asking for it (or `latest`) gets it echoed; a higher one is 406.
 * https://docs.openstack.org/api-ref/block-storage/v3/#api-versions
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { osBase, OsError, type OsDeps } from '../frame.ts';
import { registerVolumeActions } from './actions.ts';
import { registerVolumeMetadata } from './metadata.ts';
import { registerVolumeResources } from './resources.ts';
import { registerVolumes } from './volumes.ts';

/** Cinder's version document, with its self link. */
function version(root: string) {
  return {
    id: 'v3.0',
    status: 'CURRENT',
    version: '3.0',
    min_version: '3.0',
    updated: '2026-11-30T00:00:00Z',
    links: [
      { rel: 'describedby', type: 'text/html', href: 'https://docs.openstack.org/' },
      { rel: 'self', href: `${root}/v3/` },
    ],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.volume+json;version=3' }],
  };
}

/** The volume microversion a request asks for (only 3.0 and `latest` exist). @throws OsError 406 */
function checkVolumeVersion(req: FastifyRequest): boolean {
  const h = req.headers['openstack-api-version'];
  const m = /(?:^|,)\s*volume\s+([^,\s]+)/i.exec(Array.isArray(h) ? h.join(',') : (h ?? ''));
  if (!m) return false;
  const asked = m[1]!.toLowerCase();
  if (asked !== 'latest' && !/^3\.0*$/.test(asked))
    throw new OsError(406, `Version ${m[1]} is not supported by the API. Minimum is 3.0 and maximum is 3.0.`);
  return true;
}

/** Register the volume service's routes (paths relative to its prefix, see SERVICE_PATHS). */
export function registerVolume(s: FastifyInstance, deps: OsDeps): void {
  s.addHook('onRequest', async (req, reply) => {
    reply.header('vary', 'OpenStack-API-Version');
    if (checkVolumeVersion(req)) reply.header('openstack-api-version', 'volume 3.0');
  });
  const root = (req: FastifyRequest) => `${osBase(req, deps.opts)}/volume`;
  s.get('/', async (req, reply) => reply.code(300).send({ versions: [version(root(req))] }));
  for (const url of ['/v3', '/v3/']) s.get(url, async (req) => ({ versions: [version(root(req))] }));
  registerVolumes(s, deps);
  registerVolumeActions(s, deps);
  registerVolumeMetadata(s, deps);
  registerVolumeResources(s, deps);
}
