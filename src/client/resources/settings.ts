import { Http } from '../http.ts';

/** Data-center settings (admin): PUE, HA admission control. Automation settings: `client.automation`. */
export const settingsApi = (http: Http) => ({
  /** Sets the power usage effectiveness applied to IT energy. */
  setPue: (pue: number) => http.put<{ pue: number }>('/v1/settings/energy', { pue }),
  /** Keeps failover capacity for 0 or 1 host failure. */
  setHa: (failoverHosts: number) => http.put<{ failoverHosts: number }>('/v1/settings/ha', { failoverHosts }),
});
