/**
 * A network's subnet, managed on its own (Neutron's `/subnets`): a nubis network has at most one
 * IPv4 subnet, kept on the network's row (cidr, gateway, DHCP, DNS) with its own id, name,
 * allocation pools (where ports' addresses are drawn from) and host routes. A network created
 * without a cidr gets its subnet here; deleting the subnet (no port holding an address on it)
 * leaves the network without one. A tenant's subnets may not overlap (as for `/v1/networks`).
 *
 * Uses: `cp.networks`.
 */
import { authorize } from '../authz.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import type { NetworkRow } from './networks.ts';
import { checkSubnet, defaultGateway, formatIpv4, parseCidr, parseIpv4 } from '../../core/network/ipv4.ts';

/** An allocation pool: the first and last address ports may get. */
export interface AllocationPool {
  start: string;
  end: string;
}

/** A static route handed to guests. */
export interface HostRoute {
  destination: string;
  nexthop: string;
}

/** What creating or changing a subnet takes (absent: unchanged, or the default on create). */
export interface SubnetInput {
  name?: string;
  description?: string;
  cidr?: string;
  /** null: no gateway. */
  gateway?: string | null;
  dhcp?: boolean;
  dns?: string[];
  allocationPools?: AllocationPool[];
  hostRoutes?: HostRoute[];
}

/** The pools of a subnet: the given ones checked, else the whole subnet but its gateway. */
export function subnetPools(
  cidr: string,
  gateway: string | null,
  given?: AllocationPool[],
): AllocationPool[] {
  const s = parseCidr(cidr);
  if (!s) return [];
  if (given) return given;
  const first = s.network + 1,
    last = s.broadcast - 1;
  const g = gateway === null ? null : parseIpv4(gateway);
  if (g === null || g < first || g > last) return [{ start: formatIpv4(first), end: formatIpv4(last) }];
  return [
    ...(g > first ? [{ start: formatIpv4(first), end: formatIpv4(g - 1) }] : []),
    ...(g < last ? [{ start: formatIpv4(g + 1), end: formatIpv4(last) }] : []),
  ];
}

/** An external network's floating IP range (`FIRST-LAST`): its subnet's first allocation pool (null: none). */
export function firstPool(n: Pick<NetworkRow, 'cidr' | 'gateway_ip' | 'allocation_pools'>): string | null {
  const given = n.allocation_pools ? (JSON.parse(n.allocation_pools) as AllocationPool[]) : undefined;
  const p = subnetPools(n.cidr, n.gateway_ip, given)[0];
  return p ? `${p.start}-${p.end}` : null;
}

/** What is wrong with a subnet's pools, DNS servers and routes ([] when valid). */
export function checkSubnetParts(
  cidr: string,
  gateway: string | null,
  o: Pick<SubnetInput, 'dns' | 'allocationPools' | 'hostRoutes'>,
): string[] {
  const bad: string[] = [];
  const s = parseCidr(cidr)!;
  for (const d of o.dns ?? []) if (parseIpv4(d) === null) bad.push(`dns "${d}" is not an IPv4 address`);
  const g = gateway === null ? null : parseIpv4(gateway);
  const seen: [number, number][] = [];
  for (const p of o.allocationPools ?? []) {
    const a = parseIpv4(p.start),
      b = parseIpv4(p.end);
    if (a === null || b === null || a > b || a <= s.network || b >= s.broadcast) {
      bad.push(`allocation pool ${p.start}-${p.end} is not a range of host addresses of ${cidr}`);
      continue;
    }
    if (g !== null && g >= a && g <= b)
      bad.push(`gateway ${gateway} is inside allocation pool ${p.start}-${p.end}`);
    if (seen.some(([x, y]) => a <= y && x <= b))
      bad.push(`allocation pool ${p.start}-${p.end} overlaps another`);
    seen.push([a, b]);
  }
  for (const r of o.hostRoutes ?? [])
    if (!parseCidr(r.destination) || parseIpv4(r.nexthop) === null)
      bad.push(`host route ${r.destination} via ${r.nexthop} is not an IPv4 CIDR and address`);
  return bad;
}

export class Subnets extends Service {
  /** Give a network (the caller's) its subnet. */
  async createSubnet(p: Principal, networkRef: string, o: SubnetInput & { cidr: string }) {
    const n = await this.cp.networks.find(this.db, p, networkRef, 'network:write');
    if (n.kind === 'external') authorize(p, 'network:external');
    if (n.subnet_id)
      throw new ControlError(
        'BAD_REQUEST',
        `Network "${n.name}" already has subnet ${n.cidr}: a nubis network has one subnet (create another network)`,
      );
    const gateway = o.gateway === undefined ? (parseCidr(o.cidr) ? defaultGateway(o.cidr) : null) : o.gateway;
    const bad = checkSubnet(o.cidr, gateway);
    if (!bad.length) bad.push(...checkSubnetParts(o.cidr, gateway, o));
    if (bad.length) throw new ControlError('BAD_REQUEST', bad.join('; '), { problems: bad });
    const id = this.ctx.ids.uuid(),
      at = this.now();
    await this.db.transaction().execute(async (trx) => {
      const clash = await this.cp.networks.overlapping(trx, n.tenant_id, n.kind, o.cidr, n.id);
      if (clash)
        throw new ControlError(
          'BAD_REQUEST',
          `Invalid input for operation: requested subnet with cidr: ${o.cidr} for network: ${n.id} overlaps with another subnet (${clash.cidr} of network "${clash.name}")`,
        );
      const r = await trx
        .updateTable('networks')
        .set({
          cidr: o.cidr,
          gateway_ip: gateway,
          dhcp: o.dhcp === false ? 0 : 1,
          dns: JSON.stringify(o.dns ?? []),
          subnet_id: id,
          subnet_name: o.name ?? '',
          subnet_description: o.description ?? '',
          allocation_pools: o.allocationPools ? JSON.stringify(o.allocationPools) : null,
          host_routes: JSON.stringify(o.hostRoutes ?? []),
          // An external network made bare (Neutron's way) gets its floating IP range with its subnet.
          ...(n.kind === 'external' &&
            !n.pool && {
              pool: firstPool({
                cidr: o.cidr,
                gateway_ip: gateway,
                allocation_pools: o.allocationPools ? JSON.stringify(o.allocationPools) : null,
              }),
            }),
          subnet_revision: 0,
          subnet_created_at: at,
          subnet_updated_at: at,
        })
        .where('id', '=', n.id)
        .where('subnet_id', 'is', null)
        .executeTakeFirst();
      if (!Number(r.numUpdatedRows))
        throw new ControlError('INVALID_STATE', `Network "${n.name}" got a subnet meanwhile`);
      await this.event(trx, {
        tenantId: n.tenant_id,
        actor: p.userName,
        kind: 'subnet.created',
        detail: { network: n.id, subnet: id, cidr: o.cidr },
      });
    });
    return this.find(p, id);
  }

