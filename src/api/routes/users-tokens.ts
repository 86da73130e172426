/** Users and API tokens. */
import { z } from 'zod';
import { ROLES } from '../../control/control-plane.ts';
import type { RouteModule } from '../route-def.ts';
import { idParam, name } from '../schemas.ts';

/** POST /v1/users, POST /v1/tokens, DELETE /v1/tokens/:id. */
export const userTokenRoutes: RouteModule = (route, { cp }) => {
  route({
    method: 'POST',
    url: '/v1/users',
    summary: 'Create a user in a tenant with a role (admin)',
    tag: 'users',
    status: 201,
    body: z.object({ tenant: z.string().min(1), name, role: z.enum(ROLES) }).strict(),
    handler: async ({ p, body }) => cp.createUser(p, body.tenant, body.name, body.role),
  });
  route({
    method: 'POST',
    url: '/v1/tokens',
    summary: 'Create an API token (shown once; admins may create one for any user)',
    tag: 'tokens',
    status: 201,
    body: z
      .object({ name, userId: z.string().optional(), expiresInS: z.number().int().positive().optional() })
      .strict(),
    handler: async ({ p, body }) => cp.createToken(p, body),
  });
  route({
    method: 'DELETE',
    url: '/v1/tokens/:id',
    summary: 'Revoke a token',
    tag: 'tokens',
    status: 204,
    params: idParam,
    handler: async ({ p, params }) => {
      await cp.revokeToken(p, params.id);
      return undefined;
    },
  });
};
