/** The principal the control plane's own loops act as: the first admin's tenant, named `system` in events. */
import type { Db } from '../store/open-store.ts';
import type { Principal } from '../principal.ts';

/**
 * The loops' principal (role admin, user name `system`, token id `system`).
 * @throws Error if no admin exists yet (call `bootstrap()` first).
 */
export async function systemPrincipal(db: Db): Promise<Principal> {
  const admin = await db
    .selectFrom('users')
    .select(['id', 'tenant_id'])
    .where('role', '=', 'admin')
    .where('tenant_id', 'is not', null)
    .orderBy('created_at')
    .orderBy('id')
    .executeTakeFirst();
  if (!admin) throw new Error('No admin user yet: bootstrap the control plane before starting its loops');
  return {
    userId: admin.id,
    userName: 'system',
    tenantId: admin.tenant_id!,
    role: 'admin',
    tokenId: 'system',
  };
}
