/**
 * IP address management: the address a new port (or floating IP) gets. Pure: the caller gives the
 * addresses in use and keeps the allocation safe under concurrency (a unique index per network).
 */
import { formatIpv4, inSubnet, parseCidr, parseIpv4 } from './ipv4.ts';

/** The outcome of an allocation: an address, or why there is none (`exhausted`, or a bad request). */
export type IpAllocation =
  { ok: true; ip: string } | { ok: false; reason: 'exhausted' | 'invalid' | 'in-use'; message: string };

/**
 * Pick an address in `cidr`: the requested one if it is a free host address (not the network,
 * broadcast or gateway address), else the lowest free host address (from `range` when given: a
 * floating IP pool). `used` holds the addresses already allocated.
 */
export function allocateIp(o: {
  cidr: string;
  gatewayIp: string | null;
  used: Iterable<string>;
  requested?: string;
  range?: { first: number; last: number };
}): IpAllocation {
  const s = parseCidr(o.cidr);
  if (!s) throw new RangeError(`Not a subnet: ${o.cidr}`);
  const used = new Set(o.used);
  if (o.gatewayIp) used.add(o.gatewayIp);
  const first = o.range?.first ?? s.network + 1,
    last = o.range?.last ?? s.broadcast - 1;
  if (o.requested !== undefined) {
    const r = parseIpv4(o.requested);
    if (r === null || !inSubnet(s, r) || r === s.network || r === s.broadcast)
      return { ok: false, reason: 'invalid', message: `${o.requested} is not a host address of ${o.cidr}` };
    if (o.requested === o.gatewayIp)
      return { ok: false, reason: 'in-use', message: `${o.requested} is the gateway of ${o.cidr}` };
    if (used.has(o.requested))
      return { ok: false, reason: 'in-use', message: `${o.requested} is already in use on ${o.cidr}` };
    return { ok: true, ip: o.requested };
  }
  for (let ip = first; ip <= last; ip++) {
    const a = formatIpv4(ip);
    if (!used.has(a)) return { ok: true, ip: a };
  }
  return {
    ok: false,
    reason: 'exhausted',
    message: `No free address left in ${o.range ? `${formatIpv4(first)}-${formatIpv4(last)}` : o.cidr} (${used.size} in use)`,
  };
}
