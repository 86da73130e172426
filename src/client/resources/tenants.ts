import { Http, seg } from '../http.ts';
import type { Quotas, Tenant } from '../types.ts';

/** Tenants and quotas. */
export const tenantsApi = (http: Http) => ({
  /** All tenants (admin, operator). */
  list: () => http.get<Tenant[]>('/v1/tenants'),
  /** Creates a tenant (admin); unset quotas take the defaults. */
  create: (t: { name: string; quotas?: Partial<Quotas> }) => http.post<Tenant>('/v1/tenants', t),
  /** Changes some quotas of a tenant (id or name) (admin). */
  setQuotas: (tenant: string, quotas: Partial<Quotas>) =>
    http.patch<Tenant>(`/v1/tenants/${seg(tenant)}`, { quotas }),
});
