import { Http, type PageQuery, seg } from '../http.ts';
import type {
  FloatingIp,
  Keypair,
  Network,
  NetworkCreate,
  Port,
  SecurityGroup,
  SecurityRuleCreate,
} from '../types.ts';

/** Networks (yours, and the external ones). */
export const networksApi = (http: Http) => ({
  list: () => http.all<Network>('/v1/networks'),
  /** One page (limit, cursor, fields); see `list` for every row. */
  page: (q: PageQuery = {}) => http.page<Network>('/v1/networks', { ...q }),
  create: (n: NetworkCreate) => http.post<Network>('/v1/networks', n),
  get: (network: string) => http.get<Network>(`/v1/networks/${seg(network)}`),
  delete: (network: string) => http.delete<void>(`/v1/networks/${seg(network)}`),
});

/** Ports. */
export const portsApi = (http: Http) => ({
  list: (q: { vm?: string; network?: string } = {}) => http.all<Port>('/v1/ports', q),
  /** One page (limit, cursor, fields); see `list` for every row. */
  page: (q: PageQuery & { vm?: string; network?: string } = {}) => http.page<Port>('/v1/ports', { ...q }),
  create: (p: { network: string; fixedIp?: string; securityGroups?: string[] }) =>
    http.post<Port>('/v1/ports', p),
  get: (port: string) => http.get<Port>(`/v1/ports/${seg(port)}`),
  /** Sets the port's security groups. */
  update: (port: string, p: { securityGroups: string[] }) => http.put<Port>(`/v1/ports/${seg(port)}`, p),
  delete: (port: string) => http.delete<void>(`/v1/ports/${seg(port)}`),
});

/** Security groups and their rules. */
export const securityGroupsApi = (http: Http) => ({
  list: () => http.all<SecurityGroup>('/v1/security-groups'),
  /** One page (limit, cursor, fields); see `list` for every row. */
  page: (q: PageQuery = {}) => http.page<SecurityGroup>('/v1/security-groups', { ...q }),
  create: (g: { name: string; description?: string }) => http.post<SecurityGroup>('/v1/security-groups', g),
  get: (group: string) => http.get<SecurityGroup>(`/v1/security-groups/${seg(group)}`),
  delete: (group: string) => http.delete<void>(`/v1/security-groups/${seg(group)}`),
  addRule: (group: string, r: SecurityRuleCreate) =>
    http.post<SecurityGroup>(`/v1/security-groups/${seg(group)}/rules`, r),
  deleteRule: (group: string, rule: string) =>
    http.delete<void>(`/v1/security-groups/${seg(group)}/rules/${seg(rule)}`),
});

/** Key pairs. */
export const keypairsApi = (http: Http) => ({
  list: () => http.all<Keypair>('/v1/keypairs'),
  /** One page (limit, cursor, fields); see `list` for every row. */
  page: (q: PageQuery = {}) => http.page<Keypair>('/v1/keypairs', { ...q }),
  create: (k: { name: string; publicKey: string }) => http.post<Keypair>('/v1/keypairs', k),
  get: (keypair: string) => http.get<Keypair>(`/v1/keypairs/${seg(keypair)}`),
  delete: (keypair: string) => http.delete<void>(`/v1/keypairs/${seg(keypair)}`),
});

/** Floating IPs. */
export const floatingIpsApi = (http: Http) => ({
  list: () => http.all<FloatingIp>('/v1/floating-ips'),
  /** One page (limit, cursor, fields); see `list` for every row. */
  page: (q: PageQuery = {}) => http.page<FloatingIp>('/v1/floating-ips', { ...q }),
  create: (f: { network?: string } = {}) => http.post<FloatingIp>('/v1/floating-ips', f),
  get: (fip: string) => http.get<FloatingIp>(`/v1/floating-ips/${seg(fip)}`),
  attach: (fip: string, to: { vm?: string; port?: string }) =>
    http.post<FloatingIp>(`/v1/floating-ips/${seg(fip)}/attach`, to),
  detach: (fip: string) => http.post<FloatingIp>(`/v1/floating-ips/${seg(fip)}/detach`, {}),
  delete: (fip: string) => http.delete<void>(`/v1/floating-ips/${seg(fip)}`),
});
