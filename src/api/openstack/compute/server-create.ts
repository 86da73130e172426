/**
 * `POST /v2.1/servers`: Nova's create body translated to nubis's `createVm` (its quota, scheduler,
 * ports and operation), answered 202 once the VM is recorded (BUILD) while its guest is built
 * (https://docs.openstack.org/api-ref/compute/#create-server).
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { ControlError } from '../../../control/errors.ts';
import type { Principal } from '../../../control/principal.ts';
import { OsError, type OsDeps } from '../frame.ts';
import { backgroundLog, serverCaller } from './server-common.ts';
import { novaLinks } from './server-view.ts';

type Obj = Record<string, unknown>;

const bad = (m: string) => new OsError(400, `Invalid input for field/attribute ${m}`);

/** The last path segment of a reference given as an id or a URL (`flavorRef`, `imageRef`). */
function refId(v: unknown, field: string): string {
  if (typeof v === 'number' && Number.isInteger(v)) return String(v);
  if (typeof v !== 'string' || !v.trim()) throw bad(`${field}: a non-empty id or URL is required`);
  const id = v.trim().replace(/\/+$/, '').split('/').at(-1)!;
  if (!id || id.length > 200) throw bad(`${field}: "${v}" is not an id`);
  return id;
}

function optString(s: Obj, k: string, max = 255): string | undefined {
  const v = s[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > max) throw bad(`${k}: a string of at most ${max} characters`);
  return v;
}

/** Nova's metadata: an object of at most 128 string → string items, keys 1–255 characters. */
export function checkMetadata(v: unknown, field = 'metadata'): Record<string, string> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad(`${field}: an object is required`);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Obj)) {
    if (!k || k.length > 255) throw bad(`${field}: keys are 1 to 255 characters`);
    if (typeof x !== 'string' || x.length > 255) throw bad(`${field}: "${k}" needs a string of at most 255`);
    out[k] = x;
  }
  return out;
}

/** An access IP of the given version, or "" (Nova accepts an empty one); IPv6 in its RFC 5952 form. */
export function checkAccessIp(v: unknown, version: 4 | 6, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || (v !== '' && isIP(v) !== version))
    throw bad(`${field}: "${String(v)}" is not an IPv${version} address`);
  return version === 6 && v ? canonicalIpv6(v) : v;
}

