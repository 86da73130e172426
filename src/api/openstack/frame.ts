/**
 * What every OpenStack service of nubis shares (../../../docs/openstack.md): the `/openstack` prefix,
 * authentication by `X-Auth-Token` (a nubis token: Keystone issues nubis tokens scoped to a project),
 * request ids, each service's error body, absolute URLs for links and the catalog, and Nova's
 * microversions. Services are fastify plugins registered by ./index.ts, one folder each.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ControlPlane } from '../../control/control-plane.ts';
import { ControlError } from '../../control/errors.ts';
import type { Principal } from '../../control/principal.ts';
import type { ApiOptions } from '../route-def.ts';
import { STATUS } from '../status.ts';

/** The services nubis speaks, by the catalog's `type` (`volumev3` is `volume` here). */
export type OsService = 'identity' | 'compute' | 'image' | 'network' | 'volume';

/** What a service's routes get. */
export interface OsDeps {
  cp: ControlPlane;
  opts: ApiOptions;
}

/** An error with its HTTP status, formatted by the service it happened in (see {@link osErrorBody}). */
export class OsError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Nova's and Cinder's error keys by status. */
const NOVA_KEYS: Record<number, string> = {
  400: 'badRequest',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'itemNotFound',
  405: 'badMethod',
  406: 'notAcceptable',
  409: 'conflictingRequest',
  413: 'overLimit',
  415: 'badMediaType',
  429: 'overLimit',
  501: 'notImplemented',
};

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
};

/** Neutron's exception type by status. */
const NEUTRON_TYPES: Record<number, string> = {
  400: 'BadRequest',
  401: 'NotAuthorized',
  403: 'Forbidden',
  404: 'NotFound',
  409: 'Conflict',
  413: 'OverQuota',
  500: 'InternalServerError',
};

/** The error body each service's clients read (Keystone, Nova/Cinder, Neutron, Glance). */
export function osErrorBody(service: OsService, status: number, message: string): unknown {
  const title = TITLES[status] ?? (status >= 500 ? 'Internal Server Error' : 'Error');
  switch (service) {
    case 'identity':
      return { error: { code: status, message, title } };
    case 'network':
      return { NeutronError: { type: NEUTRON_TYPES[status] ?? 'NeutronError', message, detail: '' } };
    case 'image':
      return { code: status, title, message, error: { code: status, title, message } };
    default:
      return {
        [NOVA_KEYS[status] ?? (status >= 500 ? 'computeFault' : 'badRequest')]: { code: status, message },
      };
  }
}

/** The HTTP status of an error thrown by a route (ControlError through nubis's own table). */
export function osStatusOf(e: unknown): number {
  if (e instanceof OsError) return e.status;
  if (e instanceof ControlError) return STATUS[e.code];
  const s = (e as { statusCode?: number }).statusCode;
  return s && s >= 400 && s < 600 ? s : 500;
}

/**
 * The caller of an OpenStack request, from `X-Auth-Token` (Keystone's tokens are nubis tokens, so a
 * nubis token works too). @throws OsError 401.
 */
export async function osPrincipal(cp: ControlPlane, req: FastifyRequest): Promise<Principal> {
  const raw = req.headers['x-auth-token'];
  const token = (Array.isArray(raw) ? raw[0] : raw)?.trim();
  if (!token)
    throw new OsError(401, 'The request you have made requires authentication (send X-Auth-Token).');
  const p = await cp.authenticate(token, req.ip);
  if (!p) throw new OsError(401, 'The token is not valid (unknown, expired or revoked).');
  return p;
}

