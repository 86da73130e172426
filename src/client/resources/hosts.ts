import { Http, seg } from '../http.ts';
import type { DrainResult, Host, HostCreate, HostState, PowerResult } from '../types.ts';

/** Hosts (admin, operator). `host` arguments are an id or a name. */
export const hostsApi = (http: Http) => ({
  list: () => http.get<Host[]>('/v1/hosts'),
  /** One host with its recent CPU series. */
  get: (host: string) => http.get<Host>(`/v1/hosts/${seg(host)}`),
  /** Registers a host (admin). */
  create: (h: HostCreate) => http.post<Host>('/v1/hosts', h),
  /** Sets a host's state (up, maintenance, off, failed). */
  setState: (host: string, state: HostState) => http.patch<Host>(`/v1/hosts/${seg(host)}`, { state }),
  /** Switches a host on or off (off: it must be empty). */
  power: (host: string, action: 'on' | 'off', reason?: string) =>
    http.post<PowerResult>(`/v1/hosts/${seg(host)}/power`, { action, reason }),
  /** Live-migrates every VM off the host, then keeps it in maintenance. */
  drain: (host: string) => http.post<DrainResult>(`/v1/hosts/${seg(host)}/drain`),
  /** Puts a host back in service. */
  undrain: (host: string) => http.post<Host>(`/v1/hosts/${seg(host)}/undrain`),
});
