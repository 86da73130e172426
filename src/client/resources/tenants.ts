import { Http, type PageQuery, seg } from '../http.ts';
import type { Quotas, Tenant, TenantDetail } from '../types.ts';

/** Tenants and quotas. */
export const tenantsApi = (http: Http) => ({
  /** All tenants (admin, operator). */
  list: () => http.all<Tenant>('/v1/tenants'),
  /** One page (limit, cursor, fields); see `list` for every row. */
  page: (q: PageQuery = {}) => http.page<Tenant>('/v1/tenants', { ...q }),
  /** Creates a tenant (admin); unset quotas take the defaults. */
  create: (t: { name: string; quotas?: Partial<Quotas>; memorySharing?: 'shared' | 'private' }) =>
    http.post<Tenant>('/v1/tenants', t),
  /** Changes some quotas of a tenant (id or name) (admin). */
  setQuotas: (tenant: string, quotas: Partial<Quotas>) =>
    http.patch<TenantDetail>(`/v1/tenants/${seg(tenant)}`, { quotas }),
  /** A tenant with quotas and usage (your own; any for admin and operator). */
  get: (tenant: string) => http.get<TenantDetail>(`/v1/tenants/${seg(tenant)}`),
  /** Your tenant's quotas and what it uses. */
  quotas: () => http.get<TenantDetail>('/v1/quotas'),
  /** Renames a tenant and/or changes its quotas (admin). */
  update: (
    tenant: string,
    c: { name?: string; quotas?: Partial<Quotas>; memorySharing?: 'shared' | 'private' },
  ) => http.patch<TenantDetail>(`/v1/tenants/${seg(tenant)}`, c),
  /** Deletes a tenant with no VMs; its users' tokens are revoked (admin). */
  delete: (tenant: string) => http.delete<void>(`/v1/tenants/${seg(tenant)}`),
});
