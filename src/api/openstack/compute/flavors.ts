/**
 * Nova's flavors, read from nubis's catalog (`cp.listFlavors`): `/flavors`, `/flavors/detail`
 * (`minRam`, `minDisk`, `is_public`, `limit`, `marker`; sorted by id), `/flavors/{id}` and its
 * `os-extra_specs` (none in nubis: `{}`). Every nubis flavor is public, enabled, without swap or
 * ephemeral disk. Source: https://docs.openstack.org/api-ref/compute/#flavors
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { OsError, osBase, osPrincipal, type OsDeps } from '../frame.ts';
import { queryInt, queryOne } from './nova-common.ts';

type NubisFlavor = { id: string; name: string; vcpus: number; memoryMiB: number; diskGiB: number };

/** A flavor's `self` and `bookmark` links. */
export function flavorLinks(base: string, id: string) {
  return [
    { rel: 'self', href: `${base}/compute/v2.1/flavors/${id}` },
    { rel: 'bookmark', href: `${base}/compute/flavors/${id}` },
  ];
}

/** A nubis flavor as Nova's detailed flavor (2.1–2.30 field set). */
export function novaFlavor(base: string, f: NubisFlavor) {
  return {
    id: f.id,
    name: f.name,
    ram: f.memoryMiB,
    vcpus: f.vcpus,
    disk: f.diskGiB,
    swap: '',
    'OS-FLV-EXT-DATA:ephemeral': 0,
    'OS-FLV-DISABLED:disabled': false,
    'os-flavor-access:is_public': true,
    rxtx_factor: 1.0,
    links: flavorLinks(base, f.id),
  };
}

/** `is_public`: true-ish (the default for everyone) lists public flavors, false-ish private ones, `none` all. */
function publicFilter(v: string | undefined): boolean | undefined {
  if (v === undefined) return true;
  const s = v.trim().toLowerCase();
  if (s === 'none') return undefined;
  if (['true', 't', '1', 'yes', 'y', 'on'].includes(s)) return true;
  if (['false', 'f', '0', 'no', 'n', 'off'].includes(s)) return false;
  throw new OsError(400, `Invalid is_public filter [${v}]`);
}

async function listed(deps: OsDeps, req: FastifyRequest) {
  const p = await osPrincipal(deps.cp, req);
  const minRam = queryInt(req.query, 'minRam');
  const minDisk = queryInt(req.query, 'minDisk');
  const limit = queryInt(req.query, 'limit');
  const marker = queryOne(req.query, 'marker');
  const pub = publicFilter(queryOne(req.query, 'is_public'));
  let all = (await deps.cp.listFlavors(p)).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (pub === false) all = [];
  all = all.filter(
    (f) => (minRam === undefined || f.memoryMiB >= minRam) && (minDisk === undefined || f.diskGiB >= minDisk),
  );
  if (marker !== undefined) {
    const i = all.findIndex((f) => f.id === marker);
    if (i < 0) throw new OsError(400, `marker [${marker}] not found`);
    all = all.slice(i + 1);
  }
  const page = limit === undefined ? all : all.slice(0, limit);
  const base = osBase(req, deps.opts);
  const more = limit !== undefined && all.length > limit && page.length > 0;
  const next = more
    ? {
        flavors_links: [
          {
            rel: 'next',
            href: `${base}/compute/v2.1/flavors${req.url.includes('/detail') ? '/detail' : ''}?limit=${limit}&marker=${page[page.length - 1]!.id}`,
          },
        ],
      }
    : {};
  return { base, page, next };
}

async function one(deps: OsDeps, req: FastifyRequest, id: string) {
  const p = await osPrincipal(deps.cp, req);
  const f = (await deps.cp.listFlavors(p)).find((x) => x.id === id);
  if (!f) throw new OsError(404, `Flavor ${id} could not be found.`);
  return f;
}

/** Register the flavors' routes. */
export function registerFlavors(s: FastifyInstance, deps: OsDeps): void {
  s.get('/v2.1/flavors', async (req) => {
    const { base, page, next } = await listed(deps, req);
    return {
      flavors: page.map((f) => ({ id: f.id, name: f.name, links: flavorLinks(base, f.id) })),
      ...next,
    };
  });
  s.get('/v2.1/flavors/detail', async (req) => {
    const { base, page, next } = await listed(deps, req);
    return { flavors: page.map((f) => novaFlavor(base, f)), ...next };
  });
  s.get<{ Params: { id: string } }>('/v2.1/flavors/:id', async (req) => ({
    flavor: novaFlavor(osBase(req, deps.opts), await one(deps, req, req.params.id)),
  }));
  s.get<{ Params: { id: string } }>('/v2.1/flavors/:id/os-extra_specs', async (req) => {
    await one(deps, req, req.params.id);
    return { extra_specs: {} };
  });
  s.get<{ Params: { id: string; key: string } }>('/v2.1/flavors/:id/os-extra_specs/:key', async (req) => {
    await one(deps, req, req.params.id);
    throw new OsError(404, `Flavor ${req.params.id} has no extra specs with key ${req.params.key}.`);
  });
}
