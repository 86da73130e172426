/**
 * IPv4 addresses and subnets as numbers: parse, format, validate a tenant subnet (CIDR /8../29, a
 * gateway inside it) and an address range. Pure.
 */

/** An IPv4 address as an unsigned 32-bit number, or null when `s` is not a dotted quad. */
export function parseIpv4(s: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p, i) => p > 255 || (m[i + 1]!.length > 1 && m[i + 1]!.startsWith('0')))) return null;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

/** The dotted quad of an unsigned 32-bit number. */
export function formatIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** A parsed subnet: its network address, prefix length, and first/last addresses (network, broadcast). */
export interface Subnet {
  network: number;
  prefix: number;
  broadcast: number;
}

/** Parse `A.B.C.D/N` (any prefix 0..32), or null. The address must be the network address. */
export function parseCidr(s: string): Subnet | null {
  const m = /^([0-9.]+)\/(\d{1,2})$/.exec(s);
  if (!m) return null;
  const ip = parseIpv4(m[1]!);
  const prefix = Number(m[2]);
  if (ip === null || prefix > 32) return null;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  if ((ip & mask) >>> 0 !== ip) return null;
  return { network: ip, prefix, broadcast: (ip | (~mask >>> 0)) >>> 0 };
}

/** Whether the address lies in the subnet (network and broadcast included). */
export function inSubnet(s: Subnet, ip: number): boolean {
  return ip >= s.network && ip <= s.broadcast;
}

/** Whether two subnets share an address. */
export function overlaps(a: Subnet, b: Subnet): boolean {
  return a.network <= b.broadcast && b.network <= a.broadcast;
}

/** Smallest and largest prefix a tenant subnet may have. */
export const MIN_PREFIX = 8;
export const MAX_PREFIX = 29;

/**
 * Check a subnet and its gateway: an IPv4 CIDR with a prefix /8../29 whose address is the network
 * address, and a gateway that is a host address of it (not the network or broadcast address).
 * Returns what is wrong, or [] when valid.
 */
export function checkSubnet(cidr: string, gateway: string | null): string[] {
  const s = parseCidr(cidr);
  if (!s)
    return [
      `cidr "${cidr}" is not an IPv4 subnet in CIDR notation with its network address (e.g. 10.20.0.0/24)`,
    ];
  if (s.prefix < MIN_PREFIX || s.prefix > MAX_PREFIX)
    return [`cidr "${cidr}" has prefix /${s.prefix}; accepted: /${MIN_PREFIX} to /${MAX_PREFIX}`];
  if (gateway === null) return [];
  const g = parseIpv4(gateway);
  if (g === null) return [`gateway "${gateway}" is not an IPv4 address`];
  if (g <= s.network || g >= s.broadcast)
    return [
      `gateway ${gateway} is not a host address of ${cidr} (${formatIpv4(s.network + 1)} to ${formatIpv4(s.broadcast - 1)})`,
    ];
  return [];
}

/** The default gateway of a subnet: its first host address. */
export function defaultGateway(cidr: string): string {
  const s = parseCidr(cidr);
  if (!s) throw new RangeError(`Not a subnet: ${cidr}`);
  return formatIpv4(s.network + 1);
}

/** An address range `FIRST-LAST` inside a subnet (a floating IP pool), or what is wrong with it. */
export function parseRange(range: string, cidr: string): { first: number; last: number } | string {
  const s = parseCidr(cidr);
  const m = /^([0-9.]+)-([0-9.]+)$/.exec(range);
  const first = m ? parseIpv4(m[1]!) : null,
    last = m ? parseIpv4(m[2]!) : null;
  if (!s || first === null || last === null)
    return `pool "${range}" is not FIRST-LAST (two IPv4 addresses, e.g. 203.0.113.10-203.0.113.50)`;
  if (first > last) return `pool "${range}" starts after it ends`;
  if (first <= s.network || last >= s.broadcast)
    return `pool "${range}" is not made of host addresses of ${cidr}`;
  return { first, last };
}
