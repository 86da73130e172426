/**
 * Neutron's networks and subnets (https://docs.openstack.org/api-ref/network/v2/#networks, #subnets),
 * translated to nubis's networks (`cp.networks`: one IPv4 subnet at most, `cp.subnets`).
 */
import type { FastifyInstance } from 'fastify';
import type { NetworkRow } from '../../../control/network/networks.ts';
import { subnetPools, type AllocationPool, type HostRoute } from '../../../control/network/subnets.ts';
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

/** A nubis network as a Neutron network. */
export function networkView(n: NetworkRow): NeutronObject {
  return {
    id: n.id,
    name: n.name,
    ...standardAttrs({
      tenantId: n.tenant_id,
      description: n.description,
      createdAt: n.created_at,
      updatedAt: n.updated_at,
      revision: n.revision_number,
    }),
    admin_state_up: n.admin_state_up === 1,
    status: 'ACTIVE',
    subnets: n.subnet_id ? [n.subnet_id] : [],
    shared: n.shared === 1,
    'router:external': n.kind === 'external',
    mtu: n.mtu,
    port_security_enabled: true,
  };
}

/** A nubis network's subnet as a Neutron subnet (the network must have one). */
export function subnetView(n: NetworkRow): NeutronObject {
  return {
    id: n.subnet_id,
    name: n.subnet_name,
    ...standardAttrs({
      tenantId: n.tenant_id,
      description: n.subnet_description,
      createdAt: n.subnet_created_at ?? n.created_at,
      updatedAt: n.subnet_updated_at,
      revision: n.subnet_revision,
    }),
    network_id: n.id,
    cidr: n.cidr,
    ip_version: 4,
    gateway_ip: n.gateway_ip,
    enable_dhcp: n.dhcp === 1,
    allocation_pools: subnetPools(
      n.cidr,
      n.gateway_ip,
      n.allocation_pools ? (JSON.parse(n.allocation_pools) as AllocationPool[]) : undefined,
    ),
    dns_nameservers: JSON.parse(n.dns) as string[],
    host_routes: JSON.parse(n.host_routes) as HostRoute[],
    ipv6_ra_mode: null,
    ipv6_address_mode: null,
    subnetpool_id: null,
  };
}

/** A subnet's attributes from a Neutron body. @throws OsError 400 */
function subnetInput(o: NeutronObject) {
  const v = o.ip_version;
  if (v !== undefined && v !== 4 && v !== '4')
    throw new OsError(400, `Invalid input for ip_version: nubis subnets are IPv4 (got ${String(v)})`);
  const gw = o.gateway_ip;
  if (gw !== undefined && gw !== null && typeof gw !== 'string')
    throw new OsError(
      400,
      `Invalid input for gateway_ip. Reason: '${String(gw)}' is not a valid IP address.`,
    );
  return {
    name: str(o, 'name'),
    description: str(o, 'description'),
    cidr: str(o, 'cidr'),
    gateway: gw === undefined ? undefined : ((gw as string | null) ?? null),
    dhcp: bool(o, 'enable_dhcp'),
    dns: list<string>(o, 'dns_nameservers'),
    allocationPools: list<AllocationPool>(o, 'allocation_pools'),
    hostRoutes: list<HostRoute>(o, 'host_routes'),
  };
}

