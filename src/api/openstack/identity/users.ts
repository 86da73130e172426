/**
 * Keystone's users on nubis's users table: create (no home tenant, roles by assignment), list
 * (?name=), show (admin or self), update (name, password, enabled, ...), delete, a user's own
 * password change, and a user's projects (https://docs.openstack.org/api-ref/identity/v3/#users).
 */
import type { FastifyInstance } from 'fastify';
import type { KeystoneUserInput } from '../../../control/identity/keystone-users.ts';
import { OsError } from '../frame.ts';
import {
  bodyOf,
  ksCaller,
  listLinks,
  optString,
  projectBody,
  reqString,
  scoped,
  userBody,
  type IdentityDeps,
} from './common.ts';

type Q = Record<string, string | undefined>;

function userInput(b: Record<string, unknown>): KeystoneUserInput {
  if (b.enabled !== undefined && b.enabled !== null && typeof b.enabled !== 'boolean')
    throw new OsError(400, "Invalid input for field 'enabled': not a boolean.");
  const domainId = optString(b, 'domain_id');
  if (domainId && domainId !== 'default') throw new OsError(404, `Could not find domain: ${domainId}.`);
  return {
    ...(optString(b, 'name') !== undefined ? { name: optString(b, 'name') } : {}),
    ...(b.password !== undefined ? { password: optString(b, 'password') ?? null } : {}),
    ...(typeof b.enabled === 'boolean' ? { enabled: b.enabled } : {}),
    // `project_id`: the default project by its Keystone v2 name, which Tempest still sends.
    ...(b.default_project_id !== undefined
      ? { defaultProjectId: optString(b, 'default_project_id') ?? null }
      : b.project_id !== undefined
        ? { defaultProjectId: optString(b, 'project_id') ?? null }
        : {}),
    ...(b.description !== undefined ? { description: optString(b, 'description') ?? null } : {}),
    ...(b.email !== undefined ? { email: optString(b, 'email') ?? null } : {}),
  };
}

/** /v3/users CRUD and GET /v3/users/{u}/projects. */
export function userRoutes(s: FastifyInstance, d: IdentityDeps): void {
  s.post('/v3/users', async (req, reply) => {
    const p = scoped(await ksCaller(d, req));
    const b = bodyOf(req, 'user');
    const u = await d.users.create(p, { ...userInput(b), name: reqString(b, 'name') });
    return reply.code(201).send({ user: userBody(req, d, u) });
  });
  s.get('/v3/users', async (req) => {
    const p = scoped(await ksCaller(d, req));
    const q = req.query as Q;
    const rows =
      q.domain_id && q.domain_id !== 'default'
        ? []
        : await d.users.list(p, q.name !== undefined ? { name: q.name } : {});
    return { users: rows.map((u) => userBody(req, d, u)), links: listLinks(req, d, '/users') };
  });
  s.get('/v3/users/:id', async (req) => {
    const caller = await ksCaller(d, req);
    const { id } = req.params as { id: string };
    if (caller.userId !== id && caller.principal?.role !== 'admin')
      throw new OsError(404, `Could not find user: ${id}.`);
    return { user: userBody(req, d, await d.users.get(id)) };
  });
  s.patch('/v3/users/:id', async (req) => {
    const p = scoped(await ksCaller(d, req));
    const { id } = req.params as { id: string };
    return { user: userBody(req, d, await d.users.update(p, id, userInput(bodyOf(req, 'user')))) };
  });
  s.delete('/v3/users/:id', async (req, reply) => {
    const p = scoped(await ksCaller(d, req));
    await d.users.delete(p, (req.params as { id: string }).id);
    return reply.code(204).send();
  });
  // https://docs.openstack.org/api-ref/identity/v3/#change-password-for-user (no token: the old password).
  s.post('/v3/users/:id/password', async (req, reply) => {
    const b = bodyOf(req, 'user');
    await d.users.changePassword(
      (req.params as { id: string }).id,
      reqString(b, 'original_password'),
      reqString(b, 'password'),
      req.ip,
    );
    return reply.code(204).send();
  });
  s.get('/v3/users/:id/projects', async (req) => {
    const caller = await ksCaller(d, req);
    const { id } = req.params as { id: string };
    if (caller.userId !== id && caller.principal?.role !== 'admin')
      throw new OsError(404, `Could not find user: ${id}.`);
    await d.users.get(id);
    const rows = await d.users.projectsOf(id);
    return {
      projects: rows.map((t) => projectBody(req, d, t)),
      links: listLinks(req, d, `/users/${id}/projects`),
    };
  });
}
