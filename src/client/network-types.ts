/** JSON shapes of the network API (issue 12): networks, ports, security groups, key pairs, floating IPs. */

/** A network (another tenant's external network shows id, name, kind, cidr and external only). */
export interface Network {
  id: string;
  name: string;
  kind: 'tenant' | 'external';
  external: boolean;
  cidr: string;
  tenantId?: string;
  vni?: number;
  gateway?: string | null;
  dhcp?: boolean;
  dns?: string[];
  mtu?: number;
  physnet?: string | null;
  pool?: string | null;
  createdAt?: string;
  ports?: number;
}
export interface NetworkCreate {
  name: string;
  cidr: string;
  gateway?: string | null;
  dhcp?: boolean;
  dns?: string[];
  mtu?: number;
  external?: boolean;
  pool?: string;
  physnet?: string;
}
export interface Port {
  id: string;
  tenantId: string;
  networkId: string;
  vmId: string | null;
  mac: string;
  fixedIps: string[];
  securityGroups: string[];
  implicit: boolean;
  floatingIp: string | null;
  createdAt: string;
}
export interface SecurityRule {
  id: string;
  direction: 'ingress' | 'egress';
  protocol: 'tcp' | 'udp' | 'icmp' | 'any';
  portMin: number | null;
  portMax: number | null;
  remoteCidr: string | null;
  remoteGroupId: string | null;
}
export interface SecurityRuleCreate {
  direction: 'ingress' | 'egress';
  protocol: 'tcp' | 'udp' | 'icmp' | 'any';
  portMin?: number;
  portMax?: number;
  remoteCidr?: string;
  remoteGroup?: string;
}
export interface SecurityGroup {
  id: string;
  tenantId: string;
  name: string;
  description: string;
  createdAt: string;
  rules: SecurityRule[];
}
export interface Keypair {
  id: string;
  tenantId: string;
  userId: string;
  name: string;
  publicKey: string;
  fingerprint: string;
  createdAt: string;
}
export interface FloatingIp {
  id: string;
  tenantId: string;
  networkId: string;
  ip: string;
  portId: string | null;
  vmId: string | null;
  fixedIp: string | null;
  createdAt: string;
}
