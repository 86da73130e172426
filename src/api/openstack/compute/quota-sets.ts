/**
 * Nova's quota sets, over nubis's tenant quotas (`cp.tenancyAdmin.getTenant`/`updateTenant`):
 * `instances` = VMs, `cores` = vCPUs, `ram` = memory MiB, `key_pairs`, `security_groups`,
 * `floating_ips`; Nova's other keys (metadata, injected files, server groups...) have fixed values
 * nubis does not enforce, and a PUT of them is accepted and ignored. -1 (no limit) is nubis's
 * largest quota. A quota per user (`?user_id=`) is the project's. `/limits` shows the same numbers
 * with their use. Source: https://docs.openstack.org/api-ref/compute/#quota-sets-os-quota-sets
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal } from '../../../control/principal.ts';
import { DEFAULT_QUOTAS } from '../../../control/tenancy/tenancy-service.ts';
import { QUOTA_MAX } from '../../schemas.ts';
import { OsError, osPrincipal, type OsDeps } from '../frame.ts';

/** Nova's quota keys nubis keeps, and the nubis quota each one is. */
const MAPPED = {
  instances: 'vms',
  cores: 'vcpus',
  ram: 'memoryMiB',
  key_pairs: 'keypairs',
  security_groups: 'securityGroups',
  floating_ips: 'floatingIps',
} as const;
type Mapped = keyof typeof MAPPED;

/** Nova's keys nubis has no quota for: Nova's default values, shown and not enforced. */
export const FIXED_QUOTAS = {
  fixed_ips: -1,
  metadata_items: 128,
  injected_files: 5,
  injected_file_content_bytes: 10240,
  injected_file_path_bytes: 255,
  security_group_rules: -1,
  server_groups: 10,
  server_group_members: 10,
} as const;

/** A new tenant's network quotas (migration 0700-network's column defaults). */
const NETWORK_DEFAULTS = { keypairs: 20, securityGroups: 10, floatingIps: 10 };

const DEFAULTS: Record<string, number> = { ...DEFAULT_QUOTAS, ...NETWORK_DEFAULTS };

const toNova = (n: number) => (n >= QUOTA_MAX ? -1 : n);

/** A tenant's quotas and usage as `getTenant` returns them. */
export async function tenantQuotas(deps: OsDeps, p: Principal, project: string) {
  const t = await deps.cp.tenancyAdmin.getTenant(p, project);
  return { id: t.id, quotas: t.quotas as Record<string, number>, usage: t.usage as Record<string, number> };
}

function quotaSet(quotas: Record<string, number>) {
  return {
    ...Object.fromEntries((Object.keys(MAPPED) as Mapped[]).map((k) => [k, toNova(quotas[MAPPED[k]] ?? 0)])),
    ...FIXED_QUOTAS,
  };
}

/** The quota values of a PUT body (numbers or numeric strings, -1 = no limit). @throws OsError 400. */
function parseUpdate(body: unknown): Record<string, number> {
  const q = (body as { quota_set?: unknown } | undefined)?.quota_set;
  if (!q || typeof q !== 'object')
    throw new OsError(400, 'Invalid input: the body needs an object "quota_set"');
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(q as Record<string, unknown>)) {
    if (k === 'force') continue;
    if (!(k in MAPPED) && !(k in FIXED_QUOTAS))
      throw new OsError(400, `Invalid input for field/attribute quota_set: unknown quota "${k}"`);
    const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < -1 || n > QUOTA_MAX)
      throw new OsError(
        400,
        `Invalid input for field/attribute ${k}: a whole number from -1 to ${QUOTA_MAX}`,
      );
    if (k in MAPPED) out[MAPPED[k as Mapped]] = n === -1 ? QUOTA_MAX : n;
  }
  return out;
}

/** Register `/os-quota-sets/{project}` (GET, PUT, DELETE), `/detail` and `/defaults`. */
export function registerQuotaSets(s: FastifyInstance, deps: OsDeps): void {
  const { cp } = deps;
  type P = { Params: { project: string } };
  const show = async (req: FastifyRequest<P>) => {
    const p = await osPrincipal(cp, req);
    return tenantQuotas(deps, p, req.params.project);
  };

  s.get<P>('/v2.1/os-quota-sets/:project', async (req) => {
    const t = await show(req);
    return { quota_set: { id: t.id, ...quotaSet(t.quotas) } };
  });
  s.get<P>('/v2.1/os-quota-sets/:project/detail', async (req) => {
    const t = await show(req);
    const limits = quotaSet(t.quotas) as Record<string, number>;
    const inUse = (k: string) => (k in MAPPED ? Number(t.usage[MAPPED[k as Mapped]] ?? 0) : 0);
    return {
      quota_set: {
        id: t.id,
        ...Object.fromEntries(
          Object.entries(limits).map(([k, v]) => [k, { limit: v, in_use: inUse(k), reserved: 0 }]),
        ),
      },
    };
  });
  s.get<P>('/v2.1/os-quota-sets/:project/defaults', async (req) => {
    await osPrincipal(cp, req);
    return { quota_set: { id: req.params.project, ...quotaSet(DEFAULTS) } };
  });
  s.put<P>('/v2.1/os-quota-sets/:project', async (req) => {
    const p = await osPrincipal(cp, req);
    const quotas = parseUpdate(req.body);
    const t = await cp.tenancyAdmin.updateTenant(p, req.params.project, { quotas });
    return { quota_set: quotaSet(t.quotas as Record<string, number>) };
  });
  s.delete<P>('/v2.1/os-quota-sets/:project', async (req, reply) => {
    const p = await osPrincipal(cp, req);
    await cp.tenancyAdmin.updateTenant(p, req.params.project, {
      quotas: { ...DEFAULT_QUOTAS, ...NETWORK_DEFAULTS },
    });
    return reply.code(202).send();
  });
}
