/**
 * The security event log: who failed to log in and from where, who was refused what, which tokens
 * were created, revoked or used from a new address, which hosts enrolled. Admins read it
 * (`security-event:read`). A row never holds a secret: tokens are named by id, never by value, and
 * the value of a token that failed is not recorded at all (it may be a real token mistyped).
 *
 * Writes go in the caller's transaction (`recordSecurityEvent`) when they belong to a change, or in
 * their own (`appendSecurityEvent`) when the request itself failed and its transaction was rolled
 * back (a failed login, a denied action).
 */
import { authorize, type Subject } from '../authz.ts';
import { nowIso, type ControlContext } from '../context.ts';
import type { Db } from '../store/open-store.ts';

/** The kinds of security event. Other modules add theirs (`enrollment.*`) through `recordSecurityEvent`. */
export const SECURITY_EVENT_KINDS = [
  /** A request with an unknown, expired or revoked token (or a tenant that was deleted). */
  'login.failed',
  /** A request the policy table refused: 403, or 404 for another tenant's or user's object. */
  'access.denied',
  'token.created',
  'token.revoked',
  /** A token used from an address it was never used from before (its first use included). */
  'token.new-address',
  /** A host enrolled with a join token (recorded by the enrollment module). */
  'enrollment.succeeded',
  /** An enrollment refused (unknown, used or expired join token). */
  'enrollment.failed',
  /** A host's heartbeat refused (it tried to change the agent URL bound at enrollment). */
  'heartbeat.refused',
] as const;
export type SecurityEventKind = (typeof SECURITY_EVENT_KINDS)[number];

/** One security event to record. */
export interface SecurityEventInput {
  kind: SecurityEventKind;
  /** The user (by name) who acted or was refused; omitted when unknown. */
  principal?: string | null;
  /** The tenant of that user. */
  tenantId?: string | null;
  /** The network address the request came from. */
  source?: string | null;
  /** The operation of the policy table (e.g. `vm:action`) or the route. */
  operation?: string | null;
  /** What it was about: an id, or `METHOD /path`. */
  object?: string | null;
  /** More facts (never a secret: a token's id, never its value). */
  detail?: Record<string, unknown>;
}

/** A security event as the API returns it. */
export interface SecurityEvent {
  id: number;
  at: string;
  kind: string;
  principal: string | null;
  tenantId: string | null;
  source: string | null;
  operation: string | null;
  object: string | null;
  detail: Record<string, unknown>;
}

/** Append a security event in the caller's transaction (or on `ctx.db` for a write of its own). */
export function recordSecurityEvent(ctx: Pick<ControlContext, 'clock'>, trx: Db, e: SecurityEventInput) {
  return trx
    .insertInto('security_events')
    .values({
      at: nowIso(ctx),
      kind: e.kind,
      principal: e.principal ?? null,
      tenant_id: e.tenantId ?? null,
      source: e.source ?? null,
      operation: e.operation ?? null,
      object: e.object ?? null,
      detail: JSON.stringify(e.detail ?? {}),
    })
    .execute();
}

/**
 * Append a security event on its own, never failing the caller: the log must not turn a 401 or a
 * 403 into a 500 when the database is busy (the failure is reported to `onError`).
 */
export async function appendSecurityEvent(
  ctx: Pick<ControlContext, 'clock' | 'db'>,
  e: SecurityEventInput,
  onError: (err: unknown) => void = () => undefined,
): Promise<void> {
  try {
    await recordSecurityEvent(ctx, ctx.db, e);
  } catch (err) {
    onError(err);
  }
}

/** Filters of `listSecurityEvents`. */
export interface SecurityEventQuery {
  /** Only events after this id (oldest first from there); without it, the newest `limit`. */
  after?: number;
  kind?: string;
  /** At most this many (default 100, at most 10,000). */
  limit?: number;
}

/** Security events, oldest first (admins only). */
export async function listSecurityEvents(
  ctx: Pick<ControlContext, 'db'>,
  p: Subject,
  q: SecurityEventQuery = {},
): Promise<SecurityEvent[]> {
  authorize(p, 'security-event:read');
  let s = ctx.db.selectFrom('security_events').selectAll();
  if (q.kind) s = s.where('kind', '=', q.kind);
  if (q.after !== undefined) s = s.where('id', '>', q.after);
  const rows = await s
    .orderBy('id', q.after !== undefined ? 'asc' : 'desc')
    .limit(Math.min(q.limit ?? 100, 10000))
    .execute();
  if (q.after === undefined) rows.reverse();
  return rows.map((r) => ({
    id: Number(r.id),
    at: r.at,
    kind: r.kind,
    principal: r.principal,
    tenantId: r.tenant_id,
    source: r.source,
    operation: r.operation,
    object: r.object,
    detail: JSON.parse(r.detail) as Record<string, unknown>,
  }));
}
