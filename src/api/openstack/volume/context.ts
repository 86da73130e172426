/**
 * What every Cinder route shares: the caller (from `X-Auth-Token`), the project in the URL (optional
 * `/v3/{project_id}/...`, which must be the token's project), the service's absolute root for links,
 * both route forms, request bodies validated into 400s, and nubis's state refusals as Cinder's 400.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { ControlError } from '../../../control/errors.ts';
import type { Principal } from '../../../control/principal.ts';
import { osBase, OsError, osPrincipal, type OsDeps } from '../frame.ts';

/** A Cinder request's caller and where the service is. */
export interface VolumeCtx {
  p: Principal;
  /** The absolute `.../openstack/volume`. */
  root: string;
  /** Whether the caller is Cinder's admin (admin keys, `all_tenants`). */
  admin: boolean;
}

/** Authenticate and check the URL's project. @throws OsError 401, 404 (another project in the URL). */
export async function volumeCtx(deps: OsDeps, req: FastifyRequest): Promise<VolumeCtx> {
  const p = await osPrincipal(deps.cp, req);
  const project = (req.params as { project_id?: string }).project_id;
  if (project !== undefined && project !== p.tenantId)
    throw new OsError(404, `Project "${project}" in the URL is not the token's project`);
  return { p, root: `${osBase(req, deps.opts)}/volume`, admin: p.role === 'admin' };
}

type Handler = (ctx: VolumeCtx, req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** Register a Cinder route at `/v3<rel>` and `/v3/:project_id<rel>`. */
export function v3Route(
  s: FastifyInstance,
  deps: OsDeps,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  rel: string,
  handler: Handler,
): void {
  for (const url of [`/v3${rel}`, `/v3/:project_id${rel}`])
    s.route({
      method,
      url,
      handler: async (req, reply) => {
        const ctx = await volumeCtx(deps, req);
        try {
          return await handler(ctx, req, reply);
        } catch (e) {
          throw cinderError(e);
        }
      },
    });
}

/**
 * nubis's refusals as Cinder answers them: a wrong state is 400 (Cinder's InvalidVolume), a quota
 * 413 (VolumeLimitExceeded), the rest unchanged.
 */
export function cinderError(e: unknown): unknown {
  if (e instanceof ControlError && (e.code === 'INVALID_STATE' || e.code === 'BAD_REQUEST'))
    return new OsError(400, e.message);
  if (e instanceof ControlError && e.code === 'QUOTA_EXCEEDED') return new OsError(413, e.message);
  return e;
}

/** Validate a body or query with zod. @throws OsError 400 naming the first problem. */
export function parseInput<T extends z.ZodTypeAny>(schema: T, value: unknown, what: string): z.infer<T> {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  throw new OsError(400, `Invalid ${what}: ${i.path.join('.') || 'body'}: ${i.message}`);
}

/** The first value of a query parameter. */
export function queryParam(req: FastifyRequest, key: string): string | undefined {
  const v = (req.query as Record<string, string | string[] | undefined>)[key];
  return Array.isArray(v) ? v[0] : v;
}
