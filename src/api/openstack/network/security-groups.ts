/**
 * Neutron's security groups and rules (https://docs.openstack.org/api-ref/network/v2/#security-groups-security-groups,
 * #security-group-rules-security-group-rules), translated to nubis's (`cp.securityGroups`). A project's
 * `default` group is made on its first use of the API, as Neutron does.
 */
import type { FastifyInstance } from 'fastify';
import type { Principal } from '../../../control/principal.ts';
import { OsError, osPrincipal, type OsDeps } from '../frame.ts';
import {
  byId,
  createAll,
  createBodies,
  listAnswer,
  neutronTime,
  project,
  projectOf,
  standardAttrs,
  str,
  strOrAbsent,
  updateBody,
  type NeutronObject,
} from './common.ts';

type Rows = Awaited<ReturnType<OsDeps['cp']['securityGroups']['visibleRows']>>;
type RuleRow = Rows['rules'][number];
type GroupRow = Rows['groups'][number];

/** A nubis rule as a Neutron security group rule. */
export function ruleView(r: RuleRow): NeutronObject {
  const protocol = r.protocol === 'any' ? null : r.protocol;
  return {
    id: r.id,
    tenant_id: r.tenant_id,
    project_id: r.tenant_id,
    security_group_id: r.group_id,
    direction: r.direction,
    ethertype: r.ethertype,
    protocol,
    port_range_min: r.port_min,
    port_range_max: r.port_max,
    remote_ip_prefix: r.remote_cidr,
    remote_group_id: r.remote_group_id,
    description: r.description,
    created_at: neutronTime(r.created_at),
    updated_at: neutronTime(r.created_at),
    revision_number: 0,
  };
}

/** A nubis group (with its rules among `rules`) as a Neutron security group. */
export function groupView(g: GroupRow, rules: RuleRow[]): NeutronObject {
  return {
    id: g.id,
    name: g.name,
    ...standardAttrs({
      tenantId: g.tenant_id,
      description: g.description,
      createdAt: g.created_at,
      updatedAt: g.updated_at,
      revision: g.revision_number,
    }),
    security_group_rules: rules.filter((r) => r.group_id === g.id).map(ruleView),
  };
}

/** An optional integer attribute (null kept). @throws OsError 400 */
function intOrNull(o: NeutronObject, k: string): number | null | undefined {
  const v = o[k];
  if (v === undefined || v === null) return v as undefined | null;
  const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n))
    throw new OsError(400, `Invalid value for port ${String(v)}`);
  return n;
}

/** Register /v2.0/security-groups and /v2.0/security-group-rules. */
export function registerNeutronSecurityGroups(s: FastifyInstance, { cp }: OsDeps): void {
  const rowsOf = async (p: Principal) => {
    await cp.securityGroups.ensureDefaultFor(p);
    return cp.securityGroups.visibleRows(p);
  };
  const group = async (p: Principal, id: string) => {
    const { groups, rules } = await rowsOf(p);
    return groupView(byId(groups, id, 'Security group'), rules);
  };
  const rule = async (p: Principal, id: string) =>
    ruleView(byId((await rowsOf(p)).rules, id, 'Security group rule'));

  s.get('/v2.0/security-groups', async (req) => {
    const p = await osPrincipal(cp, req);
    const { groups, rules } = await rowsOf(p);
    return {
      security_groups: listAnswer(
        req,
        groups.map((g) => groupView(g, rules)),
      ),
    };
  });
  s.get<{ Params: { id: string } }>('/v2.0/security-groups/:id', async (req) => {
    const p = await osPrincipal(cp, req);
    return { security_group: project(req, await group(p, req.params.id)) };
  });
  s.post('/v2.0/security-groups', async (req, reply) => {
    const p = await osPrincipal(cp, req);
    const { items, bulk } = createBodies(req.body, 'security_group', 'security_groups');
    const made = await createAll(
      items,
      (o) =>
        cp.securityGroups.createGroup(p, {
          name: str(o, 'name') ?? '',
          description: str(o, 'description'),
          tenantId: projectOf(o),
        }),
      (id) => cp.securityGroups.deleteGroup(p, id),
    );
    const out = await Promise.all(made.map((m) => group(p, m.id)));
    reply.code(201);
    return bulk ? { security_groups: out } : { security_group: out[0] };
  });
  s.put<{ Params: { id: string } }>('/v2.0/security-groups/:id', async (req) => {
    const p = await osPrincipal(cp, req);
    const g = await group(p, req.params.id);
    const o = updateBody(req.body, 'security_group');
    await cp.securityGroups.updateGroup(p, g.id as string, {
      name: str(o, 'name'),
      description: str(o, 'description'),
    });
    return { security_group: await group(p, g.id as string) };
  });
  s.delete<{ Params: { id: string } }>('/v2.0/security-groups/:id', async (req, reply) => {
    const p = await osPrincipal(cp, req);
    const g = await group(p, req.params.id);
    await cp.securityGroups.deleteGroup(p, g.id as string);
    return reply.code(204).send();
  });

  s.get('/v2.0/security-group-rules', async (req) => {
    const p = await osPrincipal(cp, req);
    return { security_group_rules: listAnswer(req, (await rowsOf(p)).rules.map(ruleView)) };
  });
  s.get<{ Params: { id: string } }>('/v2.0/security-group-rules/:id', async (req) => {
    const p = await osPrincipal(cp, req);
    return { security_group_rule: project(req, await rule(p, req.params.id)) };
  });
  s.post('/v2.0/security-group-rules', async (req, reply) => {
    const p = await osPrincipal(cp, req);
    const { items, bulk } = createBodies(req.body, 'security_group_rule', 'security_group_rules');
    const made = await createAll(
      items,
      async (o) => {
        const gid = str(o, 'security_group_id');
        if (!gid) throw new OsError(400, "Invalid input: 'security_group_id' is required");
        const { groups } = await rowsOf(p);
        const g = byId(groups, gid, 'Security group');
        const protocol = o.protocol;
        if (
          protocol !== undefined &&
          protocol !== null &&
          typeof protocol !== 'string' &&
          typeof protocol !== 'number'
        )
          throw new OsError(400, `Security group rule protocol ${String(protocol)} not supported.`);
        const remoteGroup = strOrAbsent(o, 'remote_group_id');
        if (remoteGroup !== undefined && !groups.some((x) => x.id === remoteGroup))
          throw new OsError(404, `Security group ${remoteGroup} does not exist`);
        return cp.securityGroups.createRule(p, g.id, {
          direction: (str(o, 'direction') ?? '') as 'ingress',
          ethertype: str(o, 'ethertype'),
          protocol: (protocol as string | number | null | undefined) ?? null,
          portMin: intOrNull(o, 'port_range_min'),
          portMax: intOrNull(o, 'port_range_max'),
          remoteCidr: strOrAbsent(o, 'remote_ip_prefix') ?? null,
          remoteGroup: remoteGroup ?? null,
          description: str(o, 'description'),
        });
      },
      (id) => cp.securityGroups.deleteRuleById(p, id),
    );
    const out = await Promise.all(made.map((m) => rule(p, m.id)));
    reply.code(201);
    return bulk ? { security_group_rules: out } : { security_group_rule: out[0] };
  });
  s.delete<{ Params: { id: string } }>('/v2.0/security-group-rules/:id', async (req, reply) => {
    const p = await osPrincipal(cp, req);
    const r = await rule(p, req.params.id);
    await cp.securityGroups.deleteRuleById(p, r.id as string);
    return reply.code(204).send();
  });
}
