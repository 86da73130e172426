/**
 * Paginated list routes: every GET list of /v1 takes `limit` (1-1000, default 100), `cursor` (the
 * previous page's, opaque) and `fields` (comma-separated top-level fields; `id` always included)
 * besides its filters. The body stays a JSON array; when there is a next page the answer carries
 * `Link: <PATH?…&cursor=C&limit=N>; rel="next"` (RFC 8288, the filters and fields kept) and
 * `X-Next-Cursor: C`; the last page has neither. Large lists (VMs, hosts, events) page in the store
 * with a keyset (src/control/store/keyset.ts); small ones page the list the service returns.
 */
import { z } from 'zod';
import { ControlError } from '../control/errors.ts';
import { PAGE_LIMIT, pageOf, type Page, type PageRequest } from '../control/store/keyset.ts';
import type { AddRoute, RouteContext, RouteDef } from './route-def.ts';

/** The query parameters every list takes. */
export const pageParams = {
  limit: z.coerce
    .number()
    .int()
    .min(PAGE_LIMIT.min)
    .max(PAGE_LIMIT.max)
    .optional()
    .describe(`rows per page: ${PAGE_LIMIT.min}-${PAGE_LIMIT.max}, default ${PAGE_LIMIT.default}`),
  cursor: z.string().min(1).max(2000).optional().describe('the X-Next-Cursor of the previous page'),
  fields: z
    .string()
    .max(2000)
    .optional()
    .describe('comma-separated top-level fields to return (id always included)'),
};

/** Headers a browser may read on a list answer (for a CORS set-up: `exposedHeaders`). */
export const PAGE_HEADERS = ['link', 'x-next-cursor'] as const;

/** One list route: its URL and filters, and how it reads a page (in the store) or the whole list. */
export interface ListRouteDef extends Pick<RouteDef, 'url' | 'summary' | 'tag' | 'params'> {
  /** The list's filters (query parameters besides limit, cursor and fields). */
  filters?: z.ZodRawShape;
  /** The fields a row has (for `fields`); by default the keys of the list's rows. */
  fields?: readonly string[];
  /** A page read in the store (keyset): given the caller, the filters and the page asked for. */
  page?: (ctx: RouteContext, page: PageRequest) => Promise<Page<unknown>>;
  /** The whole list (small lists), paged here in its own order. */
  list?: (ctx: RouteContext) => Promise<unknown[]>;
  /** The cursor's list name for `list` (default: the URL). */
  name?: string;
}

/** The fields asked for, validated against the accepted ones (`id` added); undefined for all. */
export function parseFields(fields: string | undefined, accepted: readonly string[] | undefined) {
  if (fields === undefined) return undefined;
  const asked = [...new Set(fields.split(',').map((f) => f.trim()))].filter((f) => f !== '');
  if (accepted) {
    const unknown = asked.filter((f) => !accepted.includes(f));
    if (unknown.length > 0)
      throw new ControlError(
        'BAD_REQUEST',
        `Unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((f) => `"${f}"`).join(', ')} in "fields": accepted: ${accepted.join(', ')}`,
        { accepted: [...accepted] },
      );
  }
  return asked.includes('id') ? asked : ['id', ...asked];
}

/** A row with only the fields asked for (those it has). */
function project(row: unknown, fields: string[] | undefined): unknown {
  if (!fields || !row || typeof row !== 'object') return row;
  const o = row as Record<string, unknown>;
  return Object.fromEntries(fields.filter((f) => f in o).map((f) => [f, o[f]]));
}

/** The relative URL of the next page: the request's path and query, with the next cursor and limit. */
export function nextLink(reqUrl: string, cursor: string, limit: number): string {
  const u = new URL(reqUrl, 'http://localhost');
  u.searchParams.delete('cursor');
  u.searchParams.delete('limit');
  u.searchParams.set('cursor', cursor);
  u.searchParams.set('limit', String(limit));
  return u.pathname + u.search;
}

/**
 * Adds a paginated GET list route to the table.
 * @example listRoute(route, { url: '/v1/flavors', summary: 'Flavors', tag: 'catalog', list: ({ p }) => cp.listFlavors(p) });
 */
export function listRoute(route: AddRoute, def: ListRouteDef): void {
  const { filters, fields, page, list, name, ...rest } = def;
  route({
    ...rest,
    method: 'GET',
    summary: `${def.summary} (paginated: limit, cursor, fields)`,
    query: z.object({ ...filters, ...pageParams }).strict(),
    handler: async (ctx) => {
      const {
        limit,
        cursor,
        fields: asked,
      } = ctx.query as { limit?: number; cursor?: string; fields?: string };
      let wanted = fields ? parseFields(asked, fields) : undefined;
      let out: Page<unknown>;
      if (page) out = await page(ctx, { limit, cursor });
      else if (list) {
        const all = await list(ctx);
        if (!fields && asked !== undefined) {
          const keys = new Set<string>();
          for (const r of all) if (r && typeof r === 'object') for (const k of Object.keys(r)) keys.add(k);
          wanted = parseFields(asked, keys.size ? [...keys] : undefined);
        }
        out = pageOf(name ?? def.url, all, { limit, cursor });
      } else throw new Error(`list route ${def.url} has neither page nor list`);
      if (out.nextCursor !== undefined) {
        const n = limit ?? PAGE_LIMIT.default;
        ctx.reply
          .header('x-next-cursor', out.nextCursor)
          .header('link', `<${nextLink(ctx.req.url, out.nextCursor, n)}>; rel="next"`);
      }
      return wanted ? out.items.map((r) => project(r, wanted)) : out.items;
    },
  });
}
