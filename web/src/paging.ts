/**
 * Pages of the API's lists (`limit`, opaque `cursor`, `fields`, filters; the next page's cursor in
 * `X-Next-Cursor`): the dashboard reads 100,000 VMs a page at a time, never the whole list. Pure
 * except for the injected `fetch`, so tests run without a server.
 */

/** Query values; `undefined` and '' are left out. */
export type PageQuery = Record<string, string | number | undefined>;

/** One page of a list and the cursor of the next (null on the last page). */
export interface Page<T> {
  rows: T[];
  next: string | null;
}

/** Where and how to fetch: the token (read on every call) and a `fetch` (tests pass a fake). */
export interface PageSource {
  token: () => string | null;
  fetch?: typeof fetch;
  baseUrl?: string;
}

/** The URL of a page: `path?filters&limit&cursor&fields`, empty values left out. */
export function pageUrl(path: string, q: PageQuery): string {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== '') s.set(k, String(v));
  const qs = s.toString();
  return qs ? `${path}?${qs}` : path;
}

/** The next page's cursor from the answer's headers: `X-Next-Cursor`, else `cursor=` in `Link: <…>; rel="next"`. */
export function nextCursor(h: Headers): string | null {
  const x = h.get('x-next-cursor');
  if (x) return x;
  const link = h.get('link');
  const m = link && /<([^>]*)>\s*;\s*rel="?next"?/.exec(link);
  if (!m) return null;
  return new URL(m[1]!, 'http://x').searchParams.get('cursor');
}

/** The query keys a server refused as unknown (`Unrecognized keys: "limit", "name"`). */
function refusedKeys(body: { message?: string }): string[] {
  const m = /Unrecognized keys?: (.*)/.exec(body.message ?? '');
  return m ? [...m[1]!.matchAll(/"([^"]+)"/g)].map((x) => x[1]!) : [];
}

/**
 * One page of `path` with the query `q` (filters, `limit`, `cursor`, `fields`). A server from before
 * pagination (it refuses `limit` as an unknown key) is asked again without the keys it refused, and
 * its whole answer is one last page (a refused `name` is applied here as a prefix).
 */
export async function fetchPage<T>(src: PageSource, path: string, q: PageQuery): Promise<Page<T>> {
  const f = src.fetch ?? fetch;
  const get = (query: PageQuery) => {
    const token = src.token();
    return f((src.baseUrl ?? '') + pageUrl(path, query), {
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  };
  let r = await get(q);
  if (r.ok) return { rows: (await r.json()) as T[], next: nextCursor(r.headers) };
  let body = (await r.json().catch(() => ({}))) as { message?: string };
  const refused = r.status === 400 ? refusedKeys(body) : [];
  if (refused.includes('limit')) {
    const older = Object.fromEntries(Object.entries(q).filter(([k]) => !refused.includes(k)));
    r = await get(older);
    if (r.ok) {
      let rows = (await r.json()) as T[];
      const prefix = refused.includes('name') ? String(q.name ?? '') : '';
      if (prefix) rows = rows.filter((x) => String((x as { name?: unknown }).name ?? '').startsWith(prefix));
      return { rows, next: null };
    }
    body = (await r.json().catch(() => ({}))) as { message?: string };
  }
  throw new Error(body.message ?? `HTTP ${r.status}`);
}

/** The rows of a paged list read so far, and whether more are to come. */
export interface PagedState<T> {
  rows: T[];
  next: string | null;
  /** Every page read (no cursor left). */
  done: boolean;
}

/** The state before any page. */
export const EMPTY_PAGES: PagedState<never> = { rows: [], next: null, done: false };

/** The state after one more page (appended in order; the first page replaces everything). */
export function addPage<T>(s: PagedState<T>, p: Page<T>, first: boolean): PagedState<T> {
  return { rows: first ? p.rows : [...s.rows, ...p.rows], next: p.next, done: p.next === null };
}

/**
 * Whether to read the next page: more exist, none is being read, and the rows in view reach within
 * `margin` rows of the end of those shown (`remaining` rows below the last in view; a windowed list
 * asks as it scrolls).
 */
export function wantsMore(s: PagedState<unknown>, remaining: number, margin: number, busy: boolean) {
  return !busy && !s.done && s.next !== null && remaining <= margin;
}
