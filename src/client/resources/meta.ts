import { Http } from '../http.ts';
import type { DatacenterSummary } from '../../control/inventory/summary-types.ts';
import type { Me, Overview } from '../types.ts';

/** Liveness, the caller, the dashboard's totals and the OpenAPI document. */
export const metaApi = (http: Http) => ({
  /** GET /healthz (no token). */
  health: () => http.get<{ ok: boolean }>('/healthz'),
  /** GET /v1/me: who the token belongs to. */
  me: () => http.get<Me>('/v1/me'),
  /** GET /v1/overview: hosts and VMs by state, power, energy today (members: their tenant's). */
  overview: () => http.get<Overview>('/v1/overview'),
  /**
   * GET /v1/datacenter/summary: VMs by state and, for those who see hosts, every host as columns
   * (`hosts: false`: the counts only).
   */
  datacenter: (o: { hosts?: boolean } = {}) =>
    http.get<DatacenterSummary>(`/v1/datacenter/summary${o.hosts === false ? '?hosts=false' : ''}`),
  /** GET /openapi.json: every operation of the API. */
  openapi: () =>
    http.get<{ paths: Record<string, Record<string, { summary: string; tags: string[] }>> }>('/openapi.json'),
});
