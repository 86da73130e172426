/**
 * Keystone's domains (one: `default`) and projects, which are nubis tenants: create, list (?name=),
 * show, update (name, description, enabled), delete as nubis deletes a tenant
 * (https://docs.openstack.org/api-ref/identity/v3/#projects).
 */
import type { FastifyInstance } from 'fastify';
import { ControlError } from '../../../control/errors.ts';
import { OsError } from '../frame.ts';
import {
  bodyOf,
  domainBody,
  ksCaller,
  listLinks,
  optBool,
  optString,
  projectBody,
  reqString,
  scoped,
  type IdentityDeps,
} from './common.ts';

type Q = Record<string, string | undefined>;

/** GET /v3/domains[/default], /v3/projects CRUD. */
export function projectRoutes(s: FastifyInstance, d: IdentityDeps): void {
  s.get('/v3/domains', async (req) => {
    await ksCaller(d, req);
    const q = req.query as Q;
    const dom = domainBody(req, d);
    const match = (q.name === undefined || q.name === dom.name) && (q.id === undefined || q.id === dom.id);
    return { domains: match ? [dom] : [], links: listLinks(req, d, '/domains') };
  });
  s.get('/v3/domains/:id', async (req) => {
    await ksCaller(d, req);
    const dom = domainBody(req, d);
    const { id } = req.params as { id: string };
    if (id !== dom.id) throw new OsError(404, `Could not find domain: ${id}.`);
    return { domain: dom };
  });

  const tenantRow = async (id: string) => {
    const t = await d.cp.ctx.db
      .selectFrom('tenants')
      .select(['id', 'name', 'description', 'enabled'])
      .where('id', '=', id)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (!t) throw new OsError(404, `Could not find project: ${id}.`);
    return t;
  };
  const setDescription = async (id: string, description: string | undefined) => {
    if (description !== undefined)
      await d.cp.ctx.db.updateTable('tenants').set({ description }).where('id', '=', id).execute();
  };

  s.post('/v3/projects', async (req, reply) => {
    const p = scoped(await ksCaller(d, req));
    const b = bodyOf(req, 'project');
    const domainId = optString(b, 'domain_id');
    if (domainId && domainId !== 'default') throw new OsError(404, `Could not find domain: ${domainId}.`);
    if (b.is_domain === true) throw new OsError(400, 'Domains cannot be created (there is one: default).');
    const name = reqString(b, 'name');
    // Keystone's project schema: a name of 1 to 64 characters.
    if (name.length > 64)
      throw new OsError(400, "Invalid input for field 'name': longer than 64 characters.");
    const enabled = optBool(b, 'enabled');
    const t = await d.cp.createTenant(p, name);
    await setDescription(t.id, optString(b, 'description'));
    if (enabled === false) await d.cp.tenancyAdmin.updateTenant(p, t.id, { enabled });
    return reply.code(201).send({ project: projectBody(req, d, await tenantRow(t.id)) });
  });
  s.get('/v3/projects', async (req) => {
    const p = scoped(await ksCaller(d, req));
    const q = req.query as Q;
    if (q.domain_id && q.domain_id !== 'default')
      return { projects: [], links: listLinks(req, d, '/projects') };
    // Keystone's policy: listing projects is the admin's (a user lists theirs at /v3/users/{u}/projects).
    if (p.role !== 'admin')
      throw new OsError(
        403,
        'You are not authorized to perform the requested action: identity:list_projects.',
      );
    let sel = d.cp.ctx.db
      .selectFrom('tenants')
      .select(['id', 'name', 'description', 'enabled'])
      .where('deleted_at', 'is', null);
    if (q.name !== undefined) sel = sel.where('name', '=', q.name);
    // Keystone reads ?enabled as a boolean: anything but false/0/no/off is true.
    if (q.enabled !== undefined)
      sel = sel.where('enabled', '=', ['false', '0', 'no', 'off'].includes(q.enabled.toLowerCase()) ? 0 : 1);
    const rows = await sel.orderBy('name').execute();
    return { projects: rows.map((t) => projectBody(req, d, t)), links: listLinks(req, d, '/projects') };
  });
  s.get('/v3/projects/:id', async (req) => {
    const caller = await ksCaller(d, req);
    const { id } = req.params as { id: string };
    const t = await tenantRow(id);
    if (
      caller.principal?.role !== 'admin' &&
      !(await d.users.projectsOf(caller.userId)).some((x) => x.id === id)
    )
      throw new OsError(404, `Could not find project: ${id}.`);
    return { project: projectBody(req, d, t) };
  });
  s.patch('/v3/projects/:id', async (req) => {
    const p = scoped(await ksCaller(d, req));
    const { id } = req.params as { id: string };
    const b = bodyOf(req, 'project');
    await tenantRow(id);
    const name = optString(b, 'name');
    const enabled = optBool(b, 'enabled');
    if (name !== undefined || enabled !== undefined)
      await d.cp.tenancyAdmin.updateTenant(p, id, {
        ...(name !== undefined ? { name } : {}),
        ...(enabled !== undefined ? { enabled } : {}),
      });
    else if (p.role !== 'admin') throw new ControlError('FORBIDDEN', 'Only an admin may update a project');
    await setDescription(id, optString(b, 'description'));
    return { project: projectBody(req, d, await tenantRow(id)) };
  });
  s.delete('/v3/projects/:id', async (req, reply) => {
    const p = scoped(await ksCaller(d, req));
    const { id } = req.params as { id: string };
    await tenantRow(id);
    await d.cp.tenancyAdmin.deleteTenant(p, id);
    return reply.code(204).send();
  });
}
