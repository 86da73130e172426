/**
 * Nova's server list, detail list, show, update and delete, over nubis's VM reads and actions
 * (https://docs.openstack.org/api-ref/compute/#servers-servers).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ControlError } from '../../../control/errors.ts';
import type { VmRow } from '../../../control/compute/vm-reads.ts';
import { OsError, type OsDeps } from '../frame.ts';
import { checkAccessIp, checkServerName } from './server-create.ts';
import {
  findServer,
  isAdmin,
  refuseIfLocked,
  serverBundle,
  serverCaller,
  showServer,
} from './server-common.ts';
import { loadServers, serverDetail, serverState, serverUpdateView, novaLinks } from './server-view.ts';

type Query = Record<string, string | string[] | undefined>;
const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v.at(-1) : v);
const truthy = (v: string | undefined) => v !== undefined && !/^(0|false|no|off)$/i.test(v);

/** How long a delete waits for the VM's running operation (its build) to end before refusing. */
const DELETE_WAIT_MS = 60_000;

/** The servers the caller lists, newest first, filtered as Nova's query asks. */
async function listRows(
  deps: OsDeps,
  req: FastifyRequest,
  rows: { admin: boolean; p: Parameters<typeof deps.cp.vmReads.listVms>[0] },
) {
  const q = req.query as Query;
  const allTenants = rows.admin && truthy(one(q.all_tenants));
  const tenant = allTenants ? (one(q.tenant_id) ?? one(q.project_id)) : rows.p.tenantId;
  const seen = await deps.cp.vmReads.listVms(rows.p, rows.admin ? { tenant } : {});
  if (!seen.length) return [];
  const ids = seen.map((v) => v.id);
  const all: VmRow[] = [];
  for (let i = 0; i < ids.length; i += 500)
    all.push(
      ...(await deps.cp.db
        .selectFrom('vms')
        .selectAll()
        .where('id', 'in', ids.slice(i, i + 500))
        .execute()),
    );
  let list = await loadServers(deps.cp, all);
  const name = one(q.name);
  if (name) {
    let re: RegExp;
    try {
      re = new RegExp(name);
    } catch {
      re = new RegExp(name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    }
    list = list.filter((b) => re.test(b.vm.name));
  }
  const status = one(q.status)?.toUpperCase();
  if (status) list = list.filter((b) => serverState(b).status === status);
  const image = one(q.image)?.split('/').at(-1);
  if (image) list = list.filter((b) => b.vm.image_id === image);
  const flavor = one(q.flavor)?.split('/').at(-1);
  if (flavor) list = list.filter((b) => b.vm.flavor_id === flavor);
  // `host` is an admin's filter (Nova ignores it for others).
  const host = rows.admin ? one(q.host) : undefined;
  if (host) list = list.filter((b) => b.host?.name === host);
  const ip = one(q.ip);
  if (ip) {
    const re = new RegExp(ip.replace(/[*+?^${}()|[\]\\]/g, '\\$&'));
    list = list.filter((b) => b.nics.some((n) => re.test(n.ip)));
  }
  const since = one(q['changes-since']);
  if (since) {
    const t = Date.parse(since);
    // ISO 8601 only, as oslo's parse_isotime (`2011/01/01` is 400).
    if (
      Number.isNaN(t) ||
      !/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/.test(since)
    )
      throw new OsError(400, `Invalid changes-since value: ${since}`);
    list = list.filter((b) => Date.parse(b.vm.updated_at) >= t);
  }
  list.sort((a, b) =>
    a.vm.created_at === b.vm.created_at
      ? b.vm.id.localeCompare(a.vm.id)
      : b.vm.created_at.localeCompare(a.vm.created_at),
  );
  const marker = one(q.marker);
  if (marker) {
    const at = list.findIndex((b) => b.vm.id === marker);
    if (at < 0) throw new OsError(400, `marker [${marker}] not found`);
    list = list.slice(at + 1);
  }
  const limitRaw = one(q.limit);
  let limit: number | undefined;
  if (limitRaw !== undefined) {
    limit = Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 0) throw new OsError(400, `Invalid limit: ${limitRaw}`);
  }
  const page = limit === undefined ? list : list.slice(0, limit);
  const more = limit !== undefined && limit > 0 && list.length > limit;
  return { page, more, limit, q };
}

