/**
 * Keystone's users and role assignments on nubis's users table: a user may have a home tenant and
 * role (nubis's own users) and role assignments on other tenants (Keystone projects), or only
 * assignments (users Keystone creates). A name is unique among the users with a password (what a
 * password login by name finds).
 *
 * Uses: no other service.
 */
import { authorize, ROLES, type Role } from '../authz.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import type { Db } from '../store/open-store.ts';
import { appendSecurityEvent } from '../security/security-log.ts';
import { hashPassword, verifyPassword } from './passwords.ts';

/** What a Keystone user create or update may set. */
export interface KeystoneUserInput {
  name?: string;
  password?: string | null;
  enabled?: boolean;
  defaultProjectId?: string | null;
  description?: string | null;
  email?: string | null;
}

/** A user as Keystone shows it (before formatting). */
export type KeystoneUserRow = Awaited<ReturnType<KeystoneUsers['get']>>;

/** Users and role assignments for Keystone. */
export class KeystoneUsers extends Service {
  /** Refuse a second user of `name` with a password (password logins find users by name). */
  private async nameFree(name: string, exceptId?: string) {
    let q = this.db
      .selectFrom('users')
      .select('id')
      .where('name', '=', name)
      .where('password_hash', 'is not', null);
    if (exceptId) q = q.where('id', '!=', exceptId);
    if (await q.executeTakeFirst())
      throw new ControlError('ALREADY_EXISTS', `Another user named "${name}" has a password`);
  }

  private async hash(password: string) {
    if (!password) throw new ControlError('BAD_REQUEST', 'A password may not be empty');
    return hashPassword(password, this.ctx.ids.secret(16));
  }