  /** Change a subnet's name, description, gateway, DHCP, DNS servers, pools or routes (not its cidr). */
  async updateSubnet(p: Principal, id: string, o: SubnetInput) {
    const n = await this.findFor(p, id, 'network:write');
    if (o.cidr !== undefined && o.cidr !== n.cidr)
      throw new ControlError('BAD_REQUEST', "A subnet's cidr cannot be changed");
    const gateway = o.gateway === undefined ? n.gateway_ip : o.gateway;
    const parts = {
      dns: o.dns,
      hostRoutes: o.hostRoutes,
      allocationPools:
        o.allocationPools ??
        (n.allocation_pools ? (JSON.parse(n.allocation_pools) as AllocationPool[]) : undefined),
    };
    const bad = [...checkSubnet(n.cidr, gateway), ...checkSubnetParts(n.cidr, gateway, parts)];
    if (bad.length) throw new ControlError('BAD_REQUEST', bad.join('; '), { problems: bad });
    if (gateway !== null && gateway !== n.gateway_ip) {
      const holder = await this.db
        .selectFrom('ports')
        .select('id')
        .where('network_id', '=', n.id)
        .where('ip', '=', gateway)
        .executeTakeFirst();
      if (holder)
        throw new ControlError('INVALID_STATE', `Gateway ${gateway} is the address of port ${holder.id}`);
    }
    await this.db
      .updateTable('networks')
      .set({
        ...(o.name !== undefined && { subnet_name: o.name }),
        ...(o.description !== undefined && { subnet_description: o.description }),
        ...(o.dhcp !== undefined && { dhcp: o.dhcp ? 1 : 0 }),
        ...(o.dns !== undefined && { dns: JSON.stringify(o.dns) }),
        ...(o.hostRoutes !== undefined && { host_routes: JSON.stringify(o.hostRoutes) }),
        ...(o.allocationPools !== undefined && { allocation_pools: JSON.stringify(o.allocationPools) }),
        gateway_ip: gateway,
        subnet_revision: n.subnet_revision + 1,
        subnet_updated_at: this.now(),
      })
      .where('id', '=', n.id)
      .execute();
    await this.cp.networkPush.pushTenant(n.tenant_id);
    return this.find(p, id);
  }

  /** Remove a network's subnet (no port may hold an address on it). */
  async deleteSubnet(p: Principal, id: string) {
    const n = await this.findFor(p, id, 'network:write');
    await this.db.transaction().execute(async (trx) => {
      const holders = await trx.selectFrom('ports').select('ip').where('network_id', '=', n.id).execute();
      const used = holders.filter((h) => parseIpv4(h.ip) !== null);
      const fips = await trx.selectFrom('floating_ips').select('id').where('network_id', '=', n.id).execute();
      if (used.length || fips.length)
        throw new ControlError(
          'INVALID_STATE',
          `Unable to complete operation on subnet ${id}: one or more ports or floating IPs have an IP allocation from this subnet (${used.length + fips.length})`,
        );
      await trx
        .updateTable('networks')
        .set({
          cidr: '',
          gateway_ip: null,
          subnet_id: null,
          subnet_name: '',
          subnet_description: '',
          allocation_pools: null,
          host_routes: '[]',
          dns: '[]',
          ...(n.kind === 'external' && { pool: null }),
          subnet_created_at: null,
          subnet_updated_at: null,
        })
        .where('id', '=', n.id)
        .execute();
      await this.event(trx, {
        tenantId: n.tenant_id,
        actor: p.userName,
        kind: 'subnet.deleted',
        detail: { network: n.id, subnet: id },
      });
    });
  }

  /** The network row holding subnet `id` (as the caller may see it). */
  async find(p: Principal, id: string): Promise<NetworkRow> {
    return this.findFor(p, id, 'network:read');
  }

  private async findFor(p: Principal, id: string, op: 'network:read' | 'network:write'): Promise<NetworkRow> {
    const row = await this.db
      .selectFrom('networks')
      .select('id')
      .where('subnet_id', '=', id)
      .executeTakeFirst();
    if (!row) throw new ControlError('NOT_FOUND', `Subnet ${id} could not be found.`);
    try {
      return await this.cp.networks.find(this.db, p, row.id, op);
    } catch (e) {
      if (e instanceof ControlError && e.code === 'NOT_FOUND')
        throw new ControlError('NOT_FOUND', `Subnet ${id} could not be found.`);
      throw e;
    }
  }
}
