/**
 * Recovering a lost admin token. Whoever can open the control plane's database (the local operator,
 * through `nubis serve --reset-admin-token`) is trusted with it: there is no API route for this, so
 * nobody reaches it over the network.
 */
import { recordSecurityEvent } from '../security/security-log.ts';
import { hashToken } from '../control-plane.ts';
import { type ControlContext, nowIso, recordEvent } from '../context.ts';
import { ControlError } from '../errors.ts';
import { tokenCacheFor } from '../security/token-cache.ts';

/** What `resetAdminToken` did; `token` is the only copy of the new secret (it is stored hashed). */
export interface AdminTokenReset {
  token: string;
  tokenId: string;
  userId: string;
  userName: string;
  /** How many of the admin's tokens were live and are now revoked. */
  revoked: number;
}

/**
 * Revoke every live token of the first admin user (the one `bootstrap` created) and give that user a
 * new token, in one transaction with an `admin.token-reset` event. The new token works at once, also
 * for a server already running on the same database (tokens are looked up on every request).
 * @throws ControlError NOT_FOUND when the database has no admin user yet (start `nubis serve` once)
 */
export async function resetAdminToken(ctx: ControlContext): Promise<AdminTokenReset> {
  const admin = await ctx.db
    .selectFrom('users')
    .select(['id', 'tenant_id', 'name'])
    .where('role', '=', 'admin')
    .orderBy('created_at')
    .orderBy('id')
    .executeTakeFirst();
  if (!admin)
    throw new ControlError(
      'NOT_FOUND',
      'No admin user in this database: start `nubis serve` once on it, which creates one and prints its token',
    );
  const token = `nubis_${ctx.ids.secret()}`;
  const tokenId = ctx.ids.uuid();
  const at = nowIso(ctx);
  const revoked = await ctx.db.transaction().execute(async (trx) => {
    const r = await trx
      .updateTable('tokens')
      .set({ revoked_at: at })
      .where('user_id', '=', admin.id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    await trx
      .insertInto('tokens')
      .values({
        id: tokenId,
        user_id: admin.id,
        name: 'reset',
        hash: hashToken(token),
        expires_at: null,
        revoked_at: null,
        created_at: at,
      })
      .execute();
    const n = Number(r.numUpdatedRows);
    await recordEvent(ctx, trx, {
      tenantId: admin.tenant_id,
      actor: 'local operator',
      kind: 'admin.token-reset',
      detail: { user: admin.name, tokenId, revoked: n },
    });
    await recordSecurityEvent(ctx, trx, {
      kind: 'token.created',
      principal: 'local operator',
      tenantId: admin.tenant_id,
      object: tokenId,
      detail: { tokenId, name: 'reset', user: admin.name, adminTokenReset: true, revokedTokens: n },
    });
    return n;
  });
  tokenCacheFor(ctx.db).clear(); // in this process at once; a server on the same database within its TTL
  return { token, tokenId, userId: admin.id, userName: admin.name, revoked };
}
