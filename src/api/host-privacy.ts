/**
 * Members never choose or see hosts. Admins and operators run the infrastructure and see every
 * host; members and readers see their tenant's objects without where they run: answers lose their
 * host keys, placement dry-runs and "no host fits" errors explain by counts per filter, never by host
 * name, zone's host list or load, and backend messages (an operation's or event's `error`, an error's
 * `message`) have agent URLs, IP addresses and host names and ids replaced by "a host". Applied
 * once, in `server.ts`, to every answer and error.
 */
import type { PlacementDecision, Rejection } from '../policies/placement/pipeline.ts';
import { ControlError } from '../control/errors.ts';
import type { Principal } from '../control/principal.ts';

/** Whether the caller may see hosts (admins and operators). */
export const seesHosts = (p: Principal | undefined): boolean =>
  !p || p.role === 'admin' || p.role === 'operator';

/** Keys that name a host, dropped from every answer to a member or reader. */
const HOST_KEYS = new Set(['hostId', 'hostName', 'targetHostId', 'sourceHostId', 'host', 'hosts']);

/** What operators are told to do instead of naming a host. */
export const OPERATORS_CHOOSE =
  'operators choose hosts; leave the host out and placement chooses one (only admins and operators name a host)';

/**
 * The keys of an event's `detail` that name hosts: the placement's reasoning (`why`), where it
 * restarted (`on`), and a VM's `from`/`to` (except a resize, whose are flavors).
 */
function hostDetail(kind: string, key: string): boolean {
  if (key === 'why' || key === 'on') return true;
  return kind.startsWith('vm.') && kind !== 'vm.resized' && (key === 'from' || key === 'to');
}

/** `v` without host keys, deeply (arrays and plain objects; other values as they are). */
export function hideHosts(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(hideHosts);
  if (v === null || typeof v !== 'object' || Object.getPrototypeOf(v) !== Object.prototype) return v;
  const o = v as Record<string, unknown>;
  const kind = typeof o.kind === 'string' ? o.kind : undefined;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(o)) {
    if (HOST_KEYS.has(k)) continue;
    if (kind !== undefined && k === 'detail' && x && typeof x === 'object' && !Array.isArray(x)) {
      const d: Record<string, unknown> = {};
      for (const [dk, dx] of Object.entries(x)) if (!hostDetail(kind, dk)) d[dk] = dx;
      out[k] = hideHosts(d);
    } else out[k] = hideHosts(x);
  }
  return out;
}

/** What a member reads in place of a host's URL, address, name or id in a message. */
export const A_HOST = 'a host';

/** Keys whose strings are free text from the backend (an agent's or QEMU's message, a reason). */
const TEXT_KEYS = new Set(['error', 'message', 'reason', 'note', 'explanation']);

/** Any URL (`http://10.0.0.5:7070/v1/guests`, `qemu+ssh://...`). */
const URL_RE = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi;
/** IPv4 addresses with an optional port. */
const IPV4_RE = /(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?(?![\w.]*\d)/g;
/** IPv6 addresses: eight groups, or a compressed form with `::` (times like 12:30:45 are left alone). */
const IPV6_RE =
  /\[?(?<![\w:])(?:(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}|(?:[0-9a-f]{1,4}:){0,6}[0-9a-f]{0,4}::(?:[0-9a-f]{1,4}:){0,6}[0-9a-f]{0,4})(?![\w:])\]?(?::\d{1,5})?/gi;

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A host as the redactor knows it: its id, name and the addresses it is reached at. */
export interface HostWords {
  id: string;
  name: string;
  /** Agent URL and underlay address of the host, when known. */
  agent_url?: string | null;
  underlay_ip?: string | null;
}

/** The bare addresses (IP or DNS name) a host is reached at: its agent URL's host and its underlay IP. */
function hostAddresses(h: HostWords): string[] {
  const out: string[] = [];
  if (h.underlay_ip) out.push(h.underlay_ip);
  if (h.agent_url)
    try {
      out.push(new URL(h.agent_url).hostname.replace(/^\[|\]$/g, ''));
    } catch {
      // not a URL: nothing to add
    }
  return out;
}

/**
 * A function that takes hosts out of a backend message: every URL, and the names, ids and
 * addresses (agent URL host, underlay IP, with an optional port) of `hosts`, become "a host".
 * With `anyAddress` (backend text: an agent's, QEMU's or the OS's message, whose addresses may be
 * hosts' the records do not know, such as a migration stream's) every IP address goes too; without
 * it (the control plane's own 4xx messages) other addresses stay: a tenant's own subnets, fixed and
 * floating IPs are theirs to read. Longer words are tried first (`h-10` before `h-1`).
 * @example redactor([{ id: 'h-1', name: 'rack1-a', underlay_ip: '10.0.0.5' }], { anyAddress: false })('rack1-a (10.0.0.5:4444) cannot reach 10.20.0.0/24') // 'a host (a host) cannot reach 10.20.0.0/24'
 */
export function redactor(
  hosts: readonly HostWords[],
  { anyAddress = true }: { anyAddress?: boolean } = {},
): (text: string) => string {
  const words = [...new Set(hosts.flatMap((h) => [h.id, h.name]).filter((w) => w.length >= 2))].sort(
    (a, b) => b.length - a.length,
  );
  const names = words.length
    ? new RegExp(`(?<![\\w.-])(?:${words.map(escape).join('|')})(?![\\w-])`, 'g')
    : null;
  const addrs = [...new Set(hosts.flatMap(hostAddresses).filter((w) => w.length >= 2))].sort(
    (a, b) => b.length - a.length,
  );
  const addresses = addrs.length
    ? new RegExp(`\\[?(?<![\\w.:])(?:${addrs.map(escape).join('|')})\\]?(?::\\d{1,5})?(?![\\w.:]*\\d)`, 'gi')
    : null;
  return (text) => {
    let t = text.replace(URL_RE, A_HOST);
    if (anyAddress) t = t.replace(IPV6_RE, A_HOST).replace(IPV4_RE, A_HOST);
    if (addresses) t = t.replace(addresses, A_HOST);
    if (names) t = t.replace(names, A_HOST);
    return t;
  };
}

/**
 * `v` with every free-text string (an `error`, `message`, `reason`, `note`, and every string in an
 * event's `detail`) passed through `redact`, deeply; other values as they are.
 */
export function redactText(v: unknown, redact: (s: string) => string, inText = false): unknown {
  if (typeof v === 'string') return inText ? redact(v) : v;
  if (Array.isArray(v)) return v.map((x) => redactText(x, redact, inText));
  if (v === null || typeof v !== 'object' || Object.getPrototypeOf(v) !== Object.prototype) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v))
    out[k] = redactText(x, redact, inText || TEXT_KEYS.has(k) || k === 'detail');
  return out;
}

