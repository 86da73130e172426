/** Security groups and their rules. */
import { z } from 'zod';
import { listRoute } from '../pagination.ts';
import type { RouteModule } from '../route-def.ts';
import { idParam, name } from '../schemas.ts';

const port = z.number().int().min(1).max(65535);

/** /v1/security-groups and their rules. */
export const securityGroupRoutes: RouteModule = (route, { cp }) => {
  listRoute(route, {
    url: '/v1/security-groups',
    summary: 'List your security groups (the default one included) with their rules',
    tag: 'security-groups',
    list: async ({ p }) => cp.securityGroups.listGroups(p),
  });
  route({
    method: 'POST',
    url: '/v1/security-groups',
    summary: 'Create a security group (no rules: it allows nothing until rules are added)',
    tag: 'security-groups',
    status: 201,
    body: z.object({ name, description: z.string().max(500).optional() }).strict(),
    handler: async ({ p, body }) => cp.securityGroups.createGroup(p, body),
  });
  route({
    method: 'GET',
    url: '/v1/security-groups/:id',
    summary: 'A security group and its rules',
    tag: 'security-groups',
    params: idParam,
    handler: async ({ p, params }) => cp.securityGroups.getGroup(p, params.id),
  });
  route({
    method: 'DELETE',
    url: '/v1/security-groups/:id',
    summary: 'Delete a security group no port uses (409 otherwise)',
    tag: 'security-groups',
    status: 204,
    params: idParam,
    handler: async ({ p, params }) => {
      await cp.securityGroups.deleteGroup(p, params.id);
      return undefined;
    },
  });
  route({
    method: 'POST',
    url: '/v1/security-groups/:id/rules',
    summary: 'Add an allow rule (remoteCidr or remoteGroup); the hosts of your ports get it at once',
    tag: 'security-groups',
    status: 201,
    params: idParam,
    body: z
      .object({
        direction: z.enum(['ingress', 'egress']),
        protocol: z.enum(['tcp', 'udp', 'icmp', 'any']),
        portMin: port.optional(),
        portMax: port.optional(),
        remoteCidr: z.string().min(9).max(18).optional(),
        remoteGroup: z.string().min(1).max(200).optional(),
      })
      .strict(),
    handler: async ({ p, params, body }) => cp.securityGroups.addRule(p, params.id, body),
  });
  route({
    method: 'DELETE',
    url: '/v1/security-groups/:id/rules/:rule',
    summary: 'Delete a rule of a security group',
    tag: 'security-groups',
    status: 204,
    params: z.object({ id: z.string().min(1).max(200), rule: z.string().min(1).max(200) }).strict(),
    handler: async ({ p, params }) => {
      await cp.securityGroups.deleteRule(p, params.id, params.rule);
      return undefined;
    },
  });
};
