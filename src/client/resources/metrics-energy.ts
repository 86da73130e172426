import { Http } from '../http.ts';
import type { EnergyReport, MetricSample } from '../types.ts';

/** Measured CPU utilization of VMs (admin, operator; agents send it with their heartbeats). */
export const metricsApi = (http: Http) => ({
  record: (samples: MetricSample[]) =>
    http.post<{ recorded: number; unknown: string[] }>('/v1/metrics', { samples }),
});

/** Metered energy over whole UTC days (members: their tenant's). */
export const energyApi = (http: Http) => ({
  /** `from`/`to` are days (YYYY-MM-DD); `by` host, zone or tenant (default tenant). */
  report: (q: { from: string; to: string; by?: 'host' | 'zone' | 'tenant' }) =>
    http.get<EnergyReport>('/v1/energy', q),
});
