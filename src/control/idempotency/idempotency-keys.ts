/**
 * Idempotency keys: a retried request with the same `Idempotency-Key` gets the answer of the first,
 * without doing the work twice. A key is scoped to (caller's tenant, method, route): the same key
 * of another tenant, or on another route, is another key. The request's body is hashed; the same
 * key with a different body is refused (IDEMPOTENCY_CONFLICT), never silently answered with the
 * old result (the IETF draft "The Idempotency-Key HTTP Header Field" and Stripe's API: 422).
 *
 * The key is reserved before the work (a row without an answer), so two racing requests with the
 * same key cannot both do it: the second is told to retry. A reservation left by a crash expires
 * after `staleAfterS`. A request that fails gives its key back, so a retry runs again.
 */
import { createHash } from 'node:crypto';
import { nowIso, type ControlContext } from '../context.ts';
import { ControlError } from '../errors.ts';
import type { Db } from '../store/open-store.ts';

/** Which key: the caller's tenant, the HTTP method, the route as requested (path without query), the key. */
export interface IdempotencyScope {
  readonly tenantId: string;
  readonly method: string;
  readonly route: string;
  readonly key: string;
}

/** What `begin` found: nothing (do the work, then `complete`), or the first request's answer. */
export type IdempotencyBegin = { kind: 'new' } | { kind: 'replay'; status: number; body: unknown };

/** Seconds after which an unanswered reservation (its request crashed) may be taken over. */
export const IDEMPOTENCY_STALE_S = 600;

/** JSON with object keys sorted, so `{a, b}` and `{b, a}` hash the same. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v ?? null);
}

/** SHA-256 (hex) of a request's parsed body and query, independent of key order. */
export function requestHash(body: unknown, query?: unknown): string {
  return createHash('sha256')
    .update(canonical({ body: body ?? null, query: query ?? null }))
    .digest('hex');
}

const where = (db: Db, s: IdempotencyScope) =>
  db
    .selectFrom('idempotency_keys')
    .selectAll()
    .where('tenant_id', '=', s.tenantId)
    .where('method', '=', s.method)
    .where('route', '=', s.route)
    .where('key', '=', s.key);

/**
 * Reserve a key, or find the answer it already has.
 * @throws ControlError IDEMPOTENCY_CONFLICT when the key was used with another body;
 *   INVALID_STATE when the first request with this key is still running.
 */
export async function beginIdempotent(
  ctx: Pick<ControlContext, 'db' | 'clock'>,
  s: IdempotencyScope,
  bodyHash: string,
  staleAfterS = IDEMPOTENCY_STALE_S,
): Promise<IdempotencyBegin> {
  for (let attempt = 0; attempt < 3; attempt++) {
    // Reserve first (a new key is one statement); a key already there is read (the primary key is
    // the scope: the insert does nothing then).
    const ins = await ctx.db
      .insertInto('idempotency_keys')
      .values({
        tenant_id: s.tenantId,
        method: s.method,
        route: s.route,
        key: s.key,
        body_hash: bodyHash,
        status: null,
        response: null,
        created_at: nowIso(ctx),
      })
      .onConflict((oc) => oc.columns(['tenant_id', 'method', 'route', 'key']).doNothing())
      .executeTakeFirst();
    if (Number(ins.numInsertedOrUpdatedRows ?? 0) === 1) return { kind: 'new' };
    const row = await where(ctx.db, s).executeTakeFirst();
    if (!row) continue; // removed meanwhile: reserve it again
    if (row.body_hash !== bodyHash)
      throw new ControlError(
        'IDEMPOTENCY_CONFLICT',
        `Idempotency-Key "${s.key}" was used for a different ${s.method} ${s.route} request; use a new key for a new request, or repeat the first request exactly`,
        { key: s.key, method: s.method, route: s.route },
      );
    if (row.status !== null)
      return { kind: 'replay', status: row.status, body: JSON.parse(row.response ?? 'null') };
    const ageS = ctx.clock.now() - Date.parse(row.created_at) / 1000;
    if (ageS < staleAfterS)
      throw new ControlError(
        'INVALID_STATE',
        `A request with Idempotency-Key "${s.key}" is still being processed; retry in a moment`,
        { key: s.key },
      );
    // Left by a crash: take it over (only one taker wins the conditional update).
    const r = await ctx.db
      .updateTable('idempotency_keys')
      .set({ created_at: nowIso(ctx) })
      .where('tenant_id', '=', s.tenantId)
      .where('method', '=', s.method)
      .where('route', '=', s.route)
      .where('key', '=', s.key)
      .where('created_at', '=', row.created_at)
      .where('status', 'is', null)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 1) return { kind: 'new' };
  }
  throw new ControlError('INVALID_STATE', `Idempotency-Key "${s.key}" is contended; retry in a moment`, {
    key: s.key,
  });
}

/** Record the answer of a reserved key (what retries will get). */
export async function completeIdempotent(
  ctx: Pick<ControlContext, 'db'>,
  s: IdempotencyScope,
  status: number,
  body: unknown,
): Promise<void> {
  await ctx.db
    .updateTable('idempotency_keys')
    .set({ status, response: JSON.stringify(body ?? null) })
    .where('tenant_id', '=', s.tenantId)
    .where('method', '=', s.method)
    .where('route', '=', s.route)
    .where('key', '=', s.key)
    .execute();
}

/** Give a reserved key back (its request failed): a retry runs again. */
export async function abandonIdempotent(ctx: Pick<ControlContext, 'db'>, s: IdempotencyScope): Promise<void> {
  await ctx.db
    .deleteFrom('idempotency_keys')
    .where('tenant_id', '=', s.tenantId)
    .where('method', '=', s.method)
    .where('route', '=', s.route)
    .where('key', '=', s.key)
    .where('status', 'is', null)
    .execute();
}