/** Register the list, detail list, show, update and delete of servers. */
export function registerServerCrud(s: FastifyInstance, deps: OsDeps): void {
  const { cp } = deps;
  for (const detail of [false, true])
    s.get(detail ? '/v2.1/servers/detail' : '/v2.1/servers', async (req) => {
      const { p, view } = await serverCaller(deps, req);
      const r = await listRows(deps, req, { p, admin: isAdmin(p) });
      if (Array.isArray(r)) return { servers: [] };
      const servers = r.page.map((b) =>
        detail
          ? serverDetail(b, view)
          : { id: b.vm.id, name: b.vm.name, links: novaLinks(view.base, 'servers', b.vm.id) },
      );
      if (!r.more) return { servers };
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(r.q))
        if (k !== 'marker' && v !== undefined) for (const x of [v].flat()) params.append(k, x);
      params.set('marker', r.page.at(-1)!.vm.id);
      const path = detail ? 'servers/detail' : 'servers';
      return {
        servers,
        servers_links: [{ rel: 'next', href: `${view.base}/compute/v2.1/${path}?${params}` }],
      };
    });

  s.get('/v2.1/servers/:id', async (req) => {
    const { p, view } = await serverCaller(deps, req);
    return showServer(cp, p, view, (req.params as { id: string }).id);
  });

  s.put('/v2.1/servers/:id', async (req) => {
    const { p, view } = await serverCaller(deps, req);
    const id = (req.params as { id: string }).id;
    await findServer(cp, p, id);
    const body = (req.body as { server?: Record<string, unknown> } | undefined)?.server;
    if (!body || typeof body !== 'object' || Array.isArray(body))
      throw new OsError(400, 'The request body needs a "server" object');
    const allowed = ['name', 'accessIPv4', 'accessIPv6', ...(view.minor >= 19 ? ['description'] : [])];
    for (const k of Object.keys(body))
      if (!allowed.includes(k))
        throw new OsError(400, `Additional properties are not allowed ('${k}' was unexpected)`);
    if (
      body.description !== undefined &&
      body.description !== null &&
      (typeof body.description !== 'string' || body.description.length > 255)
    )
      throw new OsError(400, 'Invalid input for field/attribute description');
    const v = await cp.vmAttributes.edit(p, id, {
      name: body.name === undefined ? undefined : checkServerName(body.name),
      accessIpv4: checkAccessIp(body.accessIPv4, 4, 'accessIPv4'),
      accessIpv6: checkAccessIp(body.accessIPv6, 6, 'accessIPv6'),
      description: body.description === undefined ? undefined : (body.description as string | null),
    });
    return { server: serverUpdateView(await serverBundle(cp, v), view) };
  });

  s.delete('/v2.1/servers/:id', async (req, reply) => {
    const { p } = await serverCaller(deps, req);
    const id = (req.params as { id: string }).id;
    const v = await findServer(cp, p, id, 'vm:action');
    refuseIfLocked(p, v);
    // Nova deletes a server in any state: wait for the operation that runs on it (its build) to end.
    const until = Date.now() + DELETE_WAIT_MS;
    for (;;) {
      try {
        await cp.vmActions.vmAction(p, id, 'delete');
        break;
      } catch (e) {
        if (!(e instanceof ControlError && e.code === 'INVALID_STATE') || Date.now() > until) throw e;
        const busy = await cp.db
          .selectFrom('operations')
          .select('id')
          .where('vm_id', '=', id)
          .where('status', '=', 'running')
          .executeTakeFirst();
        const now = await cp.db.selectFrom('vms').select(['state']).where('id', '=', id).executeTakeFirst();
        if (!busy && now?.state !== 'migrating' && now?.state !== 'building') throw e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    return reply.code(204).send();
  });
}