  /** Create a user with no home tenant (Keystone's POST /v3/users; admin). */
  async create(p: Principal, u: KeystoneUserInput & { name: string }) {
    authorize(p, 'user:create');
    if (u.password) await this.nameFree(u.name);
    const id = this.ctx.ids.uuid().replace(/-/g, '');
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('users')
        .values({
          id,
          tenant_id: null,
          name: u.name,
          role: 'reader', // no home tenant: the home role is unused
          created_at: this.now(),
          password_hash: u.password ? await this.hash(u.password) : null,
          enabled: u.enabled === false ? 0 : 1,
          default_project_id: u.defaultProjectId ?? null,
          description: u.description ?? null,
          email: u.email ?? null,
        })
        .execute();
      await this.event(trx, {
        tenantId: null,
        actor: p.userName,
        kind: 'user.created',
        detail: { name: u.name },
      });
    });
    return this.get(id);
  }

  /** A user by id. @throws NOT_FOUND. */
  async get(id: string) {
    const u = await this.db
      .selectFrom('users')
      .select([
        'id',
        'name',
        'tenant_id',
        'role',
        'domain_id',
        'enabled',
        'default_project_id',
        'description',
        'email',
      ])
      .where('id', '=', id)
      .executeTakeFirst();
    if (!u) throw new ControlError('NOT_FOUND', `Could not find user: ${id}.`);
    return u;
  }

  /** Every user (admin), or those named `name`. */
  async list(p: Principal, o: { name?: string } = {}) {
    authorize(p, 'user:create');
    let q = this.db
      .selectFrom('users')
      .select([
        'id',
        'name',
        'tenant_id',
        'role',
        'domain_id',
        'enabled',
        'default_project_id',
        'description',
        'email',
      ]);
    if (o.name !== undefined) q = q.where('name', '=', o.name);
    return q.orderBy('name').orderBy('id').execute();
  }

  /** Change a user's name, password, enabled flag, default project, description or e-mail (admin). */
  async update(p: Principal, id: string, c: KeystoneUserInput) {
    authorize(p, 'user:update');
    const u = await this.get(id);
    const name = c.name ?? u.name;
    if (c.password || (c.name && c.name !== u.name)) {
      const hasPw = c.password
        ? true
        : (
            await this.db
              .selectFrom('users')
              .select('password_hash')
              .where('id', '=', id)
              .executeTakeFirstOrThrow()
          ).password_hash !== null;
      if (hasPw) await this.nameFree(name, id);
    }
    const set = {
      ...(c.name !== undefined ? { name: c.name } : {}),
      ...(c.password !== undefined ? { password_hash: c.password ? await this.hash(c.password) : null } : {}),
      ...(c.enabled !== undefined ? { enabled: c.enabled ? 1 : 0 } : {}),
      ...(c.defaultProjectId !== undefined ? { default_project_id: c.defaultProjectId } : {}),
      ...(c.description !== undefined ? { description: c.description } : {}),
      ...(c.email !== undefined ? { email: c.email } : {}),
    };
    if (Object.keys(set).length)
      await this.unique(
        () => this.db.updateTable('users').set(set).where('id', '=', id).execute(),
        `User "${name}" already exists in its tenant`,
      );
    if (c.password !== undefined || c.enabled === false) {
      // A new password or a disabled user ends the user's Keystone sessions (Keystone revokes them).
      await this.db
        .updateTable('tokens')
        .set({ revoked_at: this.now() })
        .where('user_id', '=', id)
        .where('methods', 'is not', null)
        .where('revoked_at', 'is', null)
        .execute();
    }
    this.cp.tenancy.tokens.clear();
    return this.get(id);
  }

  /**
   * A user changes their own password, proven by the current one (Keystone's POST
   * /v3/users/{u}/password needs no token); their Keystone sessions end. @throws UNAUTHENTICATED.
   */
  async changePassword(userId: string, original: string, password: string, source?: string) {
    const u = await this.db
      .selectFrom('users')
      .select(['id', 'name', 'password_hash', 'enabled'])
      .where('id', '=', userId)
      .executeTakeFirst();
    if (!u || !Number(u.enabled) || !(await verifyPassword(original, u.password_hash))) {
      await appendSecurityEvent(this.ctx, {
        kind: 'login.failed',
        principal: u?.name ?? userId,
        source,
        operation: 'keystone:change-password',
        detail: { reason: 'password' },
      });
      throw new ControlError('UNAUTHENTICATED', 'The request you have made requires authentication.');
    }
    const hash = await this.hash(password);
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('users').set({ password_hash: hash }).where('id', '=', u.id).execute();
      await trx
        .updateTable('tokens')
        .set({ revoked_at: this.now() })
        .where('user_id', '=', u.id)
        .where('methods', 'is not', null)
        .where('revoked_at', 'is', null)
        .execute();
      await this.event(trx, { tenantId: null, actor: u.name, kind: 'user.password-changed', detail: {} });
    });
    this.cp.tenancy.tokens.clear();
  }

  /** Delete a user with its tokens, role assignments and application credentials (not the last admin). */
  async delete(p: Principal, id: string) {
    authorize(p, 'user:delete');
    const u = await this.get(id);
    if (u.tenant_id) return this.cp.tenancyAdmin.deleteUser(p, id);
    await this.db.transaction().execute(async (trx) => {
      await deleteUserRows(trx, id);
      await this.event(trx, {
        tenantId: null,
        actor: p.userName,
        kind: 'user.deleted',
        detail: { user: u.name },
      });
    });
    this.cp.tenancy.tokens.clear();
  }

  private async assignmentTarget(tenantId: string, userId: string, role: string) {
    const t = await this.db
      .selectFrom('tenants')
      .select(['id', 'name'])
      .where('id', '=', tenantId)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (!t) throw new ControlError('NOT_FOUND', `Could not find project: ${tenantId}.`);
    const u = await this.get(userId);
    if (!ROLES.includes(role as Role)) throw new ControlError('NOT_FOUND', `Could not find role: ${role}.`);
    return { t, u };
  }

  /** Give `userId` `role` on `tenantId` (admin; idempotent). */
  async grant(p: Principal, tenantId: string, userId: string, role: string) {
    authorize(p, 'user:update');
    const { t, u } = await this.assignmentTarget(tenantId, userId, role);
    if (await this.check(p, tenantId, userId, role)) return;
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('role_assignments')
        .values({ user_id: u.id, tenant_id: t.id, role, created_at: this.now() })
        .execute();
      await this.event(trx, {
        tenantId: t.id,
        actor: p.userName,
        kind: 'user.role-granted',
        detail: { user: u.name, role },
      });
    });
    this.cp.tenancy.tokens.clear();
  }

  /** Take `role` on `tenantId` from `userId` (admin). @throws NOT_FOUND if not assigned, INVALID_STATE for a home role. */
  async revoke(p: Principal, tenantId: string, userId: string, role: string) {
    authorize(p, 'user:update');
    const { t, u } = await this.assignmentTarget(tenantId, userId, role);
    // The assignment goes and its event is written in one transaction (as `grant` does).
    await this.db.transaction().execute(async (trx) => {
      const r = await trx
        .deleteFrom('role_assignments')
        .where('user_id', '=', u.id)
        .where('tenant_id', '=', t.id)
        .where('role', '=', role)
        .executeTakeFirst();
      if (!Number(r.numDeletedRows)) {
        if (u.tenant_id === t.id && u.role === role)
          throw new ControlError(
            'INVALID_STATE',
            `"${role}" on "${t.name}" is the home role of "${u.name}": change it with nubis`,
          );
        throw new ControlError(
          'NOT_FOUND',
          `Could not find role assignment of ${role} on ${tenantId} for ${userId}.`,
        );
      }
      await this.event(trx, {
        tenantId: t.id,
        actor: p.userName,
        kind: 'user.role-revoked',
        detail: { user: u.name, role },
      });
    });
    this.cp.tenancy.tokens.clear();
  }

  /** Whether `userId` has `role` on `tenantId` (home role included). */
  async check(p: Principal, tenantId: string, userId: string, role: string) {
    authorize(p, 'user:update');
    return (await this.assignments(p, { userId, tenantId })).some((a) => a.role === role);
  }

  /** Role assignments (home roles included), optionally of one user and/or one tenant (admin). */
  async assignments(p: Principal, o: { userId?: string; tenantId?: string } = {}) {
    authorize(p, 'user:update');
    let home = this.db
      .selectFrom('users')
      .innerJoin('tenants', 'tenants.id', 'users.tenant_id')
      .select(['users.id as user_id', 'users.tenant_id', 'users.role'])
      .where('tenants.deleted_at', 'is', null);
    let more = this.db
      .selectFrom('role_assignments')
      .innerJoin('tenants', 'tenants.id', 'role_assignments.tenant_id')
      .select(['role_assignments.user_id', 'role_assignments.tenant_id', 'role_assignments.role'])
      .where('tenants.deleted_at', 'is', null);
    if (o.userId) {
      home = home.where('users.id', '=', o.userId);
      more = more.where('role_assignments.user_id', '=', o.userId);
    }
    if (o.tenantId) {
      home = home.where('users.tenant_id', '=', o.tenantId);
      more = more.where('role_assignments.tenant_id', '=', o.tenantId);
    }
    const rows = [...(await home.execute()), ...(await more.execute())];
    return rows.map((r) => ({ userId: r.user_id, tenantId: r.tenant_id!, role: r.role }));
  }

  /** The projects where `userId` has a role (disabled ones included). */
  async projectsOf(userId: string) {
    const ids = [
      ...(await this.db.selectFrom('users').select('tenant_id').where('id', '=', userId).execute()).map(
        (r) => r.tenant_id,
      ),
      ...(
        await this.db
          .selectFrom('role_assignments')
          .select('tenant_id')
          .where('user_id', '=', userId)
          .execute()
      ).map((r) => r.tenant_id),
    ].filter((x): x is string => !!x);
    if (!ids.length) return [];
    return this.db
      .selectFrom('tenants')
      .select(['id', 'name', 'description', 'enabled'])
      .where('id', 'in', [...new Set(ids)])
      .where('deleted_at', 'is', null)
      .orderBy('name')
      .execute();
  }
}

/** Delete a user's rows: tokens, role assignments, application credentials, then the user. */
export async function deleteUserRows(db: Db, id: string) {
  await db.deleteFrom('tokens').where('user_id', '=', id).execute();
  await db.deleteFrom('role_assignments').where('user_id', '=', id).execute();
  await db.deleteFrom('app_credentials').where('user_id', '=', id).execute();
  await db.deleteFrom('users').where('id', '=', id).execute();
}
