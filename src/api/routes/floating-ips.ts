/** Floating IPs from an external network's pool. */
import { z } from 'zod';
import { listRoute } from '../pagination.ts';
import type { RouteModule } from '../route-def.ts';
import { idParam } from '../schemas.ts';

const ref = z.string().min(1).max(200);

/** /v1/floating-ips. */
export const floatingIpRoutes: RouteModule = (route, { cp }) => {
  listRoute(route, {
    url: '/v1/floating-ips',
    summary: 'List your floating IPs',
    tag: 'floating-ips',
    list: async ({ p }) => cp.floatingIps.list(p),
  });
  route({
    method: 'POST',
    url: '/v1/floating-ips',
    summary: "Allocate a floating IP from an external network's pool (metered by the hour until released)",
    tag: 'floating-ips',
    status: 201,
    body: z.object({ network: ref.optional() }).strict(),
    handler: async ({ p, body }) => cp.floatingIps.allocate(p, body),
  });
  route({
    method: 'GET',
    url: '/v1/floating-ips/:id',
    summary: 'A floating IP (by id or address)',
    tag: 'floating-ips',
    params: idParam,
    handler: async ({ p, params }) => cp.floatingIps.get(p, params.id),
  });
  route({
    method: 'POST',
    url: '/v1/floating-ips/:id/attach',
    summary: "Attach to a VM (its first port) or a port; the VM's host NATs it",
    tag: 'floating-ips',
    params: idParam,
    body: z.object({ vm: ref.optional(), port: ref.optional() }).strict(),
    handler: async ({ p, params, body }) => cp.floatingIps.attach(p, params.id, body),
  });
  route({
    method: 'POST',
    url: '/v1/floating-ips/:id/detach',
    summary: 'Detach from its port',
    tag: 'floating-ips',
    params: idParam,
    handler: async ({ p, params }) => cp.floatingIps.detach(p, params.id),
  });
  route({
    method: 'DELETE',
    url: '/v1/floating-ips/:id',
    summary: 'Release a floating IP to the pool',
    tag: 'floating-ips',
    status: 204,
    params: idParam,
    handler: async ({ p, params }) => {
      await cp.floatingIps.release(p, params.id);
      return undefined;
    },
  });
};
