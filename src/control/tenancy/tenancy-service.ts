/**
 * Tenants, users, tokens and quotas: first-start bootstrap, token authentication, tenant lookup by id
 * or name.
 *
 * Uses: no other service.
 */
import { authorize, authorizeUserObject } from '../authz.ts';
import { ControlError } from '../errors.ts';
import { hashPassword } from '../identity/passwords.ts';
import { resolveToken } from '../identity/token-principal.ts';
import { hashToken, type Principal, type Role } from '../principal.ts';
import { appendSecurityEvent, recordSecurityEvent } from '../security/security-log.ts';
import { tokenCacheFor, type TokenCache } from '../security/token-cache.ts';
import { TokenUseLog } from '../security/token-use.ts';
import { Service } from '../service.ts';
import { networkQuotaColumns, type NetworkQuotaInput } from '../network/network-quotas.ts';
import { storageQuotaColumns, type StorageQuotaInput } from '../storage/storage-quotas.ts';

export interface Quotas {
  vcpus: number;
  memoryMiB: number;
  vms: number;
  diskGiB: number;
}

export const DEFAULT_QUOTAS: Quotas = { vcpus: 64, memoryMiB: 262144, vms: 100, diskGiB: 4096 };

/** Tenants, users, tokens and quotas: first-start bootstrap, token authentication, tenant lookup by id or name. */
export class TenancyService extends Service {
  /**
   * On first start: an "admin" tenant with an admin user and a token (given, or random). Returns
   * the token when one was created (to be printed once), else null. With `password`, the admin user
   * (named `admin`) logs in to Keystone with it; given later to a control plane whose admin has no
   * password yet, it is set then.
   */
  async bootstrap(token?: string, password?: string): Promise<string | null> {
    const has = await this.db
      .selectFrom('users')
      .select(['id', 'password_hash'])
      .where('role', '=', 'admin')
      .where('name', '=', 'admin')
      .orderBy('created_at')
      .executeTakeFirst();
    const pwHash = password ? await hashPassword(password, this.ctx.ids.secret(16)) : null;
    if (has) {
      if (pwHash && !has.password_hash)
        await this.db.updateTable('users').set({ password_hash: pwHash }).where('id', '=', has.id).execute();
      return null;
    }
    const anyAdmin = await this.db
      .selectFrom('users')
      .select('id')
      .where('role', '=', 'admin')
      .executeTakeFirst();
    if (anyAdmin) return null;
    const t = token ?? `nubis_${this.ctx.ids.secret()}`;
    await this.db.transaction().execute(async (trx) => {
      const tid = this.ctx.ids.uuid(),
        uid = this.ctx.ids.uuid(),
        at = this.now();
      await trx
        .insertInto('tenants')
        .values({
          id: tid,
          name: 'admin',
          quota_vcpus: DEFAULT_QUOTAS.vcpus,
          quota_memory_mib: DEFAULT_QUOTAS.memoryMiB,
          quota_vms: DEFAULT_QUOTAS.vms,
          quota_disk_gib: DEFAULT_QUOTAS.diskGiB,
          created_at: at,
        })
        .execute();
      await trx
        .insertInto('users')
        .values({
          id: uid,
          tenant_id: tid,
          name: 'admin',
          role: 'admin',
          created_at: at,
          password_hash: pwHash,
        })
        .execute();
      await trx
        .insertInto('tokens')
        .values({
          id: this.ctx.ids.uuid(),
          user_id: uid,
          name: 'bootstrap',
          hash: hashToken(t),
          expires_at: null,
          revoked_at: null,
          created_at: at,
        })
        .execute();
      await trx
        .insertInto('events')
        .values({
          at,
          tenant_id: tid,
          vm_id: null,
          host_id: null,
          actor: 'system',
          kind: 'bootstrap',
          detail: '{}',
        })
        .execute();
    });
    return t;
  }

  #tokenUse?: TokenUseLog;
  /** Valid tokens' lookups (security/token-cache.ts); emptied by every change to who may call. */
  get tokens(): TokenCache {
    return tokenCacheFor(this.db);
  }

