/**
 * Network quotas of a tenant (networks, ports, floating IPs, security groups, key pairs): counted
 * from the rows in the caller's transaction, refused with QUOTA_EXCEEDED naming what is used and
 * the limit.
 */
import { ControlError } from '../errors.ts';
import type { Db } from '../store/open-store.ts';

/** The kinds of network objects a tenant has quotas for, and their tables and quota columns. */
export const NETWORK_QUOTAS = {
  networks: { table: 'networks', column: 'quota_networks' },
  ports: { table: 'ports', column: 'quota_ports' },
  floatingIps: { table: 'floating_ips', column: 'quota_floating_ips' },
  securityGroups: { table: 'security_groups', column: 'quota_security_groups' },
  keypairs: { table: 'keypairs', column: 'quota_keypairs' },
} as const;
export type NetworkQuotaKind = keyof typeof NETWORK_QUOTAS;

/** Refuse when the tenant already has its quota of `kind` (adding `want` more). */
export async function checkNetworkQuota(trx: Db, tenantId: string, kind: NetworkQuotaKind, want = 1) {
  const q = NETWORK_QUOTAS[kind];
  // Lock the tenant's row (PostgreSQL), so two concurrent creates cannot both take the last unit.
  await trx
    .updateTable('tenants')
    .set((eb) => ({ quota_networks: eb.ref('quota_networks') }))
    .where('id', '=', tenantId)
    .execute();
  const t = await trx
    .selectFrom('tenants')
    .select(q.column)
    .where('id', '=', tenantId)
    .executeTakeFirstOrThrow();
  const limit = Number((t as Record<string, unknown>)[q.column]);
  const used = await countOf(trx, tenantId, kind);
  if (used + want > limit)
    throw new ControlError(
      'QUOTA_EXCEEDED',
      `Quota exceeded for ${kind}: used ${used} of ${limit}, requested ${want}, left ${Math.max(0, limit - used)}`,
      { resource: kind, used, limit, requested: want },
    );
}

/** How many `kind` the tenant has. */
export async function countOf(trx: Db, tenantId: string, kind: NetworkQuotaKind): Promise<number> {
  const r = await trx
    .selectFrom(NETWORK_QUOTAS[kind].table)
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('tenant_id', '=', tenantId)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** Network quotas as the API sets them (each optional). */
export type NetworkQuotaInput = Partial<Record<NetworkQuotaKind, number>>;

/** The tenant columns to write for the network quotas given. */
export function networkQuotaColumns(q: NetworkQuotaInput): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(NETWORK_QUOTAS) as NetworkQuotaKind[])
    if (q[k] !== undefined) out[NETWORK_QUOTAS[k].column] = q[k];
  return out;
}
