/**
 * Who a token stands for. A plain nubis token: its user in the home tenant with the home role. A
 * Keystone token (its `methods` set): the user in the token's project with the highest role the
 * user holds there now (a removed assignment takes effect at the next lookup), limited to its
 * application credential's roles if it came from one; an unscoped Keystone token stands for nobody
 * outside Keystone. A disabled user's tokens stand for nobody, and so do tokens in a disabled tenant.
 */
import type { Principal, Role } from '../principal.ts';
import type { Db } from '../store/open-store.ts';
import { highestRole, rolesOn } from './identity-roles.ts';

/** A token's row with its user (what a failure is logged with). */
export interface TokenRowInfo {
  tokenId: string;
  userId: string;
  userName: string;
  tenantId: string | null;
  expiresAt: string | null;
}

/** A token's lookup: the principal, or why there is none. */
export interface ResolvedToken {
  p: Principal | null;
  reason: string | null;
  row?: TokenRowInfo;
}

/** The roles a Keystone token carries on its project now (its credential's, if any, that the user still has). */
export async function tokenRoles(
  db: Db,
  userId: string,
  tenantId: string,
  appCredentialId: string | null,
): Promise<Role[]> {
  const roles = await rolesOn(db, userId, tenantId);
  if (!appCredentialId) return roles;
  const cred = await db
    .selectFrom('app_credentials')
    .select('roles')
    .where('id', '=', appCredentialId)
    .executeTakeFirst();
  if (!cred) return [];
  const allowed = JSON.parse(cred.roles) as string[];
  return roles.filter((r) => allowed.includes(r));
}

/** Resolve the token whose hash is `hash` at `nowIso`. */
export async function resolveToken(db: Db, hash: string, nowIso: string): Promise<ResolvedToken> {
  const t = await db
    .selectFrom('tokens')
    .innerJoin('users', 'users.id', 'tokens.user_id')
    .leftJoin('tenants', 'tenants.id', 'users.tenant_id')
    .select([
      'tokens.id as tokenId',
      'tokens.expires_at',
      'tokens.revoked_at',
      'tokens.methods',
      'tokens.scope_tenant_id',
      'tokens.app_credential_id',
      'users.id as userId',
      'users.name as userName',
      'users.tenant_id as tenantId',
      'users.role',
      'users.enabled',
      'tenants.deleted_at as homeDeletedAt',
      'tenants.enabled as homeEnabled',
    ])
    .where('tokens.hash', '=', hash)
    .executeTakeFirst();
  if (!t) return { p: null, reason: 'unknown' };
  const row: TokenRowInfo = {
    tokenId: t.tokenId,
    userId: t.userId,
    userName: t.userName,
    tenantId: t.methods ? t.scope_tenant_id : t.tenantId,
    expiresAt: t.expires_at,
  };
  const fail = (reason: string) => ({ p: null, reason, row });
  if (t.revoked_at) return fail('revoked');
  if (t.expires_at && t.expires_at <= nowIso) return fail('expired');
  if (!Number(t.enabled)) return fail('disabled');
  const base = { userId: t.userId, userName: t.userName, tokenId: t.tokenId };
  if (!t.methods) {
    // A plain nubis token: the home tenant (a deleted one, or none, counts as unknown as before).
    if (!t.tenantId || t.homeDeletedAt) return { p: null, reason: 'unknown', row };
    if (!Number(t.homeEnabled)) return fail('tenant-disabled');
    return { p: { ...base, tenantId: t.tenantId, role: t.role as Role }, reason: null, row };
  }
  if (!t.scope_tenant_id) return fail('unscoped');
  const role = highestRole(await tokenRoles(db, t.userId, t.scope_tenant_id, t.app_credential_id));
  if (!role) return fail('no-role');
  return { p: { ...base, tenantId: t.scope_tenant_id, role }, reason: null, row };
}
