/**
 * The control plane's REST API (fastify). Every route is declared once in a table with its zod
 * schemas, roles and summary (the route modules in `routes/`); the same table produces the OpenAPI
 * 3.1 document at /openapi.json. This file is the wiring: authentication, parsing, ETags, the
 * single error handler (HTTP status codes are decided here and nowhere else), /metrics and the
 * static dashboard.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { createHash } from 'node:crypto';
import { withIdempotency } from './idempotency.ts';
import type { ControlPlane, Principal } from '../control/control-plane.ts';
import { deniedOperation } from '../control/authz.ts';
import { ControlError } from '../control/errors.ts';
import { appendSecurityEvent } from '../control/security/security-log.ts';
import { openApi } from './openapi.ts';
import { registerPrometheus } from './prometheus.ts';
import type { ApiOptions, RouteDef } from './route-def.ts';
import { ROUTE_MODULES } from './routes/index.ts';
import { registerStaticWeb } from './static-web.ts';

export type { ApiOptions } from './route-def.ts';

const STATUS: Record<ControlError['code'], number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  INVALID_STATE: 409,
  QUOTA_EXCEEDED: 403,
  NO_HOST_FITS: 409,
  CONSTRAINT_VIOLATED: 409,
  BAD_REQUEST: 400,
  IDEMPOTENCY_CONFLICT: 422,
  BACKEND: 502,
};

const HOW_TO_AUTH =
  'send "Authorization: Bearer <token>" (the CLI reads NUBIS_TOKEN or the credentials file "nubis login" writes)';

function parse(schema: z.ZodType | undefined, value: unknown, where: string): unknown {
  if (!schema) return value;
  const r = schema.safeParse(value ?? (where === 'body' ? undefined : {}));
  if (!r.success) {
    const issues = r.error.issues.map(
      (i) => `${where}${i.path.length ? '.' + i.path.join('.') : ''}: ${i.message}`,
    );
    throw new ControlError('BAD_REQUEST', `Invalid request: ${issues.join('; ')}`, {
      issues: r.error.issues.map((i) => ({ path: [where, ...i.path].join('.'), message: i.message })),
    });
  }
  return r.data;
}

/**
 * The caller of a request, from its bearer token (`source`: the request's address, for the security
 * log). @throws ControlError UNAUTHENTICATED saying what to send.
 */
async function authenticate(
  cp: ControlPlane,
  header: string | undefined,
  source: string,
): Promise<Principal> {
  const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
  if (!token) throw new ControlError('UNAUTHENTICATED', `A valid token is required: ${HOW_TO_AUTH}`);
  const found = await cp.authenticate(token, source);
  if (!found)
    throw new ControlError(
      'UNAUTHENTICATED',
      `The token is not valid (unknown, expired or revoked): ${HOW_TO_AUTH} with a valid token`,
    );
  return found;
}

/**
 * Builds the API (not listening).
 * @example const app = buildApi(cp, { web: 'web/dist' }); await app.listen({ port: 8080 });
 */
export function buildApi(cp: ControlPlane, opts: ApiOptions = {}): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1 << 20 });
  const routes: RouteDef[] = [];
  for (const register of ROUTE_MODULES) register((r) => routes.push(r), { cp, opts });

  for (const r of routes) {
    app.route({
      method: r.method,
      url: r.url,
      handler: async (req, reply) => {
        const p = r.open
          ? (undefined as unknown as Principal)
          : await authenticate(cp, req.headers.authorization, req.ip);
        const body = parse(r.body, req.body, 'body');
        const query = parse(r.query, req.query, 'query');
        const params = parse(r.params, req.params, 'path');
        reply.code(r.status ?? 200);
        // A write with an Idempotency-Key runs once per (tenant, method, route, key); retries get its answer.
        const out = await withIdempotency(cp.ctx, p?.tenantId, req, reply, { body, query }, () =>
          r.handler({ p, body, query, params, req, reply }),
        ).catch(async (e: unknown) => {
          // A refusal of the policy table goes to the security log (in its own write: the
          // request's transaction, if any, was rolled back), then to the error handler.
          const op = deniedOperation(e);
          if (op && p)
            await appendSecurityEvent(cp.ctx, {
              kind: 'access.denied',
              principal: p.userName,
              tenantId: p.tenantId,
              source: req.ip,
              operation: op,
              object: `${req.method} ${req.url.split('?')[0]}`,
              detail: { status: (e as ControlError).code === 'FORBIDDEN' ? 403 : 404, role: p.role },
            });
          throw e;
        });
        if (out === undefined) return reply.send();
        return out;
      },
    });
  }
  app.get('/openapi.json', async () => openApi(routes));

  // Conditional GETs: a strong ETag on every JSON answer of the API, 304 when the client has it
  // already (the dashboard polls; unchanged lists of 1,000 hosts then cost no transfer). Responses
  // carry `cache-control: private, no-cache` so clients always revalidate.
  app.addHook('onSend', async (req, reply, payload) => {
    if (
      req.method !== 'GET' ||
      reply.statusCode !== 200 ||
      typeof payload !== 'string' ||
      !req.url.startsWith('/v1/')
    )
      return payload;
    const tag = `"${createHash('sha1').update(payload).digest('base64url')}"`;
    reply.header('etag', tag).header('cache-control', 'private, no-cache');
    if (req.headers['if-none-match'] === tag) {
      reply.code(304);
      return '';
    }
    return payload;
  });

  registerPrometheus(app, cp);
  if (opts.web) registerStaticWeb(app, opts.web);

  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .send({ code: 'NOT_FOUND', message: `No route ${req.method} ${req.url}; see /openapi.json` }),
  );
  app.setErrorHandler((err, _req, reply) => {
    if (err instanceof ControlError)
      return reply
        .code(STATUS[err.code])
        .send({ code: err.code, message: err.message, ...(err.details ?? {}) });
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500)
      return reply.code(status).send({ code: 'BAD_REQUEST', message: (err as Error).message });
    return reply.code(500).send({ code: 'INTERNAL', message: 'Internal error' });
  });
  return app;
}
