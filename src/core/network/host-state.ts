/**
 * The desired network state of one host (the contract of host-network.ts), computed from the
 * control plane's records: the networks with a port on the host, their VXLAN peers (the underlay
 * addresses of the OTHER hosts with a port on the same network), and the host's ports with their
 * compiled security rules, floating IP and metadata. Pure: the same records give the same state.
 */
import {
  tapName,
  type HostNetworkState,
  type NetworkPlumbing,
  type PortMetadata,
  type PortPlumbing,
} from './host-network.ts';
import { compilePortRules, groupMembers, type SecurityRuleRow } from './security-rules.ts';

/** A network as stored (the fields the state needs). */
export interface NetworkRecord {
  id: string;
  vni: number;
  kind: 'tenant' | 'external';
  cidr: string;
  gatewayIp: string | null;
  dhcp: boolean;
  dnsServers: string[];
  mtu: number;
}

/** A port of a VM as stored, with the host(s) that must plumb it. */
export interface PortRecord {
  id: string;
  networkId: string;
  vmId: string;
  /** Hosts that plumb the port: the VM's host; during a migration, the source and the destination. */
  hostIds: string[];
  mac: string;
  ips: string[];
  securityGroupIds: string[];
  floatingIp: string | null;
  metadata: PortMetadata;
}

/** Every record the state of any host is computed from. */
export interface NetworkRecords {
  networks: NetworkRecord[];
  /** Every port with a VM (of every tenant: remote groups only ever name their own tenant's groups). */
  ports: PortRecord[];
  rules: SecurityRuleRow[];
  /** Host id → its underlay address. */
  underlay: Record<string, string>;
}

/** The state `hostId` must converge to, at `revision`. */
export function computeHostNetworkState(
  hostId: string,
  records: NetworkRecords,
  revision: number,
): HostNetworkState {
  const mine = records.ports.filter((p) => p.hostIds.includes(hostId)).sort((a, b) => cmp(a.id, b.id));
  const members = groupMembers(records.ports);
  const netIds = new Set(mine.map((p) => p.networkId));
  const networks: NetworkPlumbing[] = records.networks
    .filter((n) => netIds.has(n.id))
    .sort((a, b) => cmp(a.id, b.id))
    .map((n) => {
      const peers = new Set<string>();
      for (const p of records.ports)
        if (p.networkId === n.id)
          for (const h of p.hostIds) {
            const addr = records.underlay[h];
            if (h !== hostId && addr !== undefined) peers.add(addr);
          }
      return {
        id: n.id,
        vni: n.vni,
        kind: n.kind,
        cidr: n.cidr,
        gatewayIp: n.gatewayIp,
        dhcp: n.dhcp,
        dnsServers: [...n.dnsServers],
        mtu: n.mtu,
        peers: [...peers].sort(),
      };
    });
  const ports: PortPlumbing[] = mine.map((p) => ({
    id: p.id,
    guestId: p.vmId,
    networkId: p.networkId,
    tap: tapName(p.id),
    mac: p.mac,
    ips: [...p.ips],
    rules: compilePortRules(p, records.rules, members),
    floatingIp: p.floatingIp,
    metadata: p.metadata,
  }));
  return { revision, networks, ports };
}

/** The hosts whose state involves any of `portIds` or `networkIds` (who must be pushed after a change). */
export function affectedHosts(records: NetworkRecords, networkIds: Iterable<string>): string[] {
  const nets = new Set(networkIds);
  const hosts = new Set<string>();
  for (const p of records.ports) if (nets.has(p.networkId)) for (const h of p.hostIds) hosts.add(h);
  return [...hosts].sort();
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
