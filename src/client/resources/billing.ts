import { Http, type PageQuery, seg } from '../http.ts';
import type { DailyUsage, Invoice, Period, Tariff, TariffCreate, UsageReport } from '../types.ts';

/** Metered usage of a tenant in a period. */
export const usageApi = (http: Http) => ({
  /** Per VM: running and stopped time, vCPU/memory/disk hours, energy. */
  report: (p: Period) => http.get<UsageReport>('/v1/usage', { ...p }),
  /** By flavor and UTC day. */
  daily: (p: Period) => http.get<DailyUsage>('/v1/usage/daily', { ...p }),
});

/** Tariffs (create: admin). */
export const tariffsApi = (http: Http) => ({
  list: () => http.all<Tariff>('/v1/tariffs'),
  /** One page (limit, cursor, fields); see `list` for every row. */
  page: (q: PageQuery = {}) => http.page<Tariff>('/v1/tariffs', { ...q }),
  create: (t: TariffCreate) => http.post<Tariff>('/v1/tariffs', t),
  /** Changes a tariff (its window may not overlap another's). */
  update: (id: string, c: Partial<TariffCreate> & { validTo?: string | null }) =>
    http.patch<Tariff>(`/v1/tariffs/${seg(id)}`, c),
  delete: (id: string) => http.delete<void>(`/v1/tariffs/${seg(id)}`),
});

/** Invoices of a tenant for a period. */
export const invoicesApi = (http: Http) => ({
  get: (p: Period) => http.get<Invoice>('/v1/invoices', { ...p }),
  /** The invoice as CSV text. */
  csv: (p: Period) =>
    http.call<string>('GET', '/v1/invoices', { query: { ...p, format: 'csv' }, text: true }),
});
