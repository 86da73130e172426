/**
 * Administering tenants, users and tokens: read a tenant with its quotas and what it uses (members
 * their own), rename or delete a tenant, list, change and delete users, list tokens (never their
 * secret or hash). A deleted tenant is kept, hidden, for history (usage, invoices and events name
 * it); its users' tokens are revoked.
 *
 * Uses: `cp.tenancy` (tenant lookup).
 */
import {
  authorize,
  authorizeTenantObject,
  authorizeUserObject,
  reachesAllUsers,
  type Role,
} from '../authz.ts';
import { ControlError } from '../errors.ts';
import { deleteUserRows } from '../identity/keystone-users.ts';
import { deletedName } from '../inventory/host-edits.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import {
  countOf,
  NETWORK_QUOTAS,
  type NetworkQuotaInput,
  type NetworkQuotaKind,
} from '../network/network-quotas.ts';
import {
  STORAGE_QUOTA_KINDS,
  storageQuotasOf,
  storageUsed,
  type StorageQuotaInput,
} from '../storage/storage-quotas.ts';
import type { Quotas } from './tenancy-service.ts';

/** Administering tenants, users and tokens. */
export class TenancyAdmin extends Service {
  /** A tenant with its quotas and usage; another tenant is NOT_FOUND unless the role reaches it. */
  async getTenant(p: Principal, ref: string = p.tenantId) {
    authorize(p, 'tenant:read');
    const t = await this.cp.tenancy.tenantByRef(ref).catch(() => undefined);
    if (!t || t.deleted_at) throw new ControlError('NOT_FOUND', `No tenant "${ref}"`);
    authorizeTenantObject(p, 'tenant:read', t.id, `No tenant "${ref}"`, { kind: 'tenant', id: ref });
    return {
      id: t.id,
      name: t.name,
      enabled: !!Number(t.enabled),
      /** 'shared' (its VMs' pages may be merged with others') or 'private' (mem-merge off). */
      memorySharing: t.memory_sharing === 'private' ? 'private' : 'shared',
      quotas: {
        vcpus: t.quota_vcpus,
        memoryMiB: t.quota_memory_mib,
        vms: t.quota_vms,
        diskGiB: t.quota_disk_gib,
        ...Object.fromEntries(
          (Object.keys(NETWORK_QUOTAS) as NetworkQuotaKind[]).map((k) => [
            k,
            Number(t[NETWORK_QUOTAS[k].column]),
          ]),
        ),
        ...storageQuotasOf(t),
      },
      usage: {
        vcpus: Number(t.used_vcpus),
        memoryMiB: Number(t.used_memory_mib),
        vms: Number(t.used_vms),
        diskGiB: Number(t.used_disk_gib),
        ...Object.fromEntries(
          await Promise.all(
            (Object.keys(NETWORK_QUOTAS) as NetworkQuotaKind[]).map(async (k) => [
              k,
              await countOf(this.db, t.id, k),
            ]),
          ),
        ),
        ...Object.fromEntries(
          await Promise.all(STORAGE_QUOTA_KINDS.map(async (k) => [k, await storageUsed(this.db, t.id, k)])),
        ),
      },
    };
  }

