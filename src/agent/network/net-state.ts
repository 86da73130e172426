/**
 * The agent's side of the network contract: validation of a pushed `HostNetworkState` (nothing from
 * the body is trusted: ids, MACs, addresses and device names are checked before any of them reaches
 * an argv) and the names of the devices and namespaces the agent derives from it.
 */
import { z } from 'zod';
import {
  bridgeName,
  IFNAME_MAX,
  NETWORK_ID_PATTERN,
  tapName,
  vxlanName,
  type HostNetworkState,
  type NetworkPlumbing,
} from '../../core/network/host-network.ts';

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** An IPv4 address as a 32-bit unsigned number. */
export function ipToInt(ip: string): number {
  return ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}

/** A 32-bit unsigned number as a dotted IPv4 address. */
export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

/** `a.b.c.d/p` → network address and prefix length (the host bits must be zero). */
export function parseCidr(cidr: string): { net: number; prefix: number } | null {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(cidr);
  if (!m || !IPV4.test(m[1]!) || Number(m[2]) > 32) return null;
  const prefix = Number(m[2]);
  const net = ipToInt(m[1]!);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return (net & mask) >>> 0 === net ? { net, prefix } : null;
}

/** Is the address inside the subnet? */
export function inCidr(ip: string, cidr: string): boolean {
  const c = parseCidr(cidr);
  if (!c || !IPV4.test(ip)) return false;
  const mask = c.prefix === 0 ? 0 : (0xffffffff << (32 - c.prefix)) >>> 0;
  return (ipToInt(ip) & mask) >>> 0 === c.net;
}

/** The subnet mask of a prefix length, dotted. */
export function prefixMask(prefix: number): string {
  return intToIp(prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0);
}

const ip = z.string().regex(IPV4, 'must be a dotted IPv4 address');
const cidr = z.string().refine((s) => parseCidr(s) !== null, 'must be an IPv4 CIDR with zero host bits');
const id = z.string().regex(NETWORK_ID_PATTERN, 'must be 1-63 letters, digits, ".", "_" or "-"');
const ifname = z
  .string()
  .max(IFNAME_MAX)
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_-]*$/, 'must be a device name of letters, digits, "_" or "-"');

const networkSchema = z
  .object({
    id,
    vni: z.number().int().min(1).max(16777215),
    kind: z.enum(['tenant', 'external']),
    cidr,
    gatewayIp: ip.nullable(),
    dhcp: z.boolean(),
    dnsServers: z.array(ip).max(8),
    mtu: z.number().int().min(576).max(9000),
    peers: z.array(ip).max(4096),
  })
  .strict();

const ruleSchema = z
  .object({
    direction: z.enum(['ingress', 'egress']),
    protocol: z.enum(['tcp', 'udp', 'icmp', 'any']),
    portMin: z.number().int().min(0).max(65535).nullable(),
    portMax: z.number().int().min(0).max(65535).nullable(),
    remoteCidrs: z.array(cidr).max(256),
  })
  .strict();

const portSchema = z
  .object({
    id,
    guestId: id,
    networkId: id,
    tap: ifname,
    mac: z.string().regex(MAC, 'must be a lower-case aa:bb:cc:dd:ee:ff MAC'),
    ips: z.array(ip).min(1).max(16),
    rules: z.array(ruleSchema).max(512),
    floatingIp: ip.nullable(),
    metadata: z
      .object({
        instanceId: id,
        hostname: z.string().regex(/^[a-zA-Z0-9]([a-zA-Z0-9.-]{0,252})$/, 'must be a host name'),
        publicKeys: z.record(z.string().max(255), z.string().max(16384)),
        userData: z.string().max(65536).nullable(),
        availabilityZone: z.string().max(255).nullable(),
      })
      .strict(),
  })
  .strict();

/** The body of `PUT /v1/network`. */
export const hostNetworkStateSchema = z
  .object({
    revision: z.number().int().nonnegative(),
    networks: z.array(networkSchema).max(4096),
    ports: z.array(portSchema).max(4096),
  })
  .strict();

/**
 * Cross-field checks zod cannot express: unique ids, VNIs, taps and MACs; every port on a network of
 * the state, with addresses inside its subnet; the gateway inside the subnet; tap names as the
 * contract derives them. Returns the problems (empty: valid).
 */
export function checkHostNetworkState(s: HostNetworkState): string[] {
  const e: string[] = [];
  const nets = new Map<string, NetworkPlumbing>();
  const vnis = new Set<number>();
  for (const n of s.networks) {
    if (nets.has(n.id)) e.push(`network ${n.id}: listed twice`);
    if (vnis.has(n.vni)) e.push(`network ${n.id}: VNI ${n.vni} is used by another network`);
    nets.set(n.id, n);
    vnis.add(n.vni);
    if (n.gatewayIp && !inCidr(n.gatewayIp, n.cidr))
      e.push(`network ${n.id}: gateway ${n.gatewayIp} is outside ${n.cidr}`);
    if (parseCidr(n.cidr)!.prefix > 29) e.push(`network ${n.id}: ${n.cidr} is too small (at most /29)`);
  }
  const seen = {
    id: new Set<string>(),
    tap: new Set<string>(),
    mac: new Set<string>(),
    fip: new Set<string>(),
  };
  for (const p of s.ports) {
    const n = nets.get(p.networkId);
    if (!n) e.push(`port ${p.id}: network ${p.networkId} is not in the state`);
    if (p.tap !== tapName(p.id)) e.push(`port ${p.id}: tap must be ${tapName(p.id)}`);
    for (const [k, v] of [
      ['id', p.id],
      ['tap', p.tap],
      ['mac', p.mac],
      ['fip', p.floatingIp],
    ] as const) {
      if (v === null) continue;
      if (seen[k].has(v)) e.push(`port ${p.id}: ${k} ${v} is used by another port`);
      seen[k].add(v);
    }
    if (n) for (const a of p.ips) if (!inCidr(a, n.cidr)) e.push(`port ${p.id}: ${a} is outside ${n.cidr}`);
    for (const r of p.rules)
      if ((r.portMin === null) !== (r.portMax === null) || (r.portMin ?? 0) > (r.portMax ?? 0))
        e.push(`port ${p.id}: a rule's port range must be both null or portMin <= portMax`);
  }
  return e;
}

/** Device and namespace names of one network on this host. */
export interface NetNames {
  bridge: string;
  vxlan: string;
  /** Bridge end of the veth to the network's namespace (its peer in the namespace is `gw`). */
  gwVeth: string;
  /** Host end of the veth that carries floating-IP traffic (its peer in the namespace is `ext`). */
  fipVeth: string;
  /** The network's namespace. */
  ns: string;
  /** The gateway's MAC: the same on every host (a distributed router), derived from the VNI. */
  gwMac: string;
}

/**
 * Names for a network. Namespace names are global on a machine (/run/netns), so they carry the host's
 * underlay address: two test hosts in namespaces of one machine must not share them.
 */
export function netNames(vni: number, underlayIp: string): NetNames {
  const hex = vni.toString(16);
  const b = vni.toString(16).padStart(6, '0');
  return {
    bridge: bridgeName(vni),
    vxlan: vxlanName(vni),
    gwVeth: `ng${hex}`,
    fipVeth: `nf${hex}`,
    ns: `${nsPrefix(underlayIp)}${hex}`,
    gwMac: `02:6e:62:${b.slice(0, 2)}:${b.slice(2, 4)}:${b.slice(4, 6)}`,
  };
}

/** The prefix of this host's network namespaces. */
export function nsPrefix(underlayIp: string): string {
  return `nubis-${underlayIp}-n`;
}