  /**
   * The principal behind a bearer token, or null (unknown, revoked or expired). With the request's
   * `source` address, a failure is a `login.failed` security event (never with the token) and a
   * first use from an address a `token.new-address` one.
   */
  async authenticate(token: string, source?: string): Promise<Principal | null> {
    const hash = hashToken(token);
    const nowS = this.ctx.clock.now();
    const hit = this.tokens.get(hash, nowS);
    if (hit && !(hit.expiresAt && hit.expiresAt <= this.now())) {
      if (source !== undefined) await (this.#tokenUse ??= new TokenUseLog(this.ctx)).note(hit.p, source);
      return hit.p;
    }
    const found = await resolveToken(this.db, hash, this.now());
    const row = found.row;
    if (!found.p) {
      if (source !== undefined)
        await appendSecurityEvent(this.ctx, {
          kind: 'login.failed',
          principal: row?.userName,
          tenantId: row?.tenantId,
          source,
          detail: { reason: found.reason, ...(row ? { tokenId: row.tokenId } : {}) },
        });
      return null;
    }
    const p = found.p;
    this.tokens.set(hash, { p, expiresAt: row!.expiresAt }, nowS);
    if (source !== undefined) await (this.#tokenUse ??= new TokenUseLog(this.ctx)).note(p, source);
    return p;
  }

  async createTenant(
    p: Principal,
    name: string,
    quotas: Partial<Quotas> & NetworkQuotaInput & StorageQuotaInput = {},
  ) {
    authorize(p, 'tenant:create');
    const q = { ...DEFAULT_QUOTAS, ...quotas };
    const id = this.ctx.ids.uuid();
    await this.unique(
      () =>
        this.db.transaction().execute(async (trx) => {
          await trx
            .insertInto('tenants')
            .values({
              id,
              name,
              quota_vcpus: q.vcpus,
              quota_memory_mib: q.memoryMiB,
              quota_vms: q.vms,
              quota_disk_gib: q.diskGiB,
              ...networkQuotaColumns(q),
              ...storageQuotaColumns(q),
              created_at: this.now(),
            })
            .execute();
          await this.event(trx, {
            tenantId: id,
            actor: p.userName,
            kind: 'tenant.created',
            detail: { name, quotas: q },
          });
        }),
      `Tenant "${name}" already exists`,
    );
    return { id, name, quotas: q };
  }

  /** Change a tenant's quotas (admin); lowering below current use is allowed and blocks new use. */
  async setQuotas(p: Principal, tenant: string, q: Partial<Quotas> & NetworkQuotaInput & StorageQuotaInput) {
    authorize(p, 'tenant:update');
    const t = await this.tenantByRef(tenant);
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('tenants')
        .set({
          ...(q.vcpus !== undefined ? { quota_vcpus: q.vcpus } : {}),
          ...(q.memoryMiB !== undefined ? { quota_memory_mib: q.memoryMiB } : {}),
          ...(q.vms !== undefined ? { quota_vms: q.vms } : {}),
          ...(q.diskGiB !== undefined ? { quota_disk_gib: q.diskGiB } : {}),
          ...networkQuotaColumns(q),
          ...storageQuotaColumns(q),
        })
        .where('id', '=', t.id)
        .execute();
      await this.event(trx, { tenantId: t.id, actor: p.userName, kind: 'tenant.quotas', detail: q });
    });
    return (await this.listTenants(p)).find((x) => x.id === t.id);
  }

  async listTenants(p: Principal) {
    authorize(p, 'tenant:list');
    const rows = await this.db
      .selectFrom('tenants')
      .selectAll()
      .where('deleted_at', 'is', null)
      .orderBy('name')
      .execute();
    return rows.map((t) => ({
      id: t.id,
      name: t.name,
      quotas: {
        vcpus: t.quota_vcpus,
        memoryMiB: t.quota_memory_mib,
        vms: t.quota_vms,
        diskGiB: t.quota_disk_gib,
      },
    }));
  }

  /** A tenant by id (deleted ones too: their bills stay readable) or by name (live ones only). */
  async tenantByRef(ref: string) {
    const t = await this.db
      .selectFrom('tenants')
      .selectAll()
      .where((eb) =>
        eb.or([eb('id', '=', ref), eb.and([eb('name', '=', ref), eb('deleted_at', 'is', null)])]),
      )
      .executeTakeFirst();
    if (!t) throw new ControlError('NOT_FOUND', `No tenant "${ref}"`);
    return t;
  }