  /**
   * Rename a tenant, set its quotas (lowering below current use blocks new use only) and/or enable or
   * disable it (disabled: nobody acts in it; not the caller's own tenant).
   */
  async updateTenant(
    p: Principal,
    ref: string,
    c: {
      name?: string;
      quotas?: Partial<Quotas> & NetworkQuotaInput & StorageQuotaInput;
      enabled?: boolean;
      /** Page sharing of its VMs: new VMs get it; running ones keep theirs until restarted or migrated. */
      memorySharing?: 'shared' | 'private';
    },
  ) {
    authorize(p, 'tenant:update');
    const t = await this.getTenant(p, ref);
    if (c.name !== undefined && c.name !== t.name) {
      const name = c.name;
      await this.unique(
        () =>
          this.db.transaction().execute(async (trx) => {
            await trx.updateTable('tenants').set({ name }).where('id', '=', t.id).execute();
            await this.event(trx, {
              tenantId: t.id,
              actor: p.userName,
              kind: 'tenant.renamed',
              detail: { from: t.name, to: name },
            });
          }),
        `Tenant "${name}" already exists`,
      );
    }
    if (c.quotas) await this.cp.tenancy.setQuotas(p, t.id, c.quotas);
    if (c.enabled !== undefined) await this.setEnabled(p, t.id, c.enabled);
    if (c.memorySharing !== undefined && c.memorySharing !== t.memorySharing) {
      const memory_sharing = c.memorySharing;
      await this.db.transaction().execute(async (trx) => {
        await trx.updateTable('tenants').set({ memory_sharing }).where('id', '=', t.id).execute();
        await this.event(trx, {
          tenantId: t.id,
          actor: p.userName,
          kind: 'tenant.memory-sharing',
          detail: { from: t.memorySharing, to: memory_sharing },
        });
      });
    }
    return this.getTenant(p, t.id);
  }

