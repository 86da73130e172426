/**
 * The network contract between the control plane and a host: the desired network state of one host,
 * computed by the control plane from its records (networks, ports, security groups, floating IPs) and
 * pushed whole to the host's driver, which converges the host to it (declarative and idempotent, as
 * Kubernetes controllers and OVN's northbound → southbound model work). Simulated hosts keep it as
 * data; real hosts plumb it (bridges, VXLAN, taps, dnsmasq, nftables, NAT, a metadata proxy).
 *
 * Pure types and helpers: no I/O.
 */

/** Everything one host must plumb. A host with no ports gets `{ networks: [], ports: [] }`. */
export interface HostNetworkState {
  /** Increases with every change the control plane makes; an agent ignores a state older than the one it has. */
  revision: number;
  networks: NetworkPlumbing[];
  ports: PortPlumbing[];
}

/** A network as one host sees it (only networks with at least one port on this host are sent). */
export interface NetworkPlumbing {
  /** Network id (matches NETWORK_ID_PATTERN). */
  id: string;
  /** VXLAN network identifier, 1..16777215, unique per network in the whole cloud. */
  vni: number;
  /** `tenant` (an overlay: VXLAN between hosts) or `external` (the operator's external/provider network). */
  kind: 'tenant' | 'external';
  /** IPv4 subnet in CIDR notation, e.g. `10.20.0.0/24`. Tenants may overlap each other. */
  cidr: string;
  /** The subnet's gateway address (the virtual router on every host), or null for an isolated network. */
  gatewayIp: string | null;
  /** Whether DHCP answers on this network (static leases: the ports' MACs → their fixed IPs). */
  dhcp: boolean;
  /** DNS servers handed out by DHCP. */
  dnsServers: string[];
  /** MTU handed to guests (VXLAN costs 50 bytes of the underlay's MTU). */
  mtu: number;
  /** Underlay addresses of the other hosts that have ports on this network (the VXLAN flood list). */
  peers: string[];
}

/** One security rule of a port, with remote groups already expanded to addresses by the control plane. */
export interface PortRule {
  direction: 'ingress' | 'egress';
  /** `any` = every protocol. */
  protocol: 'tcp' | 'udp' | 'icmp' | 'any';
  /** Port range (tcp/udp only); null = every port. */
  portMin: number | null;
  portMax: number | null;
  /** Remote addresses in CIDR notation (`0.0.0.0/0` = anywhere). Empty = matches nothing. */
  remoteCidrs: string[];
}

/** A VM's port on a network, as its host must plumb it. */
export interface PortPlumbing {
  /** Port id (matches NETWORK_ID_PATTERN). */
  id: string;
  /** The guest (VM) the port belongs to: the agent's guest id. */
  guestId: string;
  networkId: string;
  /** The tap device name the guest's NIC uses on this host (see `tapName`). */
  tap: string;
  /** Lower-case `aa:bb:cc:dd:ee:ff`. */
  mac: string;
  /** Fixed IPv4 addresses from the network's subnet. */
  ips: string[];
  /**
   * Allow-list rules (stateful: replies to allowed traffic pass). Port security always applies:
   * only the port's MAC and IPs (plus DHCP from 0.0.0.0) may leave the tap.
   */
  rules: PortRule[];
  /** The port's floating (external) IPv4 address, NATed 1:1 to `ips[0]` on the host that runs the VM. */
  floatingIp: string | null;
  /** What the metadata service (169.254.169.254) answers this port, and only this port. */
  metadata: PortMetadata;
}

/** Instance metadata, as cloud-init reads it from the OpenStack and EC2 paths. */
export interface PortMetadata {
  /** The VM id. */
  instanceId: string;
  hostname: string;
  /** Key pair name → OpenSSH public key line. */
  publicKeys: Record<string, string>;
  /** User data (a script or cloud-config), or null. */
  userData: string | null;
  availabilityZone: string | null;
}

/** A guest NIC, as the hypervisor attaches it (part of `GuestSpec`). */
export interface GuestNic {
  portId: string;
  mac: string;
  /** Tap device name on the host (`tapName(portId)`). */
  tap: string;
}

/** Ids of networks, ports and other network objects that reach a host: the guest id rule. */
export const NETWORK_ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;

/** Linux interface names have at most 15 bytes. */
export const IFNAME_MAX = 15;

/** FNV-1a, 32 bits: a short stable hash for device names (Fowler–Noll–Vo, 1991). */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The tap device of a port: `nt` + 8 hex digits of the port id's hash (stable on every host). */
export function tapName(portId: string): string {
  return `nt${fnv1a32(portId).toString(16).padStart(8, '0')}`;
}

/** The bridge of a network on a host: `nb` + the VNI in hex. */
export function bridgeName(vni: number): string {
  return `nb${vni.toString(16)}`;
}

/** The VXLAN device of a network on a host: `nx` + the VNI in hex. */
export function vxlanName(vni: number): string {
  return `nx${vni.toString(16)}`;
}

/** The empty state (a host with no ports). */
export function emptyHostNetworkState(revision = 0): HostNetworkState {
  return { revision, networks: [], ports: [] };
}