/** Whether `v` holds a free-text string that `redactText` would look at (so hosts need loading). */
export function hasText(v: unknown, inText = false): boolean {
  if (typeof v === 'string') return inText;
  if (Array.isArray(v)) return v.some((x) => hasText(x, inText));
  if (v === null || typeof v !== 'object' || Object.getPrototypeOf(v) !== Object.prototype) return false;
  return Object.entries(v).some(([k, x]) => hasText(x, inText || TEXT_KEYS.has(k) || k === 'detail'));
}

/** Rejections counted per filter (`{ CapacityFilter: 3 }`): why, without which host. */
export function countByFilter(rejected: readonly Rejection[] | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rejected ?? []) out[r.filter] = (out[r.filter] ?? 0) + 1;
  return out;
}

const counts = (c: Record<string, number>) =>
  Object.entries(c)
    .map(([f, n]) => `${f} ${n}`)
    .join(', ');

/** What a member is told about a VM that needs room: "8 vCPUs / 16 GiB in zone z". */
function need(d: Record<string, unknown> | undefined): string {
  const r = d?.request as { vcpus?: number; memoryMiB?: number; zone?: string | null } | undefined;
  if (!r?.vcpus) return 'this VM';
  const gib = Math.round(((r.memoryMiB ?? 0) / 1024) * 10) / 10;
  return `${r.vcpus} vCPUs / ${gib} GiB${r.zone ? ` in zone ${r.zone}` : ''}`;
}

/**
 * A placement dry-run as a member sees it: whether it fits and why not, counted per filter; no
 * `hostId` (no host is named): `fits` says whether one would take it.
 */
export function memberDecision(
  d: PlacementDecision,
  want: { vcpus: number; memoryMiB: number; zone?: string },
) {
  const byFilter = countByFilter(d.rejected);
  const fits = d.hostId !== null;
  const total = d.ranked.length + d.rejected.length;
  return {
    fits,
    explanation: fits
      ? `a host has room for ${need({ request: want })} (${d.ranked.length} of ${total} suitable)`
      : `no host has room for ${need({ request: want })}${total ? ` (${counts(byFilter)})` : ''}`,
    ranked: [],
    rejected: [],
    rejectedByFilter: byFilter,
  };
}

/**
 * A placement error as a member or reader sees it (NO_HOST_FITS, CONSTRAINT_VIOLATED): the same
 * code, a message without host names, and the rejections counted per filter. Other errors unchanged.
 */
export function memberError(e: ControlError): ControlError {
  // A volume's placement names no host: its message is already in volume words, for everyone.
  if (e.code === 'NO_HOST_FITS' && e.details?.volume)
    return new ControlError('NO_HOST_FITS', e.message, { volume: e.details.volume });
  if (e.code === 'NO_HOST_FITS') {
    const byFilter = countByFilter(e.details?.rejected as Rejection[] | undefined);
    const why = Object.keys(byFilter).length ? ` (${counts(byFilter)})` : '';
    return new ControlError(
      'NO_HOST_FITS',
      `No host has room for ${need(e.details)} now${why}; try again later, with a smaller flavor, or ask an operator`,
      { rejectedByFilter: byFilter },
    );
  }
  if (e.code === 'CONSTRAINT_VIOLATED') {
    const c = e.details?.constraint as { name?: string } | undefined;
    return new ControlError(
      'CONSTRAINT_VIOLATED',
      `A placement constraint${c?.name ? ` (${c.name})` : ''} forbids this move`,
      { ...(c ? { constraint: c } : {}), ...(e.details?.vms ? { vms: e.details.vms } : {}) },
    );
  }
  return e;
}