  /** Create a user in a tenant with a role; with `password`, it logs in to Keystone (name unique among those). */
  async createUser(p: Principal, tenant: string, name: string, role: Role, password?: string) {
    authorize(p, 'user:create');
    const t = await this.tenantByRef(tenant);
    const id = this.ctx.ids.uuid();
    let password_hash: string | null = null;
    if (password) {
      const clash = await this.db
        .selectFrom('users')
        .select('id')
        .where('name', '=', name)
        .where('password_hash', 'is not', null)
        .executeTakeFirst();
      if (clash) throw new ControlError('ALREADY_EXISTS', `Another user named "${name}" has a password`);
      password_hash = await hashPassword(password, this.ctx.ids.secret(16));
    }
    await this.unique(
      () =>
        this.db.transaction().execute(async (trx) => {
          await trx
            .insertInto('users')
            .values({ id, tenant_id: t.id, name, role, created_at: this.now(), password_hash })
            .execute();
          await this.event(trx, {
            tenantId: t.id,
            actor: p.userName,
            kind: 'user.created',
            detail: { name, role },
          });
        }),
      `User "${name}" already exists in tenant "${t.name}"`,
    );
    return { id, tenantId: t.id, name, role };
  }

  /** Create a token for yourself, or (admin) for any user; the token is returned once, stored hashed. */
  async createToken(p: Principal, o: { userId?: string; name: string; expiresInS?: number }) {
    const userId = o.userId ?? p.userId;
    // Another user's id is "not found" for a caller who only reaches their own (token:create's rule).
    authorizeUserObject(p, 'token:create', userId, `No user "${userId}"`, { kind: 'user', id: userId });
    const user = await this.db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirst();
    if (!user) throw new ControlError('NOT_FOUND', `No user "${userId}"`);
    const token = `nubis_${this.ctx.ids.secret()}`;
    const id = this.ctx.ids.uuid();
    const expires = o.expiresInS
      ? new Date((this.ctx.clock.now() + o.expiresInS) * 1000).toISOString()
      : null;
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('tokens')
        .values({
          id,
          user_id: userId,
          name: o.name,
          hash: hashToken(token),
          expires_at: expires,
          revoked_at: null,
          created_at: this.now(),
        })
        .execute();
      await this.event(trx, {
        tenantId: user.tenant_id,
        actor: p.userName,
        kind: 'token.created',
        detail: { tokenId: id, user: user.name },
      });
      await recordSecurityEvent(this.ctx, trx, {
        kind: 'token.created',
        principal: p.userName,
        tenantId: p.tenantId,
        object: id,
        detail: { tokenId: id, name: o.name, user: user.name, expiresAt: expires },
      });
    });
    return { id, token, userId, name: o.name, expiresAt: expires };
  }

  async revokeToken(p: Principal, id: string) {
    authorize(p, 'token:revoke');
    const t = await this.db
      .selectFrom('tokens')
      .innerJoin('users', 'users.id', 'tokens.user_id')
      .select(['tokens.id', 'tokens.user_id', 'users.tenant_id'])
      .where('tokens.id', '=', id)
      .executeTakeFirst();
    if (!t) throw new ControlError('NOT_FOUND', `No token "${id}"`);
    authorizeUserObject(p, 'token:revoke', t.user_id, `No token "${id}"`, { kind: 'token', id });
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('tokens').set({ revoked_at: this.now() }).where('id', '=', id).execute();
      await this.event(trx, {
        tenantId: t.tenant_id,
        actor: p.userName,
        kind: 'token.revoked',
        detail: { tokenId: id },
      });
      this.tokens.clear(); // after the commit: a lookup racing the revoke cannot re-cache the token
      await recordSecurityEvent(this.ctx, trx, {
        kind: 'token.revoked',
        principal: p.userName,
        tenantId: p.tenantId,
        object: id,
        detail: { tokenId: id },
      });
    });
  }
}