/** The absolute URL of `/openstack` as the client reached it (or as configured with `publicUrl`). */
export function osBase(req: FastifyRequest, opts: ApiOptions): string {
  if (opts.publicUrl) return `${opts.publicUrl.replace(/\/+$/, '')}/openstack`;
  const proto = (req.raw.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
  return `${proto}://${req.headers.host ?? 'localhost'}/openstack`;
}

/** Where each service lives under `/openstack` (no segment looks like `v<digit>`: Tempest rewrites those). */
export const SERVICE_PATHS: Record<
  OsService,
  { path: string; versioned: string; name: string; type: string }
> = {
  identity: { path: '/identity', versioned: '/identity/v3', name: 'keystone', type: 'identity' },
  compute: { path: '/compute', versioned: '/compute/v2.1', name: 'nova', type: 'compute' },
  image: { path: '/image', versioned: '/image', name: 'glance', type: 'image' },
  network: { path: '/network', versioned: '/network', name: 'neutron', type: 'network' },
  volume: { path: '/volume', versioned: '/volume/v3', name: 'cinderv3', type: 'volumev3' },
};

/** The catalog of every token (one public endpoint per service in region `RegionOne`). */
export function osCatalog(base: string) {
  return (Object.keys(SERVICE_PATHS) as OsService[]).map((s) => {
    const e = SERVICE_PATHS[s];
    return {
      id: `${s}-service`,
      type: e.type,
      name: e.name,
      endpoints: [
        {
          id: `${s}-public`,
          interface: 'public',
          region: 'RegionOne',
          region_id: 'RegionOne',
          url: `${base}${e.versioned}`,
        },
      ],
    };
  });
}

/** The highest compute microversion nubis serves (2.1 … 2.30). */
export const NOVA_MAX_MINOR = 30;

declare module 'fastify' {
  interface FastifyRequest {
    /** The compute microversion asked for (2.N: N), set on compute requests. */
    novaMinor?: number;
  }
}

/**
 * The compute microversion a request asks for (`X-OpenStack-Nova-API-Version: 2.N` or
 * `OpenStack-API-Version: compute 2.N`; `latest` = 2.30, none = 2.1). @throws OsError 406 outside 2.1–2.30.
 */
export function novaMicroversion(req: FastifyRequest): number {
  const legacy = req.headers['x-openstack-nova-api-version'];
  const modern = req.headers['openstack-api-version'];
  let asked = Array.isArray(legacy) ? legacy[0] : legacy;
  if (!asked && modern) {
    const m = /(?:^|,)\s*compute\s+([^,\s]+)/i.exec(Array.isArray(modern) ? modern.join(',') : modern);
    asked = m?.[1];
  }
  if (!asked) return 1;
  if (asked.trim().toLowerCase() === 'latest') return NOVA_MAX_MINOR;
  const m = /^\s*2\.(\d+)\s*$/.exec(asked);
  const minor = m ? Number(m[1]) : NaN;
  if (!(minor >= 1 && minor <= NOVA_MAX_MINOR))
    throw new OsError(
      406,
      `Version ${asked} is not supported by the API. Minimum is 2.1 and maximum is 2.${NOVA_MAX_MINOR}.`,
    );
  return minor;
}

/**
 * Register a service's routes in their own scope: request ids on every answer, the service's error
 * body for every error (and for unknown paths), compute's microversion checked and echoed.
 */
export function osScope(
  app: FastifyInstance,
  service: OsService,
  deps: OsDeps,
  register: (s: FastifyInstance, deps: OsDeps) => void | Promise<void>,
): void {
  void app.register(
    async (s) => {
      s.addHook('onRequest', async (req, reply) => {
        const id = `req-${randomUUID()}`;
        reply.header('x-openstack-request-id', id);
        if (service === 'compute') {
          reply.header('x-compute-request-id', id);
          const minor = novaMicroversion(req);
          req.novaMinor = minor;
          reply
            .header('x-openstack-nova-api-version', `2.${minor}`)
            .header('openstack-api-version', `compute 2.${minor}`)
            .header('vary', 'OpenStack-API-Version, X-OpenStack-Nova-API-Version');
        }
      });
      // JSON bodies may be empty (clients send Content-Type on bodiless requests); Glance's own types are its routes'.
      s.removeContentTypeParser('application/json');
      s.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
        const text = String(body);
        if (!text.trim()) return done(null, undefined);
        try {
          done(null, JSON.parse(text));
        } catch {
          done(new OsError(400, 'Malformed request body: not JSON'), undefined);
        }
      });
      s.setErrorHandler(async (e, req, reply) => osFail(service, deps, e, req, reply));
      s.setNotFoundHandler((req, reply) =>
        reply
          .code(404)
          .send(
            osErrorBody(service, 404, `No ${service} resource at ${req.method} ${req.url.split('?')[0]}`),
          ),
      );
      await register(s, deps);
    },
    { prefix: `/openstack${SERVICE_PATHS[service].path}` },
  );
}

function osFail(service: OsService, deps: OsDeps, e: unknown, req: FastifyRequest, reply: FastifyReply) {
  const status = osStatusOf(e);
  if (status >= 500)
    (deps.opts.log ?? ((l) => process.stderr.write(JSON.stringify(l) + '\n')))({
      level: 'error',
      time: new Date().toISOString(),
      requestId: req.id,
      method: req.method,
      route: req.routeOptions?.url ?? req.url.split('?')[0],
      error: (e as Error).message,
      stack: (e as Error).stack,
      status,
    });
  const message =
    status >= 500 && !(e instanceof ControlError)
      ? `Internal error (request ${req.id}; the server logged it)`
      : (e as Error).message;
  return reply.code(status).send(osErrorBody(service, status, message));
}
