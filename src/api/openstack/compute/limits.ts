/**
 * Nova's `/limits`: the caller's project quotas (an admin may name another with `?tenant_id=`) and
 * what it uses, from nubis's tenant quotas and usage (see ./quota-sets.ts); no rate limits.
 * Source: https://docs.openstack.org/api-ref/compute/#limits-limits
 */
import type { FastifyInstance } from 'fastify';
import { osPrincipal, type OsDeps } from '../frame.ts';
import { queryOne } from './nova-common.ts';
import { FIXED_QUOTAS, tenantQuotas } from './quota-sets.ts';

/** Register `GET /limits`. */
export function registerLimits(s: FastifyInstance, deps: OsDeps): void {
  const { cp } = deps;
  s.get('/v2.1/limits', async (req) => {
    const p = await osPrincipal(cp, req);
    const project = queryOne(req.query, 'tenant_id') ?? p.tenantId;
    const t = await tenantQuotas(deps, p, project);
    const q = (k: string) => (Number(t.quotas[k] ?? 0) >= 2147483647 ? -1 : Number(t.quotas[k] ?? 0));
    const u = (k: string) => Number(t.usage[k] ?? 0);
    const groups = (await cp.catalog.listServerGroups(p)).filter((g) => g.tenantId === t.id).length;
    return {
      limits: {
        rate: [],
        absolute: {
          maxTotalInstances: q('vms'),
          maxTotalCores: q('vcpus'),
          maxTotalRAMSize: q('memoryMiB'),
          maxTotalKeypairs: q('keypairs'),
          maxSecurityGroups: q('securityGroups'),
          maxTotalFloatingIps: q('floatingIps'),
          maxSecurityGroupRules: FIXED_QUOTAS.security_group_rules,
          maxServerMeta: FIXED_QUOTAS.metadata_items,
          maxImageMeta: FIXED_QUOTAS.metadata_items,
          maxPersonality: FIXED_QUOTAS.injected_files,
          maxPersonalitySize: FIXED_QUOTAS.injected_file_content_bytes,
          maxServerGroups: FIXED_QUOTAS.server_groups,
          maxServerGroupMembers: FIXED_QUOTAS.server_group_members,
          totalInstancesUsed: u('vms'),
          totalCoresUsed: u('vcpus'),
          totalRAMUsed: u('memoryMiB'),
          totalSecurityGroupsUsed: u('securityGroups'),
          totalFloatingIpsUsed: u('floatingIps'),
          totalServerGroupsUsed: groups,
        },
      },
    };
  });
}
