/**
 * Keystone's tokens are nubis tokens (the tokens table) with a scope: logging in with a password,
 * an application credential or another token (rescoping), reading a token back exactly as it was
 * issued, revoking it. Login successes and failures go to the security log.
 *
 * Uses: no other service (roles through ./identity-roles.ts).
 */
import { ControlError } from '../errors.ts';
import { hashToken, type Principal, type Role } from '../principal.ts';
import { appendSecurityEvent } from '../security/security-log.ts';
import { Service } from '../service.ts';
import { withImplied } from './identity-roles.ts';
import { verifyPassword } from './passwords.ts';
import { resolveToken, tokenRoles } from './token-principal.ts';

/** How long a Keystone token lives (Keystone's default, `[token] expiration = 3600`). */
export const KEYSTONE_TOKEN_TTL_S = 3600;

/** The only domain. */
export const DEFAULT_DOMAIN = { id: 'default', name: 'Default' } as const;

/** Who logs in: a user by id, or by name in the default domain. */
export type UserRef = { id: string } | { name: string; domainId?: string; domainName?: string };

/** A project scope by id, or by name in the default domain. */
export type ProjectRef = { id: string } | { name: string; domainId?: string; domainName?: string };

/** A valid Keystone token as its body shows it. */
export interface KeystoneToken {
  tokenId: string;
  userId: string;
  userName: string;
  methods: string[];
  auditId: string;
  issuedAt: string;
  expiresAt: string;
  project: { id: string; name: string } | null;
  /** The roles on the project, with the implied ones (empty when unscoped). */
  roles: Role[];
  appCredential: { id: string; name: string } | null;
  /** The nubis principal of a project-scoped token, null when unscoped. */
  principal: Principal | null;
}

const unauthorized = (m = 'The request you have made requires authentication.') =>
  new ControlError('UNAUTHENTICATED', m);

/** Keystone's tokens on nubis's tokens table. */
export class KeystoneTokens extends Service {
  private checkDomain(r: { domainId?: string; domainName?: string }) {
    if (r.domainId !== undefined && r.domainId !== DEFAULT_DOMAIN.id) throw unauthorized();
    if (r.domainName !== undefined && r.domainName.toLowerCase() !== DEFAULT_DOMAIN.name.toLowerCase())
      throw unauthorized();
  }

  /** A user for login (by id, or the one of that name with a password). */
  private async userFor(ref: UserRef) {
    let q = this.db.selectFrom('users').selectAll();
    if ('id' in ref) q = q.where('id', '=', ref.id);
    else {
      this.checkDomain(ref);
      q = q.where('name', '=', ref.name).where('password_hash', 'is not', null);
    }
    return q.executeTakeFirst();
  }

  private async failed(source: string | undefined, who: string | undefined, reason: string): Promise<never> {
    await appendSecurityEvent(this.ctx, {
      kind: 'login.failed',
      principal: who,
      source,
      operation: 'keystone:login',
      detail: { reason },
    });
    throw unauthorized('The request you have made requires authentication.');
  }

  /** A project by id or name (live ones). */
  async projectFor(ref: ProjectRef) {
    let q = this.db.selectFrom('tenants').select(['id', 'name']).where('deleted_at', 'is', null);
    if ('id' in ref) q = q.where('id', '=', ref.id);
    else {
      this.checkDomain(ref);
      q = q.where('name', '=', ref.name);
    }
    return q.executeTakeFirst();
  }

  /**
   * Where a login without a scope lands: the user's default project if it is live and the user has a
   * role there, else nowhere (an unscoped token, as Keystone does rather than refusing the login).
   */
  async defaultScope(userId: string, projectId: string | null): Promise<string | null> {
    const p = projectId ? await this.projectFor({ id: projectId }) : undefined;
    if (!p) return null;
    return (await tokenRoles(this.db, userId, p.id, null)).length ? p.id : null;
  }

  /** Check a password login; returns the user's id, name and default project. @throws UNAUTHENTICATED. */
  async checkPassword(ref: UserRef, password: string, source?: string) {
    const u = await this.userFor(ref);
    const who = 'id' in ref ? ref.id : ref.name;
    // The hash check runs even without a user (see verifyPassword): failures take the same time.
    const ok = await verifyPassword(password, u?.password_hash);
    if (!u || !ok) return this.failed(source, who, 'password');
    if (!Number(u.enabled)) return this.failed(source, u.name, 'disabled');
    return { id: u.id, name: u.name, defaultProjectId: u.default_project_id };
  }

  /** Check an application credential; its user, project and id. @throws UNAUTHENTICATED. */
  async checkAppCredential(
    c: { id?: string; name?: string; user?: UserRef },
    secret: string,
    source?: string,
  ) {
    let q = this.db
      .selectFrom('app_credentials')
      .innerJoin('users', 'users.id', 'app_credentials.user_id')
      .select([
        'app_credentials.id',
        'app_credentials.name',
        'app_credentials.tenant_id',
        'app_credentials.secret_hash',
        'app_credentials.expires_at',
        'users.id as userId',
        'users.name as userName',
        'users.enabled',
      ]);
    if (c.id) q = q.where('app_credentials.id', '=', c.id);
    else if (c.name && c.user) {
      const u = await this.userFor(c.user);
      if (!u) return this.failed(source, undefined, 'application credential');
      q = q.where('app_credentials.name', '=', c.name).where('app_credentials.user_id', '=', u.id);
    } else
      throw new ControlError('BAD_REQUEST', 'An application credential needs its id, or its name and user');
    const a = await q.executeTakeFirst();
    if (!a || !(await verifyPassword(secret, a.secret_hash)))
      return this.failed(source, undefined, 'application credential');
    if (a.expires_at && appCredentialExpiry(a.expires_at) <= this.ctx.clock.now() * 1000)
      return this.failed(source, a.userName, 'application credential expired');
    if (!Number(a.enabled)) return this.failed(source, a.userName, 'disabled');
    return { userId: a.userId, userName: a.userName, tenantId: a.tenant_id, id: a.id, name: a.name };
  }

