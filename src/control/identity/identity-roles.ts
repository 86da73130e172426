/**
 * A user's roles on a tenant (Keystone project): the home role (`users.tenant_id`, `users.role`)
 * and the role assignments, on a live, enabled tenant only. A principal gets the highest of them; Keystone's
 * token lists them with the roles they imply (admin ⊃ member ⊃ reader, Keystone's bootstrap).
 */
import { ROLES, type Role } from '../authz.ts';
import type { Db } from '../store/open-store.ts';

/** The roles `userId` holds on `tenantId` (empty if none or the tenant is deleted or disabled). */
export async function rolesOn(db: Db, userId: string, tenantId: string): Promise<Role[]> {
  const [home, assigned] = await Promise.all([
    db
      .selectFrom('users')
      .innerJoin('tenants', 'tenants.id', 'users.tenant_id')
      .select('users.role')
      .where('users.id', '=', userId)
      .where('users.tenant_id', '=', tenantId)
      .where('tenants.deleted_at', 'is', null)
      .where('tenants.enabled', '=', 1) // a disabled tenant: nobody holds a role in it
      .execute(),
    db
      .selectFrom('role_assignments')
      .innerJoin('tenants', 'tenants.id', 'role_assignments.tenant_id')
      .select('role_assignments.role')
      .where('role_assignments.user_id', '=', userId)
      .where('role_assignments.tenant_id', '=', tenantId)
      .where('tenants.deleted_at', 'is', null)
      .where('tenants.enabled', '=', 1) // a disabled tenant: nobody holds a role in it
      .execute(),
  ]);
  const all = new Set([...home, ...assigned].map((r) => r.role));
  return ROLES.filter((r) => all.has(r));
}

/** The most privileged of `roles` (ROLES is ordered admin > operator > member > reader), or null. */
export function highestRole(roles: readonly string[]): Role | null {
  return ROLES.find((r) => roles.includes(r)) ?? null;
}

/** Keystone's implied roles: admin implies member, member implies reader. */
export function withImplied(roles: readonly Role[]): Role[] {
  const s = new Set<Role>(roles);
  if (s.has('admin')) s.add('member');
  if (s.has('member')) s.add('reader');
  return ROLES.filter((r) => s.has(r));
}
