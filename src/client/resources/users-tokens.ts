import { Http, seg } from '../http.ts';
import type { CreatedToken, Role, User } from '../types.ts';

/** Users (admin). */
export const usersApi = (http: Http) => ({
  /** Creates a user in a tenant (id or name) with a role. */
  create: (u: { tenant: string; name: string; role: Role }) => http.post<User>('/v1/users', u),
});

/** API tokens. */
export const tokensApi = (http: Http) => ({
  /** Creates a token for yourself, or (admins) for `userId`; the secret is in the answer only. */
  create: (t: { name: string; userId?: string; expiresInS?: number }) =>
    http.post<CreatedToken>('/v1/tokens', t),
  /** Revokes a token by id. */
  revoke: (id: string) => http.delete<void>(`/v1/tokens/${seg(id)}`),
});
