/**
 * The 404 of a tenant-filtered lookup, in one place. Services find a tenant's objects with a query
 * limited to the caller's tenant; when it finds nothing the answer is NOT_FOUND whether the id is
 * unknown or another tenant's (so a caller cannot learn that it exists), but the second case is an
 * attempt to reach another tenant's object and goes to the security log (`access.denied`, reason
 * `other-tenant`, the object's kind and id) through the policy table's `authorizeTenantObject`.
 */
import { authorizeTenantObject, type Operation, type Subject } from '../authz.ts';
import { ControlError } from '../errors.ts';
import type { Db } from '../store/open-store.ts';

/** The tables of objects a tenant owns, by the kind named in messages and in the security log. */
const TABLES = {
  vm: 'vms',
  operation: 'operations',
  'scaling group': 'scaling_groups',
  'server group': 'server_groups',
  constraint: 'constraints',
  volume: 'volumes',
  image: 'images',
} as const;

/** A kind of object a tenant owns (`vm`, `operation`, `scaling group`, `server group`, `constraint`). */
export type TenantObjectKind = keyof typeof TABLES;

/**
 * The error a tenant-filtered lookup of `ref` throws when it found nothing: NOT_FOUND with
 * `message`; when `ref` is the id of an object of a tenant the subject does not reach for `op`,
 * the same error marked as a refusal of the policy table (the API logs it). Call only after the
 * filtered query came back empty.
 * @example if (!v) throw await notFoundInTenant(db, p, 'vm:read', 'vm', ref, `No VM "${ref}"`);
 */
export async function notFoundInTenant(
  db: Db,
  s: Subject,
  op: Operation,
  kind: TenantObjectKind,
  ref: string,
  message: string,
): Promise<ControlError> {
  const owner = await db
    .selectFrom(TABLES[kind] as 'vms')
    .select('tenant_id')
    .where('id', '=', ref)
    .executeTakeFirst()
    .catch(() => undefined);
  if (owner?.tenant_id) {
    try {
      authorizeTenantObject(s, op, owner.tenant_id, message, { kind, id: ref });
    } catch (e) {
      // Only the "another tenant's" refusal; a role the rule lacks was refused before the query.
      if (e instanceof ControlError && e.code === 'NOT_FOUND') return e;
    }
  }
  return new ControlError('NOT_FOUND', message);
}
