/**
 * `GET /v2/images`: filters, sorting and paging over the images the caller sees
 * (https://docs.openstack.org/api-ref/image/v2/#list-images): `name status visibility owner
 * container_format disk_format size size_min size_max tag os_hidden` and custom properties,
 * `sort_key`/`sort_dir` or `sort=key:dir,…`, `limit` and `marker`; newest first by default.
 */
import type { ImageRecord } from '../../../control/storage/image-records.ts';
import { OsError } from '../frame.ts';
import { glanceImage } from './view.ts';

/** Glance's default page size and its cap (`limit_param_default`, `api_limit_max`). */
const DEFAULT_LIMIT = 25;
const MAX_LIMIT = 1000;

const SORT_KEYS = new Set([
  'name',
  'status',
  'container_format',
  'disk_format',
  'size',
  'id',
  'created_at',
  'updated_at',
  'visibility',
  'min_disk',
  'min_ram',
  'owner',
]);

/** Query keys that are not filters on a field. */
const CONTROL = new Set(['limit', 'marker', 'sort', 'sort_key', 'sort_dir', 'member_status']);

type Query = Record<string, string | string[] | undefined>;
type Doc = Record<string, unknown>;

const all = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const one = (q: Query, k: string) => all(q[k]).at(-1);

function bad(message: string): never {
  throw new OsError(400, message);
}

function intParam(q: Query, k: string): number | undefined {
  const v = one(q, k);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) bad(`Invalid ${k} value: ${v} (a non-negative integer)`);
  return Number(v);
}

/** `sort=k1:dir,k2` or `sort_key`(repeated)+`sort_dir`: a list of keys and directions. */
function sortOrder(q: Query): [string, 1 | -1][] {
  const sort = one(q, 'sort');
  const keys = all(q.sort_key);
  if (sort !== undefined && (keys.length || q.sort_dir !== undefined))
    bad('The sort parameter cannot be combined with sort_key or sort_dir');
  const dirOf = (d: string | undefined): 1 | -1 => {
    if (d === undefined || d === 'desc') return -1;
    if (d === 'asc') return 1;
    return bad(`Invalid sort direction: ${d} (asc or desc)`);
  };
  const pairs: [string, 1 | -1][] =
    sort !== undefined
      ? sort.split(',').map((part) => {
          const [k, d] = part.trim().split(':');
          return [k ?? '', dirOf(d)] as [string, 1 | -1];
        })
      : keys.length
        ? keys.map((k, n) => [k, dirOf(all(q.sort_dir)[n] ?? all(q.sort_dir)[0])])
        : [['created_at', dirOf(one(q, 'sort_dir'))]];
  for (const [k] of pairs) if (!SORT_KEYS.has(k)) bad(`Invalid sort key: ${k}`);
  return [...pairs, ['created_at', -1], ['id', -1]];
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  return a < b ? -1 : 1;
}

/** Whether an image document passes the query's filters (`in:a,b` for a list of values). */
function matches(d: Doc, q: Query, tenantId: string, shared: Map<string, string>): boolean {
  // Images shared with the caller: listed once accepted, or by `member_status` (`all`, `pending`...).
  const answer = d.owner !== tenantId ? shared.get(d.id as string) : undefined;
  const wanted = one(q, 'member_status') ?? 'accepted';
  if (!['accepted', 'pending', 'rejected', 'all'].includes(wanted)) bad(`Invalid member_status: ${wanted}`);
  if (answer !== undefined && wanted !== 'all' && answer !== wanted) return false;
  const visibility = one(q, 'visibility');
  if (visibility === undefined) {
    // Glance leaves others' community images out of the default listing.
    if (d.visibility === 'community' && d.owner !== tenantId) return false;
  } else if (visibility !== 'all' && d.visibility !== visibility) return false;
  const hidden = one(q, 'os_hidden');
  if (hidden !== undefined && hidden !== 'true' && hidden !== 'false')
    bad(`Invalid os_hidden value: ${hidden} (true or false)`);
  if (d.os_hidden !== (hidden === 'true')) return false;
  for (const tag of all(q.tag)) if (!(d.tags as string[]).includes(tag)) return false;
  const size = d.size as number | null;
  const min = intParam(q, 'size_min');
  const max = intParam(q, 'size_max');
  const exact = intParam(q, 'size');
  if (min !== undefined && (size === null || size < min)) return false;
  if (max !== undefined && (size === null || size > max)) return false;
  if (exact !== undefined && size !== exact) return false;
  for (const [k, raw] of Object.entries(q)) {
    if (CONTROL.has(k) || ['visibility', 'os_hidden', 'tag', 'size', 'size_min', 'size_max'].includes(k))
      continue;
    const v = all(raw).at(-1)!;
    const wanted = v.startsWith('in:') ? v.slice(3).split(',') : [v];
    const have = d[k];
    if (have === undefined || have === null || !wanted.includes(String(have))) return false;
  }
  return true;
}

/** The list answer: `{images, first, schema, next?}`. @throws OsError 400 (bad parameter, unknown marker) */
export function listImages(
  rows: ImageRecord[],
  q: Query,
  tenantId: string,
  shared = new Map<string, string>(),
) {
  const limit = Math.min(intParam(q, 'limit') ?? DEFAULT_LIMIT, MAX_LIMIT);
  const order = sortOrder(q);
  const docs = rows
    .map(glanceImage)
    .filter((d) => matches(d, q, tenantId, shared))
    .sort((a, b) => {
      for (const [k, dir] of order) {
        const c = compare(a[k], b[k]);
        if (c) return c * dir;
      }
      return 0;
    });
  const marker = one(q, 'marker');
  let start = 0;
  if (marker !== undefined) {
    const at = docs.findIndex((d) => d.id === marker);
    if (at < 0) bad(`Invalid marker: no image ${marker} in this listing`);
    start = at + 1;
  }
  const page = docs.slice(start, start + limit);
  const out: Doc = { images: page, first: '/v2/images', schema: '/v2/schemas/images' };
  if (start + limit < docs.length && page.length) {
    const next = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) if (k !== 'marker') for (const x of all(v)) next.append(k, x);
    next.set('marker', String(page.at(-1)!.id));
    if (!q.limit) next.set('limit', String(limit));
    out.next = `/v2/images?${next.toString()}`;
  }
  return out;
}
