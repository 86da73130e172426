/**
 * The API side of idempotency: a write that carries an `Idempotency-Key` header is run once per
 * (caller's tenant, method, route, key); a retry with the same request gets the first answer
 * (status and body), a different request with the same key is 422 IDEMPOTENCY_CONFLICT. See
 * src/control/idempotency/idempotency-keys.ts.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ControlContext } from '../control/context.ts';
import { ControlError } from '../control/errors.ts';
import {
  abandonIdempotent,
  beginIdempotent,
  completeIdempotent,
  requestHash,
  type IdempotencyScope,
} from '../control/idempotency/idempotency-keys.ts';

/**
 * The request's Idempotency-Key header, validated (1-200 printable ASCII characters).
 * @throws ControlError BAD_REQUEST when malformed.
 */
export function idempotencyKeyOf(req: FastifyRequest): string | undefined {
  const k = req.headers['idempotency-key'];
  if (k === undefined) return undefined;
  const s = Array.isArray(k) ? k[0]! : k;
  if (!/^[\x21-\x7e]{1,200}$/.test(s))
    throw new ControlError('BAD_REQUEST', 'Idempotency-Key must be 1-200 printable ASCII characters');
  return s;
}

/**
 * Run a write handler under the request's Idempotency-Key (if any): the first request runs it and
 * its answer is kept; a retry gets the kept answer with the same status. GETs run as they are.
 */
export async function withIdempotency(
  ctx: Pick<ControlContext, 'db' | 'clock'>,
  tenantId: string | undefined,
  req: FastifyRequest,
  reply: FastifyReply,
  parsed: { body: unknown; query: unknown },
  run: () => Promise<unknown>,
): Promise<unknown> {
  const key = req.method === 'GET' ? undefined : idempotencyKeyOf(req);
  if (!key || !tenantId) return run();
  const scope: IdempotencyScope = { tenantId, method: req.method, route: req.url.split('?')[0]!, key };
  const found = await beginIdempotent(ctx, scope, requestHash(parsed.body, parsed.query));
  if (found.kind === 'replay') {
    reply.code(found.status).header('idempotent-replayed', 'true');
    return found.body ?? undefined;
  }
  let out: unknown;
  try {
    out = await run();
  } catch (e) {
    await abandonIdempotent(ctx, scope);
    throw e;
  }
  await completeIdempotent(ctx, scope, reply.statusCode, out ?? null);
  return out;
}
