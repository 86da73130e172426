/**
 * Neutron's ports (https://docs.openstack.org/api-ref/network/v2/#ports), translated to nubis's ports
 * (`cp.ports`): one fixed IP at most, chosen by the caller or drawn from the subnet's allocation
 * pools; a VM's port shows `device_id` = the server's id and `device_owner: compute:<zone>`.
 */
import type { FastifyInstance } from 'fastify';
import { addressOf } from '../../../control/network/ports.ts';
import type { Principal } from '../../../control/principal.ts';
import { OsError, osPrincipal, type OsDeps } from '../frame.ts';
import {
  bool,
  byId,
  createAll,
  createBodies,
  list,
  listAnswer,
  project,
  projectOf,
  standardAttrs,
  str,
  updateBody,
  type NeutronObject,
} from './common.ts';

type PortRow = Awaited<ReturnType<OsDeps['cp']['ports']['visibleRows']>>[number];

/** The availability zone of a server whose host has none. */
export const DEFAULT_ZONE = 'nova';

/** A nubis port as a Neutron port (`subnetOf`: its network's subnet id). */
export function portView(
  r: PortRow,
  subnetOf: (networkId: string) => string | null,
): NeutronObject & { id: string } {
  const ip = addressOf(r.ip);
  const subnet = subnetOf(r.network_id);
  return {
    id: r.id,
    name: r.name,
    ...standardAttrs({
      tenantId: r.tenant_id,
      description: r.description,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      revision: r.revision_number,
    }),
    network_id: r.network_id,
    mac_address: r.mac,
    fixed_ips: ip && subnet ? [{ subnet_id: subnet, ip_address: ip }] : [],
    device_id: r.vm_id ?? r.device_id ?? '',
    device_owner: r.vm_id ? `compute:${r.vm_zone ?? r.host_zone ?? DEFAULT_ZONE}` : (r.device_owner ?? ''),
    admin_state_up: r.admin_state_up === 1,
    status: r.vm_id ? 'ACTIVE' : 'DOWN',
    security_groups: JSON.parse(r.security_groups) as string[],
    allowed_address_pairs: [],
  };
}

/** The one fixed IP a Neutron port body asks for (nubis ports have one address). @throws OsError 400 */
function fixedIpOf(o: NeutronObject, subnetId: string | null): string | undefined {
  const ips = list<{ subnet_id?: string; ip_address?: string }>(o, 'fixed_ips');
  if (!ips?.length) return undefined;
  if (ips.length > 1) throw new OsError(400, 'A nubis port has one fixed IP: give one entry in fixed_ips');
  const f = ips[0]!;
  if (f.subnet_id !== undefined && f.subnet_id !== subnetId)
    throw new OsError(400, `Invalid input: subnet ${f.subnet_id} is not on the port's network`);
  return f.ip_address;
}

/** Register /v2.0/ports. */
export function registerNeutronPorts(s: FastifyInstance, { cp }: OsDeps): void {
  const views = async (p: Principal) => {
    const [ports, nets] = await Promise.all([cp.ports.visibleRows(p), cp.networks.visibleRows(p)]);
    const subnets = new Map(nets.map((n) => [n.id, n.subnet_id]));
    return ports.map((r) => portView(r, (id) => subnets.get(id) ?? null));
  };
  const one = async (p: Principal, id: string) =>
    byId(await views(p), id, 'Port') as NeutronObject & { id: string };

  s.get('/v2.0/ports', async (req) => {
    const p = await osPrincipal(cp, req);
    return { ports: listAnswer(req, await views(p)) };
  });
  s.get<{ Params: { id: string } }>('/v2.0/ports/:id', async (req) => {
    const p = await osPrincipal(cp, req);
    return { port: project(req, await one(p, req.params.id)) };
  });
  s.post('/v2.0/ports', async (req, reply) => {
    const p = await osPrincipal(cp, req);
    const { items, bulk } = createBodies(req.body, 'port', 'ports');
    const nets = await cp.networks.visibleRows(p);
    const made = await createAll(
      items,
      async (o) => {
        const netId = str(o, 'network_id');
        if (!netId) throw new OsError(400, "Invalid input: 'network_id' is required");
        const net = byId(nets, netId, 'Network');
        const groups = list<string>(o, 'security_groups');
        return cp.ports.createPort(p, {
          network: net.id,
          fixedIp: fixedIpOf(o, net.subnet_id),
          securityGroups: groups,
          exactGroups: true,
          mac: str(o, 'mac_address'),
          name: str(o, 'name'),
          description: str(o, 'description'),
          adminStateUp: bool(o, 'admin_state_up'),
          deviceId: str(o, 'device_id'),
          deviceOwner: str(o, 'device_owner'),
          tenantId: projectOf(o),
        });
      },
      (id) => cp.ports.deletePort(p, id),
    );
    const all = await views(p);
    const out = made.map((m) => byId(all as (NeutronObject & { id: string })[], m.id, 'Port'));
    reply.code(201);
    return bulk ? { ports: out } : { port: out[0] };
  });
  s.put<{ Params: { id: string } }>('/v2.0/ports/:id', async (req) => {
    const p = await osPrincipal(cp, req);
    const port = await one(p, req.params.id);
    const o = updateBody(req.body, 'port');
    if (o.fixed_ips !== undefined) {
      const want = fixedIpOf(o, (port.fixed_ips as { subnet_id: string }[])[0]?.subnet_id ?? null);
      const have = (port.fixed_ips as { ip_address: string }[])[0]?.ip_address;
      if (want !== have)
        throw new OsError(400, "nubis does not change a port's fixed IP: create another port");
    }
    if (o.mac_address !== undefined && o.mac_address !== port.mac_address)
      throw new OsError(400, "nubis does not change a port's MAC address");
    await cp.ports.updatePort(p, port.id, {
      securityGroups: list<string>(o, 'security_groups'),
      exactGroups: true,
      name: str(o, 'name'),
      description: str(o, 'description'),
      adminStateUp: bool(o, 'admin_state_up'),
      deviceId: port.device_owner?.toString().startsWith('compute:') ? undefined : str(o, 'device_id'),
      deviceOwner: port.device_owner?.toString().startsWith('compute:') ? undefined : str(o, 'device_owner'),
    });
    return { port: await one(p, port.id) };
  });
  s.delete<{ Params: { id: string } }>('/v2.0/ports/:id', async (req, reply) => {
    const p = await osPrincipal(cp, req);
    const port = await one(p, req.params.id);
    await cp.ports.deletePort(p, port.id);
    return reply.code(204).send();
  });
}
