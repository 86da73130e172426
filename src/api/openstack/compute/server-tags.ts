/**
 * `/v2.1/servers/{id}/tags[/{tag}]` (2.26): a server's tags, kept on nubis's VM record (`tags`); at most
 * 50, each 1–60 characters without `/` or `,`; below 2.26 the routes are not there (404)
 * (https://docs.openstack.org/api-ref/compute/#server-tags-servers-tags).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal } from '../../../control/principal.ts';
import type { VmRow } from '../../../control/compute/vm-reads.ts';
import { OsError, type OsDeps } from '../frame.ts';
import { findServer, refuseIfLocked, serverCaller } from './server-common.ts';

/** Nova's limit on a server's tags. */
const MAX_TAGS = 50;

const tagsOf = (raw: string) => JSON.parse(raw || '[]') as string[];

function checkTag(t: unknown): string {
  if (typeof t !== 'string' || !t.length || t.length > 60 || /[,/]/.test(t))
    throw new OsError(400, 'Invalid input for field/attribute tag: 1 to 60 characters without "/" or ","');
  return t;
}

function checkCount(tags: string[]): void {
  if (tags.length > MAX_TAGS) throw new OsError(400, `A server may have at most ${MAX_TAGS} tags`);
}

/** Register the server tag routes. */
export function registerServerTags(s: FastifyInstance, deps: OsDeps): void {
  const { cp } = deps;
  const params = (req: FastifyRequest) => req.params as { id: string; tag?: string };
  /** The caller and the server; 404 below 2.26 (no such resource there). */
  const server = async (req: FastifyRequest, write: boolean) => {
    const { p, view } = await serverCaller(deps, req);
    if ((req.novaMinor ?? 1) < 26) throw new OsError(404, 'The resource could not be found.');
    const v = await findServer(cp, p, params(req).id, write ? 'vm:action' : undefined);
    if (write) refuseIfLocked(p, v);
    return { p, v, base: view.base };
  };
  const save = (p: Principal, v: VmRow, tags: string[]) => cp.vmAttributes.edit(p, v.id, { tags });

  s.get('/v2.1/servers/:id/tags', async (req) => ({ tags: tagsOf((await server(req, false)).v.tags) }));
  s.put('/v2.1/servers/:id/tags', async (req) => {
    const { p, v } = await server(req, true);
    const given = (req.body as { tags?: unknown } | undefined)?.tags;
    if (!Array.isArray(given)) throw new OsError(400, 'Invalid input for field/attribute tags: a list');
    const tags = [...new Set(given.map(checkTag))];
    checkCount(tags);
    await save(p, v, tags);
    return { tags };
  });
  s.delete('/v2.1/servers/:id/tags', async (req, reply) => {
    const { p, v } = await server(req, true);
    await save(p, v, []);
    return reply.code(204).send();
  });
  s.get('/v2.1/servers/:id/tags/:tag', async (req, reply) => {
    const { v } = await server(req, false);
    if (!tagsOf(v.tags).includes(params(req).tag!))
      throw new OsError(404, `Tag ${params(req).tag} could not be found.`);
    return reply.code(204).send();
  });
  s.put('/v2.1/servers/:id/tags/:tag', async (req, reply) => {
    const { p, v, base } = await server(req, true);
    const tag = checkTag(params(req).tag);
    const tags = tagsOf(v.tags);
    // Nova: 201 with the tag's Location when added, 204 when it was already there.
    reply.header('location', `${base}/compute/v2.1/servers/${v.id}/tags/${encodeURIComponent(tag)}`);
    if (tags.includes(tag)) return reply.code(204).send();
    checkCount([...tags, tag]);
    await save(p, v, [...tags, tag]);
    return reply.code(201).send();
  });
  s.delete('/v2.1/servers/:id/tags/:tag', async (req, reply) => {
    const { p, v } = await server(req, true);
    const tag = params(req).tag!;
    const tags = tagsOf(v.tags);
    if (!tags.includes(tag)) throw new OsError(404, `Tag ${tag} could not be found.`);
    await save(
      p,
      v,
      tags.filter((t) => t !== tag),
    );
    return reply.code(204).send();
  });
}
