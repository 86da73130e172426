/** Networks (with their one subnet) and ports. */
import { z } from 'zod';
import { listRoute } from '../pagination.ts';
import type { RouteModule } from '../route-def.ts';
import { idParam, name } from '../schemas.ts';

const ref = z.string().min(1).max(200);
const ipv4 = z.string().min(7).max(15);
const groups = z.array(ref).max(20);

/** /v1/networks and /v1/ports. */
export const networkRoutes: RouteModule = (route, { cp }) => {
  listRoute(route, {
    url: '/v1/networks',
    summary: "List your networks and the external networks (others' external ones: name and CIDR)",
    tag: 'networks',
    list: async ({ p }) => cp.networks.listNetworks(p),
  });
  route({
    method: 'POST',
    url: '/v1/networks',
    summary:
      'Create a network with its IPv4 subnet (external: true, admins: an external network with a floating IP pool)',
    tag: 'networks',
    status: 201,
    body: z
      .object({
        name,
        cidr: z.string().min(9).max(18),
        gateway: ipv4.nullable().optional(),
        dhcp: z.boolean().optional(),
        dns: z.array(ipv4).max(4).optional(),
        mtu: z.number().int().min(576).max(9000).optional(),
        external: z.boolean().optional(),
        pool: z.string().min(15).max(31).optional(),
        physnet: z
          .string()
          .min(1)
          .max(64)
          .regex(/^[a-zA-Z0-9_.-]+$/)
          .optional(),
      })
      .strict(),
    handler: async ({ p, body }) => cp.networks.createNetwork(p, body),
  });
  route({
    method: 'GET',
    url: '/v1/networks/:id',
    summary: 'A network',
    tag: 'networks',
    params: idParam,
    handler: async ({ p, params }) => cp.networks.getNetwork(p, params.id),
  });
  route({
    method: 'DELETE',
    url: '/v1/networks/:id',
    summary: 'Delete a network with no ports (409 otherwise)',
    tag: 'networks',
    status: 204,
    params: idParam,
    handler: async ({ p, params }) => {
      await cp.networks.deleteNetwork(p, params.id);
      return undefined;
    },
  });

  listRoute(route, {
    url: '/v1/ports',
    summary: 'List your ports (filter by VM or network id)',
    tag: 'ports',
    filters: { vm: ref.optional(), network: ref.optional() },
    list: async ({ p, query }) => cp.ports.listPorts(p, query),
  });
  route({
    method: 'POST',
    url: '/v1/ports',
    summary:
      'Create a port on one of your networks (a fixed IP from IPAM, or the one asked for); attach it with vm create --port',
    tag: 'ports',
    status: 201,
    body: z.object({ network: ref, fixedIp: ipv4.optional(), securityGroups: groups.optional() }).strict(),
    handler: async ({ p, body }) => cp.ports.createPort(p, body),
  });
  route({
    method: 'GET',
    url: '/v1/ports/:id',
    summary: 'A port',
    tag: 'ports',
    params: idParam,
    handler: async ({ p, params }) => cp.ports.getPort(p, params.id),
  });
  route({
    method: 'PUT',
    url: '/v1/ports/:id',
    summary: "Change a port's security groups (its host gets the new rules at once)",
    tag: 'ports',
    params: idParam,
    body: z.object({ securityGroups: groups }).strict(),
    handler: async ({ p, params, body }) => cp.ports.updatePort(p, params.id, body),
  });
  route({
    method: 'DELETE',
    url: '/v1/ports/:id',
    summary: 'Delete a port no VM uses (409 otherwise)',
    tag: 'ports',
    status: 204,
    params: idParam,
    handler: async ({ p, params }) => {
      await cp.ports.deletePort(p, params.id);
      return undefined;
    },
  });
};
