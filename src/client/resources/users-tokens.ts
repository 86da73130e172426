import { Http, type PageQuery, seg } from '../http.ts';
import type { CreatedToken, Role, TokenRow, User, UserRow } from '../types.ts';

/** Users (admin). */
export const usersApi = (http: Http) => ({
  /** Creates a user in a tenant (id or name) with a role (and a password for Keystone logins). */
  create: (u: { tenant: string; name: string; role: Role; password?: string }) =>
    http.post<User>('/v1/users', u),
  /** Users: admins everyone (or one tenant's); others themselves. */
  list: (q: { tenant?: string } = {}) => http.all<UserRow>('/v1/users', q),
  /** One page (limit, cursor, fields); see `list` for every row. */
  page: (q: PageQuery & { tenant?: string } = {}) => http.page<UserRow>('/v1/users', { ...q }),
  /** Changes a user's role (not the last admin's). */
  update: (id: string, c: { role: Role }) => http.patch<UserRow>(`/v1/users/${seg(id)}`, c),
  /** Deletes a user and their tokens (not the last admin). */
  delete: (id: string) => http.delete<void>(`/v1/users/${seg(id)}`),
});

/** API tokens. */
export const tokensApi = (http: Http) => ({
  /** Creates a token for yourself, or (admins) for `userId`; the secret is in the answer only. */
  create: (t: { name: string; userId?: string; expiresInS?: number }) =>
    http.post<CreatedToken>('/v1/tokens', t),
  /** Tokens without their secret: your own; admins everyone's, or one user's. */
  list: (q: { user?: string } = {}) => http.all<TokenRow>('/v1/tokens', q),
  /** One page (limit, cursor, fields); see `list` for every row. */
  page: (q: PageQuery & { user?: string } = {}) => http.page<TokenRow>('/v1/tokens', { ...q }),
  /** Revokes a token by id. */
  revoke: (id: string) => http.delete<void>(`/v1/tokens/${seg(id)}`),
});
