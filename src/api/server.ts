/**
 * The control plane's REST API (fastify). Every route is declared once in a table with its zod
 * schemas, roles and summary (the route modules in `routes/`); the same table produces the OpenAPI
 * 3.1 document at /openapi.json. This file is the wiring: authentication, parsing, ETags, the
 * single error handler (HTTP status codes are decided here and nowhere else), /metrics and the
 * static dashboard.
 */
import rateLimit from '@fastify/rate-limit';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { createHash, randomUUID } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import {
  hasText,
  hideHosts,
  memberError,
  OPERATORS_CHOOSE,
  redactText,
  redactor,
  seesHosts,
} from './host-privacy.ts';
import { withIdempotency } from './idempotency.ts';
import type { ControlPlane, Principal } from '../control/control-plane.ts';
import { denialOf } from '../control/authz.ts';
import { ControlError } from '../control/errors.ts';
import { DriverError } from '../core/hypervisor.ts';
import { appendSecurityEvent } from '../control/security/security-log.ts';
import { registerConsoleWebSocket } from './console-ws.ts';
import { openApi } from './openapi.ts';
import { registerOpenStack } from './openstack/index.ts';
import { registerPrometheus } from './prometheus.ts';
import type { ApiOptions, RouteDef } from './route-def.ts';
import { ROUTE_MODULES } from './routes/index.ts';
import { registerStaticWeb } from './static-web.ts';

export type { ApiOptions } from './route-def.ts';
import { STATUS } from './status.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller (set once the token is checked; undefined on open routes). */
    principal?: Principal;
  }
}

/** One JSON line on stderr: how a server fault is logged (tests pass their own `log`). */
const stderrLog = (line: Record<string, unknown>) => process.stderr.write(JSON.stringify(line) + '\n');

