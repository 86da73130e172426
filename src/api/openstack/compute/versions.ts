/**
 * Nova's version documents (no token): the list at `/openstack/compute/` (v2.0 first, as Tempest
 * asserts), the v2.0 document at `/v2/` and the v2.1 one at `/v2.1` (min 2.1, max 2.30), which
 * openstacksdk reads before its compute calls. Source: https://docs.openstack.org/api-ref/compute/#api-versions
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NOVA_MAX_MINOR, osBase, type OsDeps } from '../frame.ts';

const DESCRIBED_BY = 'http://docs.openstack.org/';

function versionDoc(req: FastifyRequest, deps: OsDeps, v: '2.0' | '2.1', full: boolean) {
  const href = `${osBase(req, deps.opts)}/compute/${v === '2.0' ? 'v2' : 'v2.1'}/`;
  const doc = {
    id: `v${v}`,
    status: v === '2.0' ? 'SUPPORTED' : 'CURRENT',
    version: v === '2.0' ? '' : `2.${NOVA_MAX_MINOR}`,
    min_version: v === '2.0' ? '' : '2.1',
    updated: v === '2.0' ? '2011-01-21T11:33:21Z' : '2013-07-23T11:33:21Z',
    links: [{ rel: 'self', href }],
  };
  if (!full) return doc;
  return {
    ...doc,
    links: [...doc.links, { rel: 'describedby', type: 'text/html', href: DESCRIBED_BY }],
    'media-types': [
      { base: 'application/json', type: `application/vnd.openstack.compute+json;version=${v}` },
    ],
  };
}

/** Register `GET /`, `/v2/`, `/v2.1` and `/v2.1/` (no token needed). */
export function registerVersions(s: FastifyInstance, deps: OsDeps): void {
  s.get('/', async (req) => ({
    versions: [versionDoc(req, deps, '2.0', false), versionDoc(req, deps, '2.1', false)],
  }));
  for (const url of ['/v2', '/v2/'])
    s.get(url, async (req) => ({ version: versionDoc(req, deps, '2.0', true) }));
  for (const url of ['/v2.1', '/v2.1/'])
    s.get(url, async (req) => ({ version: versionDoc(req, deps, '2.1', true) }));
}