/** Register /v2.0/networks and /v2.0/subnets. */
export function registerNeutronNetworks(s: FastifyInstance, { cp }: OsDeps): void {
  const rowsOf = (p: Principal) => cp.networks.visibleRows(p);
  const network = async (p: Principal, id: string) => byId(await rowsOf(p), id, 'Network');
  const subnetRow = async (p: Principal, id: string) => {
    const n = (await rowsOf(p)).find((r) => r.subnet_id === id);
    if (!n) throw new OsError(404, `Subnet ${id} could not be found.`);
    return n;
  };

  s.get('/v2.0/networks', async (req) => {
    const p = await osPrincipal(cp, req);
    return { networks: listAnswer(req, (await rowsOf(p)).map(networkView)) };
  });
  s.get<{ Params: { id: string } }>('/v2.0/networks/:id', async (req) => {
    const p = await osPrincipal(cp, req);
    return { network: project(req, networkView(await network(p, req.params.id))) };
  });
  s.post('/v2.0/networks', async (req, reply) => {
    const p = await osPrincipal(cp, req);
    const { items, bulk } = createBodies(req.body, 'network', 'networks');
    const made = await createAll(
      items,
      async (o) => {
        const name = str(o, 'name') ?? '';
        const mtu = o.mtu;
        if (mtu !== undefined && !(Number.isInteger(mtu) && (mtu as number) >= 68 && (mtu as number) <= 9000))
          throw new OsError(400, `Invalid input for mtu: ${String(mtu)}`);
        return cp.networks.createNetwork(p, {
          name,
          shared: bool(o, 'shared'),
          external: bool(o, 'router:external') || undefined,
          description: str(o, 'description'),
          adminStateUp: bool(o, 'admin_state_up'),
          mtu: mtu as number | undefined,
          tenantId: projectOf(o),
        });
      },
      (id) => cp.networks.deleteNetwork(p, id),
    );
    const rows = await rowsOf(p);
    const views = made.map((m) => networkView(byId(rows, m.id, 'Network')));
    reply.code(201);
    return bulk ? { networks: views } : { network: views[0] };
  });
  s.put<{ Params: { id: string } }>('/v2.0/networks/:id', async (req) => {
    const p = await osPrincipal(cp, req);
    const n = await network(p, req.params.id);
    const o = updateBody(req.body, 'network');
    await cp.networks.updateNetwork(p, n.id, {
      name: str(o, 'name'),
      description: str(o, 'description'),
      adminStateUp: bool(o, 'admin_state_up'),
      shared: bool(o, 'shared'),
      external: bool(o, 'router:external'),
    });
    return { network: networkView(await network(p, n.id)) };
  });
  s.delete<{ Params: { id: string } }>('/v2.0/networks/:id', async (req, reply) => {
    const p = await osPrincipal(cp, req);
    const n = await network(p, req.params.id);
    await cp.networks.deleteNetwork(p, n.id);
    return reply.code(204).send();
  });

  s.get('/v2.0/subnets', async (req) => {
    const p = await osPrincipal(cp, req);
    const rows = (await rowsOf(p)).filter((n) => n.subnet_id);
    return { subnets: listAnswer(req, rows.map(subnetView)) };
  });
  s.get<{ Params: { id: string } }>('/v2.0/subnets/:id', async (req) => {
    const p = await osPrincipal(cp, req);
    return { subnet: project(req, subnetView(await subnetRow(p, req.params.id))) };
  });
  s.post('/v2.0/subnets', async (req, reply) => {
    const p = await osPrincipal(cp, req);
    const { items, bulk } = createBodies(req.body, 'subnet', 'subnets');
    const made = await createAll(
      items,
      async (o) => {
        const netId = str(o, 'network_id');
        if (!netId) throw new OsError(400, "Invalid input: 'network_id' is required");
        const input = subnetInput(o);
        if (!input.cidr)
          throw new OsError(400, "Invalid input: 'cidr' is required (nubis has no subnet pools)");
        const n = await network(p, netId);
        const row = await cp.subnets.createSubnet(p, n.id, { ...input, cidr: input.cidr });
        return { id: row.subnet_id! };
      },
      (id) => cp.subnets.deleteSubnet(p, id),
    );
    const views = await Promise.all(made.map(async (m) => subnetView(await subnetRow(p, m.id))));
    reply.code(201);
    return bulk ? { subnets: views } : { subnet: views[0] };
  });
  s.put<{ Params: { id: string } }>('/v2.0/subnets/:id', async (req) => {
    const p = await osPrincipal(cp, req);
    const n = await subnetRow(p, req.params.id);
    await cp.subnets.updateSubnet(p, n.subnet_id!, subnetInput(updateBody(req.body, 'subnet')));
    return { subnet: subnetView(await subnetRow(p, n.subnet_id!)) };
  });
  s.delete<{ Params: { id: string } }>('/v2.0/subnets/:id', async (req, reply) => {
    const p = await osPrincipal(cp, req);
    const n = await subnetRow(p, req.params.id);
    await cp.subnets.deleteSubnet(p, n.subnet_id!);
    return reply.code(204).send();
  });
}