/** The rate-limit key: the token (hashed, never kept in clear), else the client address. */
function rateKey(req: FastifyRequest): string {
  const h = req.headers.authorization;
  return h?.startsWith('Bearer ')
    ? 't:' + createHash('sha256').update(h.slice(7).trim()).digest('hex')
    : 'ip:' + req.ip;
}

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
  const log = opts.log ?? stderrLog;
  // Every request has an id, returned in `x-request-id` (and in the body of a 5xx) and logged with a fault.
  const tls = opts.https;
  const app = Fastify({
    logger: false,
    bodyLimit: 1 << 20,
    genReqId: () => randomUUID(),
    ...(tls
      ? {
          https: {
            cert: tls.cert,
            key: tls.key,
            // Mutual TLS: every client is asked for a certificate, the agents' routes require one (below).
            ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: false } : {}),
          },
        }
      : {}),
  }) as unknown as FastifyInstance;
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    if (tls?.clientCa && req.url.startsWith('/v1/agents/') && !(req.raw.socket as TLSSocket).authorized)
      throw new ControlError(
        'UNAUTHENTICATED',
        "Agents' routes need a client certificate signed by the control plane's --tls-client-ca " +
          '(nubis agent presents its --tls-cert; it must allow clientAuth)',
      );
  });
  // What a member or reader sees of an answer: no host keys, and backend messages without host
  // URLs, addresses, names or ids (the hosts are read only when there is a message to clean; if
  // that read fails, URLs and addresses are still removed).
  // A 4xx is the control plane's own message: only known host words go (a tenant's addresses stay).
  const forMember = async (v: unknown, backend = true): Promise<unknown> => {
    const out = hideHosts(v);
    if (!hasText(out)) return out;
    const hosts = await cp.ctx.db
      .selectFrom('hosts')
      .select(['id', 'name', 'agent_url', 'underlay_ip'])
      .execute()
      .catch(() => []);
    return redactText(out, redactor(hosts, { anyAddress: backend }));
  };
  // Raw bodies (image uploads) are left unread: the route streams `req.raw` to disk, never buffered whole.
  app.addContentTypeParser('application/octet-stream', (_req, _payload, done) => done(null, undefined));
  const routes: RouteDef[] = [];
  for (const register of ROUTE_MODULES) register((r) => routes.push(r), { cp, opts });

  // Rate limits per token (per address without one): off unless configured (`nubis serve` sets them).
  if (opts.rateLimit)
    void app.register(rateLimit, {
      max: opts.rateLimit.max,
      timeWindow: opts.rateLimit.windowMs ?? 60_000,
      keyGenerator: rateKey,
      errorResponseBuilder: (_req, ctx) =>
        new ControlError(
          'TOO_MANY_REQUESTS',
          `Rate limit: at most ${ctx.max} requests per ${ctx.after} per token; retry after ${Math.ceil(ctx.ttl / 1000)} s`,
          { retryAfterS: Math.ceil(ctx.ttl / 1000) },
        ),
    });
  void app.register(async (api) => {
    for (const r of routes) {
      api.route({
        method: r.method,
        url: r.url,
        ...(r.bodyLimit ? { bodyLimit: r.bodyLimit } : {}),
        handler: async (req, reply) => {
          const p = r.open
            ? (undefined as unknown as Principal)
            : await authenticate(cp, req.headers.authorization, req.ip);
          req.principal = p;
          const body = parse(r.body, req.body, 'body');
          const query = parse(r.query, req.query, 'query');
          const params = parse(r.params, req.params, 'path');
          // Members and readers never choose hosts: no host filter, no migration target.
          if (
            !seesHosts(p) &&
            ((query as { host?: unknown })?.host !== undefined ||
              (body as { toHost?: unknown })?.toHost !== undefined)
          )
            throw new ControlError('FORBIDDEN', `You may not name a host: ${OPERATORS_CHOOSE}`);
          reply.code(r.status ?? 200);
          // A write with an Idempotency-Key runs once per (tenant, method, route, key); retries get its answer.
          const out = await withIdempotency(cp.ctx, p?.tenantId, req, reply, { body, query }, () =>
            r.handler({ p, body, query, params, req, reply }),
          ).catch(async (e: unknown) => {
            // A refusal of the policy table goes to the security log (in its own write: the
            // request's transaction, if any, was rolled back), then to the error handler.
            // A 404 for another tenant's (or user's) object says so here, with the object's kind and id.
            const d = denialOf(e);
            if (d && p)
              await appendSecurityEvent(cp.ctx, {
                kind: 'access.denied',
                principal: p.userName,
                tenantId: p.tenantId,
                source: req.ip,
                operation: d.operation,
                object: `${req.method} ${req.url.split('?')[0]}`,
                detail: {
                  status: (e as ControlError).code === 'FORBIDDEN' ? 403 : 404,
                  role: p.role,
                  ...(d.reason ? { reason: d.reason } : {}),
                  ...(d.kind ? { objectKind: d.kind, objectId: d.id } : {}),
                },
              });
            throw e;
          });
          if (out === reply) return reply; // the handler streamed its answer (image data)
          if (out === undefined) return reply.send();
          return seesHosts(p) ? out : forMember(out);
        },
      });
    }
    api.get('/openapi.json', async () => openApi(routes));
  });

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

  registerOpenStack(app, { cp, opts });
  registerPrometheus(app, cp);
  registerConsoleWebSocket(app, cp, (code) => STATUS[code]);
  if (opts.web) registerStaticWeb(app, opts.web);

  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .send({ code: 'NOT_FOUND', message: `No route ${req.method} ${req.url}; see /openapi.json` }),
  );
  app.setErrorHandler(async (thrown: FastifyError | ControlError | DriverError, req, reply) => {
    // A host driver's error that a service let through is the backend failing: a 502 like the others.
    const raw =
      thrown instanceof DriverError
        ? new ControlError('BACKEND', thrown.message, undefined, { cause: thrown })
        : thrown;
    if (raw instanceof ControlError) {
      const sees = seesHosts(req.principal);
      const err = sees ? raw : memberError(raw);
      const status = STATUS[err.code];
      if (status === 429) reply.header('retry-after', String(err.details?.retryAfterS ?? 1));
      // A backend fault (an agent or database that failed) is a server fault: logged with the request id.
      if (status >= 500) fault(req, status, raw);
      const body = {
        code: err.code,
        message: err.message,
        ...(err.details ?? {}),
        ...(status >= 500 ? { requestId: req.id } : {}),
      };
      return reply.code(status).send(sees ? body : await forMember(body, status >= 500));
    }
    const status = (raw as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500)
      return reply.code(status).send({ code: 'BAD_REQUEST', message: raw.message });
    fault(req, 500, raw);
    return reply.code(500).send({
      code: 'INTERNAL',
      message: `Internal error (request ${req.id}; the server logged it)`,
      requestId: req.id,
    });
  });
  function fault(req: FastifyRequest, status: number, err: Error) {
    log({
      level: 'error',
      time: new Date().toISOString(),
      requestId: req.id,
      method: req.method,
      route: req.routeOptions?.url ?? req.url.split('?')[0],
      error: err.message,
      stack: err.stack,
      code: (err as { code?: unknown }).code,
      status,
    });
  }
  return app;
}
