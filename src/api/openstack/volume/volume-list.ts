/**
 * Cinder's volume listing over nubis's: the caller's project (every project for an admin asking
 * `all_tenants`; members' `all_tenants` is ignored, as the CLI's name lookup always sends it),
 * filters, sort and `limit`/`marker` pages with a `next` link.
 * https://docs.openstack.org/api-ref/block-storage/v3/#list-accessible-volumes-with-details
 */
import type { FastifyRequest } from 'fastify';
import type { VolumeView } from '../../../control/storage/volume-view.ts';
import { OsError, type OsDeps } from '../frame.ts';
import { queryParam, type VolumeCtx } from './context.ts';
import { cinderName, cinderZone } from './volume-view.ts';

/** The keys a listing sorts by, as Cinder names them. */
const SORT_KEYS: Record<string, (v: VolumeView) => string | number | null> = {
  id: (v) => v.id,
  name: (v) => cinderName(v),
  display_name: (v) => cinderName(v),
  status: (v) => v.state,
  size: (v) => v.sizeGiB,
  created_at: (v) => v.createdAt,
  updated_at: (v) => v.updatedAt,
  availability_zone: (v) => cinderZone(v),
  bootable: (v) => (v.bootable ? 1 : 0),
};

const truthy = (s: string | undefined) => s !== undefined && /^(1|true|yes|on|y|t)$/i.test(s);

/** Cinder's metadata filter: JSON, or the Python dict text Tempest's urlencode makes (`{'k': 'v'}`). */
function parseMetadataFilter(text: string): Record<string, string> {
  for (const t of [text, text.replace(/'/g, '"')]) {
    try {
      const m = JSON.parse(t) as unknown;
      if (m && typeof m === 'object' && !Array.isArray(m))
        return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, String(v)]));
    } catch {
      // the next form
    }
  }
  throw new OsError(400, `Invalid metadata filter: ${text}`);
}

/** The sort `[key, dir][]` of a request (`sort=k:d,k2` or `sort_key`/`sort_dir`; default newest first). */
function sortOf(req: FastifyRequest): [string, 'asc' | 'desc'][] {
  const sort = queryParam(req, 'sort');
  const pairs: [string, string][] = sort
    ? sort.split(',').map((s) => {
        const [k, d] = s.trim().split(':');
        return [k ?? '', d ?? 'desc'];
      })
    : (queryParam(req, 'sort_key') ?? 'created_at')
        .split(',')
        .map((k, i) => [k.trim(), (queryParam(req, 'sort_dir') ?? 'desc').split(',')[i] ?? 'desc']);
  return pairs.map(([k, d]) => {
    if (!SORT_KEYS[k]) throw new OsError(400, `Invalid sort key "${k}"`);
    if (d !== 'asc' && d !== 'desc') throw new OsError(400, `Invalid sort direction "${d}"`);
    return [k, d];
  });
}

function compare(a: string | number | null, b: string | number | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

/** One page of the volumes a listing shows, and the marker of the next page when it is full. */
export async function listVolumes(
  deps: OsDeps,
  ctx: VolumeCtx,
  req: FastifyRequest,
): Promise<{ page: VolumeView[]; next?: string }> {
  const everyone = ctx.admin && truthy(queryParam(req, 'all_tenants'));
  let vs = (await deps.cp.volumes.list(ctx.p)).filter((v) => everyone || v.tenantId === ctx.p.tenantId);
  const project = queryParam(req, 'project_id') ?? queryParam(req, 'tenant_id');
  if (everyone && project !== undefined) vs = vs.filter((v) => v.tenantId === project);
  const name = queryParam(req, 'name') ?? queryParam(req, 'display_name');
  if (name !== undefined) vs = vs.filter((v) => cinderName(v) === name);
  const status = queryParam(req, 'status');
  if (status !== undefined) vs = vs.filter((v) => v.state === status.toLowerCase());
  const bootable = queryParam(req, 'bootable');
  if (bootable !== undefined) vs = vs.filter((v) => v.bootable === truthy(bootable));
  const zone = queryParam(req, 'availability_zone');
  if (zone !== undefined) vs = vs.filter((v) => cinderZone(v) === zone);
  const md = queryParam(req, 'metadata');
  if (md !== undefined) {
    const want = parseMetadataFilter(md);
    vs = vs.filter((v) => Object.entries(want).every(([k, x]) => v.metadata[k] === x));
  }
  const sort = sortOf(req);
  vs.sort((a, b) => {
    for (const [k, d] of sort) {
      const c = compare(SORT_KEYS[k]!(a), SORT_KEYS[k]!(b));
      if (c) return d === 'asc' ? c : -c;
    }
    return compare(b.id, a.id);
  });
  const marker = queryParam(req, 'marker');
  if (marker !== undefined) {
    const i = vs.findIndex((v) => v.id === marker);
    if (i < 0) throw new OsError(404, `Marker "${marker}" could not be found`);
    vs = vs.slice(i + 1);
  }
  const offset = queryParam(req, 'offset');
  if (offset !== undefined) {
    if (!/^\d+$/.test(offset)) throw new OsError(400, `Invalid offset "${offset}"`);
    vs = vs.slice(Number(offset));
  }
  const limitText = queryParam(req, 'limit');
  if (limitText === undefined) return { page: vs };
  if (!/^\d+$/.test(limitText)) throw new OsError(400, `Invalid limit "${limitText}": a number ≥ 0`);
  const limit = Number(limitText);
  const page = vs.slice(0, limit);
  return { page, ...(limit > 0 && page.length === limit ? { next: page[page.length - 1]!.id } : {}) };
}
