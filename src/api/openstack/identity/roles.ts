/**
 * Keystone's roles (nubis's: admin, operator, member, reader; a role's id is its name) and role
 * assignments on projects: grant, check, list, revoke
 * (https://docs.openstack.org/api-ref/identity/v3/#roles).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ROLES } from '../../../control/authz.ts';
import { OsError } from '../frame.ts';
import { bodyOf, ksBase, ksCaller, listLinks, reqString, scoped, type IdentityDeps } from './common.ts';

type Q = Record<string, string | undefined>;
type Grant = { p: string; u: string; r: string };

const roleBody = (req: FastifyRequest, d: IdentityDeps, r: string) => ({
  id: r,
  name: r,
  domain_id: null,
  description: null,
  options: {},
  links: { self: `${ksBase(req, d)}/roles/${r}` },
});

/** The role named or identified by `ref` (case-insensitive, as Tempest looks roles up). */
const roleOf = (ref: string) => ROLES.find((r) => r === ref.toLowerCase());

/** /v3/roles, /v3/projects/{p}/users/{u}/roles[/{r}], /v3/role_assignments. */
export function roleRoutes(s: FastifyInstance, d: IdentityDeps): void {
  s.get('/v3/roles', async (req) => {
    await ksCaller(d, req);
    const q = req.query as Q;
    const roles = ROLES.filter((r) => q.name === undefined || r === q.name.toLowerCase());
    return { roles: roles.map((r) => roleBody(req, d, r)), links: listLinks(req, d, '/roles') };
  });
  s.get('/v3/roles/:id', async (req) => {
    await ksCaller(d, req);
    const { id } = req.params as { id: string };
    const r = roleOf(id);
    if (!r) throw new OsError(404, `Could not find role: ${id}.`);
    return { role: roleBody(req, d, r) };
  });
  s.post('/v3/roles', async (req) => {
    scoped(await ksCaller(d, req));
    const name = reqString(bodyOf(req, 'role'), 'name');
    if (roleOf(name)) throw new OsError(409, `Duplicate entry: role ${name} exists.`);
    throw new OsError(403, `nubis's roles are fixed (${ROLES.join(', ')}); "${name}" cannot be created.`);
  });

  const grantPath = '/v3/projects/:p/users/:u/roles/:r';
  const role = (g: Grant) => roleOf(g.r) ?? g.r;
  s.put(grantPath, async (req, reply) => {
    const p = scoped(await ksCaller(d, req));
    const g = req.params as Grant;
    await d.users.grant(p, g.p, g.u, role(g));
    return reply.code(204).send();
  });
  s.get(grantPath, async (req, reply) => {
    const p = scoped(await ksCaller(d, req));
    const g = req.params as Grant;
    if (!(await d.users.check(p, g.p, g.u, role(g))))
      throw new OsError(404, `Could not find role assignment of ${g.r} on ${g.p} for ${g.u}.`);
    return reply.code(204).send();
  });
  s.delete(grantPath, async (req, reply) => {
    const p = scoped(await ksCaller(d, req));
    const g = req.params as Grant;
    await d.users.revoke(p, g.p, g.u, role(g));
    return reply.code(204).send();
  });
  s.get('/v3/projects/:p/users/:u/roles', async (req) => {
    const p = scoped(await ksCaller(d, req));
    const g = req.params as Grant;
    const rows = await d.users.assignments(p, { userId: g.u, tenantId: g.p });
    return {
      roles: [...new Set(rows.map((a) => a.role))].map((r) => roleBody(req, d, r)),
      links: listLinks(req, d, `/projects/${g.p}/users/${g.u}/roles`),
    };
  });
  s.get('/v3/role_assignments', async (req) => {
    const p = scoped(await ksCaller(d, req));
    const q = req.query as Q;
    let rows = await d.users.assignments(p, {
      ...(q['user.id'] ? { userId: q['user.id'] } : {}),
      ...(q['scope.project.id'] ? { tenantId: q['scope.project.id'] } : {}),
    });
    if (q['role.id']) rows = rows.filter((a) => a.role === q['role.id']);
    const base = ksBase(req, d);
    return {
      role_assignments: rows.map((a) => ({
        role: { id: a.role },
        user: { id: a.userId },
        scope: { project: { id: a.tenantId } },
        links: { assignment: `${base}/projects/${a.tenantId}/users/${a.userId}/roles/${a.role}` },
      })),
      links: listLinks(req, d, '/role_assignments'),
    };
  });
}