/** An IPv6 address as RFC 5952 writes it (lower case, no leading zeros, the longest zero run as `::`). */
export function canonicalIpv6(ip: string): string {
  let s = ip.toLowerCase();
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    s = s.slice(0, v4.index) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [
    ...h,
    ...Array<string>(tail === undefined ? 0 : 8 - h.length - t.length).fill('0'),
    ...t,
  ].map((g) => parseInt(g, 16).toString(16));
  let best = -1,
    len = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > len && j - i >= 2) [best, len] = [i, j - i];
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + len).join(':')}`;
}

/** A server name: 1–255 characters without leading or trailing spaces. */
export function checkServerName(v: unknown): string {
  if (typeof v !== 'string' || !v.length || v.length > 255 || v.trim() !== v)
    throw bad('name: 1 to 255 characters, no leading or trailing spaces');
  return v;
}

/**
 * How many servers one create asks for: `min_count` and `max_count`, positive integers (1 when absent),
 * min ≤ max (https://docs.openstack.org/api-ref/compute/#create-server).
 */
export function serverCount(s: Obj): { min: number; max: number } {
  const one = (k: 'min_count' | 'max_count') => {
    const v = s[k];
    if (v === undefined || v === null) return undefined;
    const n = typeof v === 'string' && /^[0-9]+$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 1000)
      throw bad(`${k}: a positive integer`);
    return n;
  };
  const min = one('min_count');
  const max = one('max_count');
  if (min !== undefined && max !== undefined && min > max) throw bad('min_count: not more than max_count');
  return { min: min ?? 1, max: max ?? min ?? 1 };
}

/**
 * Nova's schema of `block_device_mapping_v2` entries (source and destination types): a wrong one is 400.
 * nubis boots from its image and attaches volumes after (`os-volume_attachments`), so valid entries
 * change nothing (https://docs.openstack.org/api-ref/compute/#create-server).
 */
export function checkBlockDeviceMappings(v: unknown): void {
  if (v === undefined || v === null) return;
  if (!Array.isArray(v)) throw bad('block_device_mapping_v2: a list');
  for (const m of v as Obj[]) {
    if (!m || typeof m !== 'object' || Array.isArray(m))
      throw bad('block_device_mapping_v2: a list of objects');
    if (
      m.source_type !== undefined &&
      !['volume', 'image', 'snapshot', 'blank'].includes(m.source_type as string)
    )
      throw bad('block_device_mapping_v2.source_type: volume, image, snapshot or blank');
    if (m.destination_type !== undefined && !['local', 'volume'].includes(m.destination_type as string))
      throw bad('block_device_mapping_v2.destination_type: local or volume');
  }
}

/** The networks a server goes on when the request names none: the only one the project may use (its own or shared). */
async function defaultNetworks(deps: OsDeps, p: Principal): Promise<string[]> {
  const nets = await deps.cp.db
    .selectFrom('networks')
    .select(['id'])
    .where((eb) => eb.or([eb('tenant_id', '=', p.tenantId), eb('shared', '=', 1)]))
    .where('kind', '!=', 'external')
    .execute();
  if (nets.length > 1)
    throw new OsError(409, 'Multiple possible networks found, use a Network ID to be more specific.');
  return nets.map((n) => n.id);
}

/** The create's options for `createVm`, from Nova's body. @throws OsError 400 on a wrong value. */
async function createOptions(deps: OsDeps, p: Principal, s: Obj, top: Obj = {}) {
  const name = checkServerName(s.name);
  const flavor = refId(s.flavorRef, 'flavorRef');
  const image = refId(s.imageRef, 'imageRef');
  const count = serverCount(s);
  checkBlockDeviceMappings(s.block_device_mapping_v2);
  const networks: string[] = [];
  const ports: string[] = [];
  if (s.networks !== undefined && s.networks !== null) {
    if (!Array.isArray(s.networks)) throw bad('networks: a list of {"uuid"} or {"port"}');
    for (const n of s.networks as Obj[]) {
      if (!n || typeof n !== 'object') throw bad('networks: a list of {"uuid"} or {"port"}');
      if (n.fixed_ip !== undefined && n.fixed_ip !== null) throw bad('networks: fixed_ip is not supported');
      if (typeof n.port === 'string' && n.port) ports.push(n.port);
      else if (typeof n.uuid === 'string' && n.uuid) networks.push(n.uuid);
      else throw bad('networks: each needs "uuid" or "port"');
    }
    if (ports.length && count.max > 1) throw bad('networks: a port goes to one server (max_count 1)');
  } else networks.push(...(await defaultNetworks(deps, p)));
  let securityGroups: string[] | undefined;
  if (s.security_groups !== undefined && s.security_groups !== null) {
    if (!Array.isArray(s.security_groups)) throw bad('security_groups: a list of {"name"}');
    securityGroups = (s.security_groups as Obj[]).map((g) => {
      if (!g || typeof g.name !== 'string' || !g.name) throw bad('security_groups: each needs "name"');
      return g.name;
    });
  }
  let userData: string | undefined;
  if (s.user_data !== undefined && s.user_data !== null) {
    if (typeof s.user_data !== 'string' || !/^[A-Za-z0-9+/=\s]*$/.test(s.user_data))
      throw bad('user_data: base64 text is required');
    userData = Buffer.from(s.user_data, 'base64').toString('utf8');
    if (userData.length > 65536) throw bad('user_data: at most 64 KiB');
  }
  // Nova's hints are beside "server" in the body (older clients put them inside).
  const hints = (top['os:scheduler_hints'] ?? s['os:scheduler_hints']) as Obj | undefined;
  const group = hints && typeof hints === 'object' ? hints.group : undefined;
  if (group !== undefined && typeof group !== 'string')
    throw bad('os:scheduler_hints.group: a server group id');
  const diskConfig = s['OS-DCF:diskConfig'];
  if (diskConfig !== undefined && diskConfig !== 'AUTO' && diskConfig !== 'MANUAL')
    throw bad('OS-DCF:diskConfig: AUTO or MANUAL');
  const adminPass = s.adminPass === undefined || s.adminPass === null ? undefined : s.adminPass;
  if (adminPass !== undefined && typeof adminPass !== 'string') throw bad('adminPass: a string');
  const metadata = s.metadata === undefined || s.metadata === null ? undefined : checkMetadata(s.metadata);
  const zone = optString(s, 'availability_zone');
  if (zone && zone !== 'nova') {
    const known = await deps.cp.db
      .selectFrom('hosts')
      .select('id')
      .where('zone', '=', zone)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (!known) throw new OsError(400, `The requested availability zone is not available: ${zone}`);
  }
  return {
    adminPass: adminPass ?? randomBytes(9).toString('base64url'),
    securityGroups,
    count,
    o: {
      name,
      flavor,
      image,
      networks,
      ports,
      securityGroups,
      key: optString(s, 'key_name'),
      userData,
      zone: zone && zone !== 'nova' ? zone : undefined,
      serverGroup: group,
      attrs: {
        ...(metadata ? { metadata: JSON.stringify(metadata) } : {}),
        description: optString(s, 'description') ?? null,
        access_ipv4: checkAccessIp(s.accessIPv4, 4, 'accessIPv4') ?? '',
        access_ipv6: checkAccessIp(s.accessIPv6, 6, 'accessIPv6') ?? '',
        disk_config: (diskConfig as string | undefined) ?? 'MANUAL',
      },
    },
  };
}

/** Register `POST /v2.1/servers`. */
export function registerServerCreate(s: FastifyInstance, deps: OsDeps): void {
  s.post('/v2.1/servers', async (req, reply) => {
    const { p, view } = await serverCaller(deps, req);
    const body = req.body as Obj | undefined;
    const server = body?.server as Obj | undefined;
    if (!server || typeof server !== 'object' || Array.isArray(server))
      throw new OsError(400, 'The request body needs a "server" object');
    const { adminPass, securityGroups, count, o } = await createOptions(deps, p, server, body ?? {});
    const log = backgroundLog(deps);
    // Nova creates max_count servers named NAME-1, NAME-2... when it can, at least min_count (else
    // the request fails): one nubis createVm each (its quota and scheduler, a server group's policy).
    const ids: string[] = [];
    for (let i = 1; i <= count.max; i++) {
      const name = count.max > 1 ? `${o.name}-${i}` : o.name;
      try {
        ids.push(await createOne(deps, p, { ...o, name }, log));
      } catch (e) {
        if (i <= count.min) throw e;
        break;
      }
    }
    const vmId = ids[0]!;
    reply.code(202);
    if (server.return_reservation_id === true || server.return_reservation_id === 'True')
      return { reservation_id: `r-${vmId.slice(0, 8)}` };
    return {
      server: {
        id: vmId,
        links: novaLinks(view.base, 'servers', vmId),
        'OS-DCF:diskConfig': o.attrs.disk_config,
        security_groups: (securityGroups ?? ['default']).map((name) => ({ name })),
        adminPass,
      },
    };
  });
}

/** Create one server; resolves with its id once nubis has recorded it (its guest is built after). */
async function createOne(
  deps: OsDeps,
  p: Principal,
  o: Awaited<ReturnType<typeof createOptions>>['o'],
  log: (e: unknown) => void,
): Promise<string> {
  const { cp } = deps;
  // Answered once the VM is recorded; its guest is built after (the client polls for ACTIVE).
  let recorded = false;
  return new Promise<string>((resolve, reject) => {
    cp.vmCreate
      .createVm(p, {
        ...o,
        onRecorded: (id) => {
          recorded = true;
          resolve(id);
        },
      })
      .then(async (op) => {
        if (op.status === 'succeeded') await cp.vmAttributes.launched(op.vmId, op.finishedAt);
      })
      .catch((e: unknown) => {
        if (recorded) log(e);
        else reject(e);
      });
  }).catch((e: unknown) => {
    // Every reference of the request is looked up in the caller's project: one that is not found is bad input.
    if (e instanceof ControlError && e.code === 'NOT_FOUND') throw new OsError(400, e.message);
    if (e instanceof ControlError && e.code === 'INVALID_STATE' && /[Ii]mage/.test(e.message))
      throw new OsError(400, e.message);
    throw e;
  });
}