  /**
   * Issue a token for `userId` scoped to `tenantId` (null: unscoped); 401 if the user has no role on
   * that project. Returns the secret (shown once) and the token's body.
   */
  async issue(o: {
    userId: string;
    tenantId: string | null;
    methods: string[];
    appCredentialId?: string;
    expiresAt?: string;
    source?: string;
  }): Promise<{ token: string; body: KeystoneToken }> {
    if (o.tenantId) {
      const roles = await tokenRoles(this.db, o.userId, o.tenantId, o.appCredentialId ?? null);
      if (!roles.length) {
        const u = await this.db
          .selectFrom('users')
          .select('name')
          .where('id', '=', o.userId)
          .executeTakeFirst();
        return this.failed(o.source, u?.name, 'no role on the project');
      }
    }
    const token = `nubis_${this.ctx.ids.secret()}`;
    const id = this.ctx.ids.uuid();
    const at = this.now();
    await this.db
      .insertInto('tokens')
      .values({
        id,
        user_id: o.userId,
        name: 'keystone',
        hash: hashToken(token),
        expires_at:
          o.expiresAt ?? new Date((this.ctx.clock.now() + KEYSTONE_TOKEN_TTL_S) * 1000).toISOString(),
        revoked_at: null,
        created_at: at,
        scope_tenant_id: o.tenantId,
        methods: JSON.stringify(o.methods),
        audit_id: this.ctx.ids.secret(16),
        app_credential_id: o.appCredentialId ?? null,
      })
      .execute();
    const body = await this.lookup(token);
    if (!body) throw new ControlError('BACKEND', 'The token just issued is not valid');
    if (o.source !== undefined)
      await appendSecurityEvent(this.ctx, {
        kind: 'token.created',
        principal: body.userName,
        tenantId: o.tenantId,
        source: o.source,
        operation: 'keystone:login',
        object: id,
        detail: { tokenId: id, methods: o.methods },
      });
    return { token, body };
  }

  /** A valid Keystone token (unscoped ones too), or null (unknown, revoked, expired, not Keystone's). */
  async lookup(token: string): Promise<KeystoneToken | null> {
    const hash = hashToken(token);
    const r = await resolveToken(this.db, hash, this.now());
    if (!r.row || (r.reason && r.reason !== 'unscoped')) return null;
    const t = await this.db
      .selectFrom('tokens')
      .leftJoin('tenants', 'tenants.id', 'tokens.scope_tenant_id')
      .leftJoin('app_credentials', 'app_credentials.id', 'tokens.app_credential_id')
      .select([
        'tokens.methods',
        'tokens.audit_id',
        'tokens.created_at',
        'tokens.expires_at',
        'tokens.scope_tenant_id',
        'tokens.app_credential_id',
        'tenants.name as projectName',
        'app_credentials.name as appCredentialName',
      ])
      .where('tokens.hash', '=', hash)
      .executeTakeFirstOrThrow();
    if (!t.methods || !t.expires_at) return null;
    const roles = t.scope_tenant_id
      ? withImplied(await tokenRoles(this.db, r.row.userId, t.scope_tenant_id, t.app_credential_id))
      : [];
    return {
      tokenId: r.row.tokenId,
      userId: r.row.userId,
      userName: r.row.userName,
      methods: JSON.parse(t.methods) as string[],
      auditId: t.audit_id ?? r.row.tokenId,
      issuedAt: t.created_at,
      expiresAt: t.expires_at,
      project: t.scope_tenant_id ? { id: t.scope_tenant_id, name: t.projectName ?? '' } : null,
      roles,
      appCredential: t.app_credential_id
        ? { id: t.app_credential_id, name: t.appCredentialName ?? '' }
        : null,
      principal: r.p,
    };
  }

  /** Revoke a Keystone token (the caller's own, or any as admin). @throws NOT_FOUND. */
  async revoke(caller: KeystoneToken, token: string): Promise<void> {
    const t = await this.lookup(token);
    if (!t || (t.userId !== caller.userId && caller.principal?.role !== 'admin'))
      throw new ControlError('NOT_FOUND', 'Could not find token.');
    await this.db.updateTable('tokens').set({ revoked_at: this.now() }).where('id', '=', t.tokenId).execute();
    this.cp.tenancy.tokens.clear();
  }
}

/** An application credential's `expires_at` as sent (no zone means UTC), in epoch milliseconds. */
export function appCredentialExpiry(s: string): number {
  const ms = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(s) ? s : `${s}Z`);
  return Number.isNaN(ms) ? 0 : ms;
}
