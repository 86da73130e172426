/**
 * What a security-group rule may say, as Neutron validates it (neutron/db/securitygroups_db.py and
 * neutron/extensions/securitygroup.py): a protocol by name or IP protocol number, port ranges for
 * protocols with ports, ICMP type (port_range_min) and code (port_range_max), a remote prefix of
 * the rule's ethertype or a remote group (not both). Pure: returns the normalized rule or what is wrong.
 */
import { parseCidr } from '../../core/network/ipv4.ts';

/** The protocols known by name (Neutron's list); any other must be a number 0..255. */
const NAMED = new Set([
  'tcp',
  'udp',
  'icmp',
  'icmpv6',
  'ipv6-icmp',
  'ah',
  'dccp',
  'egp',
  'esp',
  'gre',
  'igmp',
  'ipip',
  'ipv6-encap',
  'ipv6-frag',
  'ipv6-nonxt',
  'ipv6-opts',
  'ipv6-route',
  'ospf',
  'pgm',
  'rsvp',
  'sctp',
  'udplite',
  'vrrp',
]);
/** Protocols whose rules have ports, by name and number (tcp, udp, dccp, sctp, udplite). */
const WITH_PORTS = new Set(['tcp', 'udp', 'dccp', 'sctp', 'udplite', '6', '17', '33', '132', '136']);
const ICMP = new Set(['icmp', 'icmpv6', 'ipv6-icmp', '1', '58']);

/** A rule as given (Neutron's attributes; `protocol` null or `any`: every protocol). */
export interface RuleSpec {
  direction: string;
  ethertype?: string;
  protocol?: string | number | null;
  portMin?: number | null;
  portMax?: number | null;
  remoteCidr?: string | null;
  remoteGroup?: string | null;
}

/** A rule checked: its protocol as stored (`any`, a name or a number as text). */
export interface CheckedRule {
  direction: 'ingress' | 'egress';
  ethertype: 'IPv4' | 'IPv6';
  protocol: string;
  portMin: number | null;
  portMax: number | null;
  remoteCidr: string | null;
  remoteGroup: string | null;
}

/** An IPv6 prefix (`addr/len`, the address in any of its textual forms). */
function isIpv6Cidr(s: string): boolean {
  const m = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(s);
  if (!m || Number(m[2]) > 128 || !m[1]!.includes(':')) return false;
  const parts = m[1]!.split('::');
  if (parts.length > 2) return false;
  const groups = parts.flatMap((x) => (x ? x.split(':') : []));
  return (
    groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g)) &&
    (parts.length === 2 ? groups.length < 8 : groups.length === 8)
  );
}

/** Check a rule; the messages are Neutron's (clients and Tempest look for them). */
export function checkRule(r: RuleSpec): CheckedRule | string {
  if (r.direction !== 'ingress' && r.direction !== 'egress')
    return `Invalid input for direction. Reason: ${r.direction} is not in [ingress, egress].`;
  const ethertype = r.ethertype ?? 'IPv4';
  if (ethertype !== 'IPv4' && ethertype !== 'IPv6')
    return `Invalid input for ethertype. Reason: ${ethertype} is not in [IPv4, IPv6].`;
  let protocol = r.protocol === null || r.protocol === undefined ? 'any' : String(r.protocol).toLowerCase();
  if (protocol !== 'any' && !NAMED.has(protocol)) {
    const n = /^\d{1,3}$/.test(protocol) ? Number(protocol) : NaN;
    if (!(n >= 0 && n <= 255))
      return `Security group rule protocol ${String(r.protocol)} not supported. Only protocol values [${[...NAMED].join(', ')}] and integer representations [0 to 255] are supported.`;
    protocol = String(n);
  }
  for (const v of [r.portMin, r.portMax])
    if (v !== undefined && v !== null && !(Number.isInteger(v) && v >= 0 && v <= 65535))
      return `Invalid value for port ${v}`;
  const portMin = r.portMin ?? null,
    portMax = r.portMax ?? null;
  if (portMin !== null || portMax !== null) {
    if (protocol === 'any') return 'Must also specify protocol if port range is given.';
    if (WITH_PORTS.has(protocol)) {
      if (portMin === 0 || portMax === 0) return 'Invalid value for port 0';
      if (portMin === null || portMax === null || portMin > portMax)
        return 'For TCP/UDP protocols, port_range_min must be <= port_range_max';
    } else if (ICMP.has(protocol)) {
      if (portMin !== null && portMin > 255)
        return `Invalid value for ICMP type (port_range_min) ${portMin}. It must be 0 to 255.`;
      if (portMax !== null && portMax > 255)
        return `Invalid value for ICMP code (port_range_max) ${portMax}. It must be 0 to 255.`;
      if (portMin === null)
        return `ICMP code (port-range-max) ${portMax} is provided but ICMP type (port-range-min) is missing.`;
    } else return `Protocol ${protocol} does not have ports; give no port range`;
  }
  const remoteCidr = r.remoteCidr ?? null,
    remoteGroup = r.remoteGroup ?? null;
  if (remoteCidr !== null && remoteGroup !== null)
    return 'Only remote_ip_prefix or remote_group_id may be provided.';
  if (remoteCidr !== null) {
    const v4 = parseCidr(remoteCidr) !== null,
      v6 = !v4 && isIpv6Cidr(remoteCidr);
    if (!v4 && !v6)
      return `Invalid input for remote_ip_prefix. Reason: '${remoteCidr}' is not a valid IP subnet.`;
    if ((ethertype === 'IPv4') !== v4)
      return `Conflicting value ethertype ${ethertype} for CIDR ${remoteCidr}`;
  }
  return { direction: r.direction, ethertype, protocol, portMin, portMax, remoteCidr, remoteGroup };
}