  private async setEnabled(p: Principal, id: string, enabled: boolean) {
    if (!enabled && id === p.tenantId)
      throw new ControlError('INVALID_STATE', 'A tenant cannot be disabled from inside it');
    await this.db.transaction().execute(async (trx) => {
      const r = await trx
        .updateTable('tenants')
        .set({ enabled: enabled ? 1 : 0 })
        .where('id', '=', id)
        .where('enabled', '=', enabled ? 0 : 1)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows))
        await this.event(trx, {
          tenantId: id,
          actor: p.userName,
          kind: enabled ? 'tenant.enabled' : 'tenant.disabled',
          detail: {},
        });
    });
    this.cp.tenancy.tokens.clear(); // cached principals of the tenant's users
  }

  /** Delete a tenant with no VMs (INVALID_STATE naming them otherwise); its users' tokens are revoked. */
  async deleteTenant(p: Principal, ref: string) {
    authorize(p, 'tenant:delete');
    const t = await this.getTenant(p, ref);
    if (t.id === p.tenantId)
      throw new ControlError(
        'INVALID_STATE',
        `Tenant "${t.name}" is your own; an admin of another tenant may delete it`,
      );
    const vms = await this.db
      .selectFrom('vms')
      .select('name')
      .where('tenant_id', '=', t.id)
      .where('deleted_at', 'is', null)
      .orderBy('name')
      .execute();
    if (vms.length)
      throw new ControlError(
        'INVALID_STATE',
        `Tenant "${t.name}" still has ${vms.length} VM(s): ${vms
          .slice(0, 5)
          .map((v) => v.name)
          .join(', ')}${vms.length > 5 ? ', …' : ''}; delete them first`,
        { tenant: t.name, vms: vms.map((v) => v.name) },
      );
    const at = this.now();
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('tokens')
        .set({ revoked_at: at })
        .where('revoked_at', 'is', null)
        .where('user_id', 'in', trx.selectFrom('users').select('id').where('tenant_id', '=', t.id))
        .execute();
      await trx
        .updateTable('tenants')
        .set({ deleted_at: at, name: deletedName(t.name, t.id) })
        .where('id', '=', t.id)
        .execute();
      await this.event(trx, {
        tenantId: t.id,
        actor: p.userName,
        kind: 'tenant.deleted',
        detail: { name: t.name },
      });
    });
    this.cp.tenancy.tokens.clear(); // its tokens stop working at once
  }

  private userOut(u: {
    id: string;
    tenant_id: string | null;
    name: string;
    role: string;
    created_at: string;
    tenant_name?: string;
  }) {
    return {
      id: u.id,
      tenantId: u.tenant_id!, // users() joins the home tenant
      tenant: u.tenant_name,
      name: u.name,
      role: u.role as Role,
      createdAt: u.created_at,
    };
  }

  private users() {
    return this.db
      .selectFrom('users')
      .innerJoin('tenants', 'tenants.id', 'users.tenant_id')
      .selectAll('users')
      .select('tenants.name as tenant_name')
      .where('tenants.deleted_at', 'is', null);
  }

  /** Users: admins see everyone (or one tenant's with `tenant`); everyone else only themselves. */
  async listUsers(p: Principal, o: { tenant?: string } = {}) {
    authorize(p, 'user:list');
    let q = this.users();
    if (!reachesAllUsers(p, 'user:list')) q = q.where('users.id', '=', p.userId);
    if (o.tenant) q = q.where('users.tenant_id', '=', (await this.cp.tenancy.tenantByRef(o.tenant)).id);
    return (await q.orderBy('tenants.name').orderBy('users.name').execute()).map((u) => this.userOut(u));
  }

  private async userRow(id: string) {
    const u = await this.users().where('users.id', '=', id).executeTakeFirst();
    if (!u) throw new ControlError('NOT_FOUND', `No user "${id}"`);
    return u;
  }

  /** Refuse a change that would leave no admin (nobody could administer the cloud). */
  private async keepAnAdmin(u: { id: string; name: string; role: string }, what: string) {
    if (u.role !== 'admin') return;
    const others = await this.db
      .selectFrom('users')
      .innerJoin('tenants', 'tenants.id', 'users.tenant_id')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('tenants.deleted_at', 'is', null)
      .where('users.role', '=', 'admin')
      .where('users.id', '!=', u.id)
      .executeTakeFirst();
    if (!Number(others?.n))
      throw new ControlError(
        'INVALID_STATE',
        `Cannot ${what} "${u.name}": it is the last admin; make another user admin first`,
      );
  }

  /** Change a user's role (not the last admin's). */
  async updateUser(p: Principal, id: string, c: { role: Role }) {
    authorize(p, 'user:update');
    const u = await this.userRow(id);
    if (c.role !== 'admin') await this.keepAnAdmin(u, 'demote');
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('users').set({ role: c.role }).where('id', '=', u.id).execute();
      await this.event(trx, {
        tenantId: u.tenant_id,
        actor: p.userName,
        kind: 'user.updated',
        detail: { user: u.name, from: u.role, to: c.role },
      });
    });
    this.cp.tenancy.tokens.clear(); // the user's tokens carry the change at once
    return this.userOut(await this.userRow(u.id));
  }

  /** Delete a user (not the last admin); their tokens are deleted with them. */
  async deleteUser(p: Principal, id: string) {
    authorize(p, 'user:delete');
    const u = await this.userRow(id);
    await this.keepAnAdmin(u, 'delete');
    await this.db.transaction().execute(async (trx) => {
      await deleteUserRows(trx, u.id);
      await this.event(trx, {
        tenantId: u.tenant_id,
        actor: p.userName,
        kind: 'user.deleted',
        detail: { user: u.name },
      });
    });
    this.cp.tenancy.tokens.clear(); // the user's tokens carry the change at once
  }

  /** Tokens (never their secret or hash): your own; admins everyone's, or one user's with `user`. */
  async listTokens(p: Principal, o: { user?: string } = {}) {
    authorize(p, 'token:list');
    const userId = o.user ?? (reachesAllUsers(p, 'token:list') ? undefined : p.userId);
    if (userId)
      authorizeUserObject(p, 'token:list', userId, `No user "${userId}"`, { kind: 'user', id: userId });
    let q = this.db
      .selectFrom('tokens')
      .innerJoin('users', 'users.id', 'tokens.user_id')
      .select([
        'tokens.id',
        'tokens.name',
        'tokens.user_id',
        'users.name as user_name',
        'tokens.created_at',
        'tokens.expires_at',
        'tokens.revoked_at',
      ]);
    if (userId) q = q.where('tokens.user_id', '=', userId);
    return (await q.orderBy('users.name').orderBy('tokens.created_at').execute()).map((t) => ({
      id: t.id,
      name: t.name,
      userId: t.user_id,
      user: t.user_name,
      createdAt: t.created_at,
      expiresAt: t.expires_at,
      revokedAt: t.revoked_at,
    }));
  }
}
