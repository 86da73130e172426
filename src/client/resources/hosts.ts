import { Http, type PageQuery, seg } from '../http.ts';
import type { HostMemory } from '../inventory-types.ts';
import type {
  DrainResult,
  Host,
  HostCreate,
  HostFilters,
  HostState,
  HostUpdate,
  JoinToken,
  PowerResult,
  RetireResult,
} from '../types.ts';

/** Hosts (admin, operator). `host` arguments are an id or a name. */
export const hostsApi = (http: Http) => ({
  list: ({ limit, ...q }: HostFilters & { limit?: number } = {}) =>
    http.all<Host>('/v1/hosts', { ...q }, limit),
  /** One page of hosts, by name (limit 1-1000, default 100; cursor; fields; filters). */
  page: (q: PageQuery & HostFilters = {}) => http.page<Host>('/v1/hosts', { ...q }),
  /** One host with its recent CPU series. */
  get: (host: string) => http.get<Host>(`/v1/hosts/${seg(host)}`),
  /** Registers a host (admin); a real host (driver qemu with an agentUrl) comes with its credentials, shown once. */
  create: (h: HostCreate) =>
    http.post<Host & { hostCredential?: string; agentCredential?: string }>('/v1/hosts', h),
  /** Creates a one-time join token an agent enrolls its host with (admin); the token is shown once. */
  createJoinToken: (o: { name?: string; expiresInS: number }) =>
    http.post<JoinToken>('/v1/hosts/join-tokens', o),
  /** Sets a host's state (up, maintenance, off, failed). */
  setState: (host: string, state: HostState) => http.patch<Host>(`/v1/hosts/${seg(host)}`, { state }),
  /** Switches a host on or off (off: it must be empty). */
  power: (host: string, action: 'on' | 'off', reason?: string) =>
    http.post<PowerResult>(`/v1/hosts/${seg(host)}/power`, { action, reason }),
  /** Live-migrates every VM off the host, then keeps it in maintenance. */
  drain: (host: string) => http.post<DrainResult>(`/v1/hosts/${seg(host)}/drain`),
  /** Changes ratios, reserved resources, zone, rack, tier, data center, power model (admin). */
  update: (host: string, c: HostUpdate) => http.patch<Host>(`/v1/hosts/${seg(host)}`, c),
  /** Deletes a host with no VMs (admin). */
  delete: (host: string) => http.delete<void>(`/v1/hosts/${seg(host)}`),
  /** Drains a host, then deletes it; says which VMs could not move (admin). */
  retire: (host: string) => http.post<RetireResult>(`/v1/hosts/${seg(host)}/retire`),
  /** The host's memory model: policy, risk, demand at the risk, its VMs' lines (admin, operator). */
  memory: (host: string, o: { with?: string[] } = {}) =>
    http.get<HostMemory>(`/v1/hosts/${seg(host)}/memory`, o.with?.length ? { with: o.with.join(',') } : {}),
  /** Puts a host back in service. */
  undrain: (host: string) => http.post<Host>(`/v1/hosts/${seg(host)}/undrain`),
});
