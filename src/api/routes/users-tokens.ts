/** Users and API tokens. */
import { z } from 'zod';
import { ROLES } from '../../control/control-plane.ts';
import { listRoute } from '../pagination.ts';
import type { RouteModule } from '../route-def.ts';
import { idParam, name } from '../schemas.ts';

/** A token lives at most this long (a longer expiry overflowed the date: a 500). */
const TEN_YEARS_S = 10 * 365 * 86400;

/** GET/POST /v1/users, PATCH/DELETE /v1/users/:id, GET/POST /v1/tokens, DELETE /v1/tokens/:id. */
export const userTokenRoutes: RouteModule = (route, { cp }) => {
  route({
    method: 'POST',
    url: '/v1/users',
    summary: 'Create a user in a tenant with a role (admin); with a password it logs in to Keystone',
    tag: 'users',
    status: 201,
    body: z
      .object({
        tenant: z.string().min(1),
        name,
        role: z.enum(ROLES),
        password: z.string().min(1).max(1024).optional(),
      })
      .strict(),
    handler: async ({ p, body }) => cp.createUser(p, body.tenant, body.name, body.role, body.password),
  });
  listRoute(route, {
    url: '/v1/users',
    summary: 'List users (admin: all, or one tenant with ?tenant=; others: themselves)',
    tag: 'users',
    filters: { tenant: z.string().min(1).optional() },
    list: async ({ p, query }) => cp.tenancyAdmin.listUsers(p, query),
  });
  route({
    method: 'PATCH',
    url: '/v1/users/:id',
    summary: "Change a user's role (admin; not the last admin's)",
    tag: 'users',
    params: idParam,
    body: z.object({ role: z.enum(ROLES) }).strict(),
    handler: async ({ p, params, body }) => cp.tenancyAdmin.updateUser(p, params.id, body),
  });
  route({
    method: 'DELETE',
    url: '/v1/users/:id',
    summary: 'Delete a user and their tokens (admin; not the last admin)',
    tag: 'users',
    status: 204,
    params: idParam,
    handler: async ({ p, params }) => {
      await cp.tenancyAdmin.deleteUser(p, params.id);
      return undefined;
    },
  });
  listRoute(route, {
    url: '/v1/tokens',
    summary: "List tokens, never their secret (your own; admin: everyone's, or one user's with ?user=)",
    tag: 'tokens',
    filters: { user: z.string().min(1).max(200).optional() },
    list: async ({ p, query }) => cp.tenancyAdmin.listTokens(p, query),
  });
  route({
    method: 'POST',
    url: '/v1/tokens',
    summary: 'Create an API token (shown once; admins may create one for any user)',
    tag: 'tokens',
    status: 201,
    body: z
      .object({
        name,
        userId: z.string().optional(),
        expiresInS: z.number().int().positive().max(TEN_YEARS_S, 'at most 10 years (315360000 s)').optional(),
      })
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
