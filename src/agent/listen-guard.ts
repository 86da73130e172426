/**
 * Start-up refusal of an open agent: without a token the agent may listen on loopback only
 * (127.0.0.0/8 or ::1), so that nobody else on the network can drive its guests.
 */
import { isIP } from 'node:net';

/** True for a loopback address: 127.0.0.0/8, ::1, or an IPv4-mapped 127.x address (::ffff:127.x.y.z). */
export function isLoopback(address: string): boolean {
  const a = address.replace(/^\[|\]$/g, '').toLowerCase();
  if (isIP(a) === 4) return a.startsWith('127.');
  if (isIP(a) === 6) return a === '::1' || a === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(a);
  return false;
}

/** What to tell an operator who started an agent without a token on a non-loopback address. */
export function noTokenMessage(address: string): string {
  return (
    `Refusing to listen on ${address} without a token: anyone who can reach it could run guests and ` +
    'read their disks. Set one in NUBIS_AGENT_TOKEN (e.g. NUBIS_AGENT_TOKEN=$(openssl rand -hex 32)) or ' +
    '--token-file FILE (mode 0600), or listen on loopback only (--listen 127.0.0.1:PORT)'
  );
}

/**
 * Check a --listen host before binding (a host name is allowed without a token only as `localhost`,
 * and the bound address is checked again after binding).
 * @throws RangeError with {@link noTokenMessage} when there is no token and the host is not loopback
 */
export function checkListenHost(host: string, hasToken: boolean): void {
  if (hasToken || isLoopback(host) || host === 'localhost') return;
  throw new RangeError(noTokenMessage(host));
}

/** The URL of a bound server address (from `server.address()`), IPv6 in brackets. */
export function boundUrl(addr: { address: string; port: number }, scheme = 'http'): string {
  const host = isIP(addr.address) === 6 ? `[${addr.address}]` : addr.address;
  return `${scheme}://${host}:${addr.port}`;
}
