/**
 * Keyset pagination: the opaque cursor of a list page and the page's SQL condition. A cursor is the
 * base64url of `{l, k, h}`: the list it belongs to, the keyset of the page's last row (its sort key
 * and id) and a check digest over both, so a malformed, truncated or edited cursor, or one from
 * another list, is refused ("invalid cursor") rather than silently misread. A cursor carries no
 * filter and no tenant: every page re-applies the caller's filters and tenant scope, so a cursor
 * never reaches another tenant's rows. Keyset ("seek") paging after Markus Winand, "Paging Through
 * Results" (use-the-index-luke.com/no-offset): WHERE (k, id) > (…) ORDER BY k, id LIMIT n + 1.
 */
import { createHash } from 'node:crypto';
import { sql, type Expression, type SqlBool } from 'kysely';
import { ControlError } from '../errors.ts';

/** One value of a keyset: a sort key or an id. */
export type KeyValue = string | number;

/** How many rows one page holds at most, and its default. */
export const PAGE_LIMIT = { min: 1, max: 1000, default: 100 } as const;

/** What a paged read is given: how many rows, and the cursor of the previous page (if any). */
export interface PageRequest {
  limit?: number;
  cursor?: string;
}

/** One page: its rows (in the list's order) and the next page's cursor, absent on the last page. */
export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

const digest = (list: string, k: KeyValue[]) =>
  createHash('sha256')
    .update(`${list}\0${JSON.stringify(k)}`)
    .digest('base64url')
    .slice(0, 16);

/** The cursor of the page after the row whose keyset is `k`, in list `list`. */
export function encodeCursor(list: string, k: KeyValue[]): string {
  return Buffer.from(JSON.stringify({ l: list, k, h: digest(list, k) })).toString('base64url');
}

/**
 * The keyset a cursor of list `list` holds (`arity` values, each a string or a number).
 * @throws ControlError BAD_REQUEST "invalid cursor" when it is malformed, edited or from another list.
 */
export function decodeCursor(list: string, cursor: string, arity: number): KeyValue[] {
  const bad = () =>
    new ControlError(
      'BAD_REQUEST',
      'invalid cursor: pass the X-Next-Cursor (or Link rel="next") value of the previous page unchanged',
      { accepted: 'the cursor of the previous page of the same list' },
    );
  if (cursor.length > 2000 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad();
  let o: { l?: unknown; k?: unknown; h?: unknown };
  try {
    o = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as typeof o;
  } catch {
    throw bad();
  }
  const k = o?.k;
  if (
    !o ||
    o.l !== list ||
    !Array.isArray(k) ||
    k.length !== arity ||
    !k.every((v) => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) ||
    o.h !== digest(list, k as KeyValue[])
  )
    throw bad();
  return k as KeyValue[];
}

/** The page size asked for, or the default (the API validates the range; this clamps for direct callers). */
export function pageLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return PAGE_LIMIT.default;
  return Math.min(PAGE_LIMIT.max, Math.max(PAGE_LIMIT.min, Math.trunc(limit)));
}

/**
 * The row-value condition `(cols…) > (values…)` (or `<` for a descending list): one range scan on an
 * index over those columns, on SQLite (≥ 3.15) and PostgreSQL alike.
 */
export function after(cols: string[], values: KeyValue[], dir: 'asc' | 'desc' = 'asc'): Expression<SqlBool> {
  const op = sql.raw(dir === 'asc' ? '>' : '<');
  return sql<SqlBool>`(${sql.join(cols.map((c) => sql.ref(c)))}) ${op} (${sql.join(values)})`;
}

/**
 * Splits the `limit + 1` rows a page read fetched into the page and the next cursor (from the last
 * row kept, `key` giving its keyset).
 */
export function toPage<R, T>(
  list: string,
  rows: R[],
  limit: number,
  key: (r: R) => KeyValue[],
  out: (r: R) => T,
): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  const items = kept.map(out);
  return more ? { items, nextCursor: encodeCursor(list, key(kept[kept.length - 1]!)) } : { items };
}

/**
 * A page of a list already in memory (small lists: flavors, networks, tenants…), in its own order:
 * the cursor holds the last row's id and position; the next page starts after that id (rows added or
 * removed before it shift nothing), or at the position when that row is gone.
 */
export function pageOf<T>(list: string, rows: T[], req: PageRequest): Page<T> {
  const idOf = (r: T) => {
    const o = r as { id?: unknown; name?: unknown };
    return String(o.id ?? o.name ?? '');
  };
  const limit = pageLimit(req.limit);
  let start = 0;
  if (req.cursor) {
    const [pos, id] = decodeCursor(list, req.cursor, 2);
    if (typeof pos !== 'number') throw new ControlError('BAD_REQUEST', 'invalid cursor');
    const at = rows.findIndex((r) => idOf(r) === String(id));
    start = at >= 0 ? at + 1 : Math.min(pos, rows.length);
  }
  const items = rows.slice(start, start + limit);
  const end = start + items.length;
  if (end >= rows.length || items.length === 0) return { items };
  return { items, nextCursor: encodeCursor(list, [end, idOf(items[items.length - 1]!)]) };
}
