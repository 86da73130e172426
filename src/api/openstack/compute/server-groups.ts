/**
 * Nova's server groups over nubis's (`cp.createServerGroup`, `cp.catalogEdits`): one policy
 * (`affinity`, `anti-affinity`, and from 2.15 the soft ones, all nubis policies), `members` = the
 * group's live VMs, no metadata; 2.13 adds `user_id` and `project_id`. Create 200, delete 204 (nubis
 * refuses, 409, to delete a group that still has VMs). Names are unique in a project (nubis's rule;
 * Nova allows duplicates). Source: https://docs.openstack.org/api-ref/compute/#server-groups-os-server-groups
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { OsError, osPrincipal, type OsDeps } from '../frame.ts';
import { bodyObject, queryOne } from './nova-common.ts';

type Group = {
  id: string;
  name: string;
  policy: string;
  tenantId: string;
  userId: string | null;
  members: { id: string }[];
};

function view(req: FastifyRequest, g: Group) {
  return {
    id: g.id,
    name: g.name,
    policies: [g.policy],
    members: g.members.map((m) => m.id),
    metadata: {},
    ...((req.novaMinor ?? 1) >= 13 ? { project_id: g.tenantId, user_id: g.userId ?? '' } : {}),
  };
}

const truthy = (v: string | undefined) =>
  v !== undefined && ['1', 'true', 't', 'yes', 'on'].includes(v.toLowerCase());

/** Register `/os-server-groups` and `/os-server-groups/{id}`. */
export function registerServerGroups(s: FastifyInstance, deps: OsDeps): void {
  const { cp } = deps;
  const notFound = (id: string) => (e: unknown) => {
    if ((e as { code?: string }).code === 'NOT_FOUND')
      throw new OsError(404, `Server group ${id} could not be found.`);
    throw e;
  };

  s.post('/v2.1/os-server-groups', async (req) => {
    const p = await osPrincipal(cp, req);
    const b = bodyObject(req.body, 'server_group');
    const name = b.name;
    if (typeof name !== 'string' || !name.trim() || name.length > 255)
      throw new OsError(400, 'Invalid input for field/attribute name: 1 to 255 characters');
    const allowed =
      (req.novaMinor ?? 1) >= 15
        ? ['affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity']
        : ['affinity', 'anti-affinity'];
    const policies = b.policies;
    if (!Array.isArray(policies) || policies.length !== 1 || !allowed.includes(policies[0] as string))
      throw new OsError(400, `Invalid input for field/attribute policies: one of ${allowed.join(', ')}`);
    const g = await cp.createServerGroup(p, name, policies[0] as string);
    return { server_group: view(req, { ...g, members: [] }) };
  });

  s.get('/v2.1/os-server-groups', async (req) => {
    const p = await osPrincipal(cp, req);
    const all = truthy(queryOne(req.query, 'all_projects'));
    const groups = (await cp.listServerGroups(p)).filter((g) => all || g.tenantId === p.tenantId);
    const full = await Promise.all(groups.map((g) => cp.catalogEdits.getServerGroup(p, g.id)));
    return { server_groups: full.map((g) => view(req, g)) };
  });

  s.get<{ Params: { id: string } }>('/v2.1/os-server-groups/:id', async (req) => {
    const p = await osPrincipal(cp, req);
    const g = await cp.catalogEdits.getServerGroup(p, req.params.id).catch(notFound(req.params.id));
    if (g.id !== req.params.id) throw new OsError(404, `Server group ${req.params.id} could not be found.`);
    return { server_group: view(req, g) };
  });

  s.delete<{ Params: { id: string } }>('/v2.1/os-server-groups/:id', async (req, reply) => {
    const p = await osPrincipal(cp, req);
    const g = await cp.catalogEdits
      .getServerGroup(p, req.params.id, 'server-group:write')
      .catch(notFound(req.params.id));
    if (g.id !== req.params.id) throw new OsError(404, `Server group ${req.params.id} could not be found.`);
    await cp.catalogEdits.deleteServerGroup(p, g.id);
    return reply.code(204).send();
  });
}
