/**
 * Ports: a VM's attachment to a network, with a MAC (Neutron's `fa:16:3e` prefix, random bytes from
 * the injected id source), one fixed IP from IPAM and its security groups. Created implicitly by
 * `vm create --network` (deleted with the VM) or explicitly (POST /v1/ports, then `vm create --port`;
 * released, not deleted, with the VM). Fixed IPs are unique per network (a unique index), and the
 * network's row is locked while one is picked, so concurrent creates never get the same address.
 *
 * Uses: `cp.networks`, `cp.securityGroups`, `cp.networkPush`.
 */
import type { Selectable } from 'kysely';
import { authorize, authorizeTenantObject, reachesAllTenants, tenantFilter } from '../authz.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import type { Db } from '../store/open-store.ts';
import type { NetworkTable, PortTable } from '../store/schema.ts';
import { Service } from '../service.ts';
import { checkNetworkQuota } from './network-quotas.ts';
import { allocateIp, type IpAllocation } from '../../core/network/ipam.ts';
import { parseIpv4 } from '../../core/network/ipv4.ts';
import type { AllocationPool } from './subnets.ts';
import { macFromUuid } from '../../core/network/mac.ts';
import { tapName } from '../../core/network/host-network.ts';

/** A port's row as read. */
export type PortRow = Selectable<PortTable>;

/** What a port takes. */
export interface PortInput {
  network: string;
  fixedIp?: string;
  /** Its groups (none given: `default`; `[]` with `exactGroups`: none at all). */
  securityGroups?: string[];
  exactGroups?: boolean;
  /** A MAC of the caller's choosing (default: Neutron's prefix and random bytes). */
  mac?: string;
  name?: string;
  description?: string;
  adminStateUp?: boolean;
  /** What holds a port no VM holds (Neutron's device_id and device_owner, as given). */
  deviceId?: string;
  deviceOwner?: string;
  /** Admins only: the tenant it is created for (default: the caller's, or the network's). */
  tenantId?: string;
}

/** What changing a port takes (absent: unchanged). */
export interface PortUpdate {
  securityGroups?: string[];
  name?: string;
  description?: string;
  adminStateUp?: boolean;
  deviceId?: string;
  deviceOwner?: string;
}

/** The address stored for a port without one (its network has no subnet): unique per port, never an IP. */
export function noAddress(portId: string): string {
  return `none:${portId}`;
}

/** A port's address, or null for a port without one. */
export function addressOf(ip: string): string | null {
  return ip.startsWith('none:') ? null : ip;
}

/** A MAC address as Neutron takes it (six hex pairs, unicast). */
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

export class Ports extends Service {
  /**
   * Create a port (not attached to a VM) on one of the caller's networks; an admin reaching all
   * tenants may use any network (the port is then the network's tenant's), as Neutron's admin does.
   */
  async createPort(p: Principal, o: PortInput) {
    authorize(p, 'port:write');
    const own = !reachesAllTenants(p, 'port:write');
    const id = await this.db.transaction().execute(async (trx) => {
      const net = await this.cp.networks.find(trx, p, o.network, own ? 'network:read' : 'network:write', own);
      if (net.kind === 'external')
        throw new ControlError(
          'BAD_REQUEST',
          `"${o.network}" is an external network: attach a floating IP instead`,
        );
      return (await this.allocate(trx, p, net, { ...o, vmId: null, implicit: false, slot: 0 })).id;
    });
    return this.getPort(p, id);
  }

  /**
   * The ports of a new VM, in its transaction: one per network (in order), then the given
   * explicit ports (which must be free and the caller's). Returns the port ids in NIC order.
   */
  async forNewVm(
    trx: Db,
    p: Principal,
    vmId: string,
    o: { networks?: string[]; ports?: string[]; securityGroups?: string[] },
  ): Promise<string[]> {
    const ids: string[] = [];
    let slot = 0;
    for (const ref of o.networks ?? []) {
      const net = await this.cp.networks.find(trx, p, ref, 'network:read', true);
      if (net.kind === 'external')
        throw new ControlError(
          'BAD_REQUEST',
          `"${ref}" is an external network: attach a floating IP instead`,
        );
      ids.push(
        (
          await this.allocate(trx, p, net, {
            network: ref,
            securityGroups: o.securityGroups,
            vmId,
            implicit: true,
            slot: slot++,
          })
        ).id,
      );
    }
    for (const ref of o.ports ?? []) {
      const port = await this.find(trx, p, ref, 'port:write', true);
      if (port.vm_id)
        throw new ControlError('INVALID_STATE', `Port "${ref}" is already attached to VM ${port.vm_id}`);
      const set: { vm_id: string; slot: number; security_groups?: string } = { vm_id: vmId, slot: slot++ };
      if (o.securityGroups?.length)
        set.security_groups = JSON.stringify(
          await this.cp.securityGroups.resolve(trx, p, p.tenantId, o.securityGroups),
        );
      await trx.updateTable('ports').set(set).where('id', '=', port.id).where('vm_id', 'is', null).execute();
      ids.push(port.id);
    }
    return ids;
  }

  /** The ids of the networks a new VM's `networks` and `ports` put it on (the caller's own; NOT_FOUND otherwise). */
  async networksOf(p: Principal, o: { networks?: string[]; ports?: string[] }): Promise<string[]> {
    const ids: string[] = [];
    for (const ref of o.networks ?? [])
      ids.push((await this.cp.networks.find(this.db, p, ref, 'network:read', true)).id);
    for (const ref of o.ports ?? [])
      ids.push((await this.find(this.db, p, ref, 'port:write', true)).network_id);
    return ids;
  }

  /** When a VM is deleted: its implicit ports go (their IPs freed, floating IPs detached), explicit ones are released. */
  async releaseVm(trx: Db, vmId: string): Promise<void> {
    const ports = await trx
      .selectFrom('ports')
      .select(['id', 'implicit'])
      .where('vm_id', '=', vmId)
      .execute();
    const gone = ports.filter((x) => x.implicit === 1).map((x) => x.id);
    if (gone.length) {
      await trx.updateTable('floating_ips').set({ port_id: null }).where('port_id', 'in', gone).execute();
      await trx.deleteFrom('ports').where('id', 'in', gone).execute();
    }
    await trx.updateTable('ports').set({ vm_id: null }).where('vm_id', '=', vmId).execute();
  }

  /** The guest NICs of a VM (for its guest spec), in slot order. */
  async nicsOf(db: Db, vmId: string) {
    const rows = await db
      .selectFrom('ports')
      .select(['id', 'mac'])
      .where('vm_id', '=', vmId)
      .orderBy('slot')
      .orderBy('id')
      .execute();
    return rows.map((r) => ({ portId: r.id, mac: r.mac, tap: tapName(r.id) }));
  }

  async listPorts(p: Principal, o: { vm?: string; network?: string } = {}) {
    authorize(p, 'port:read');
    const t = tenantFilter(p, 'port:read');
    let q = this.db.selectFrom('ports').selectAll().orderBy('created_at').orderBy('id');
    if (t) q = q.where('tenant_id', '=', t);
    if (o.vm) q = q.where('vm_id', '=', o.vm);
    if (o.network) q = q.where('network_id', '=', o.network);
    const rows = await q.execute();
    return Promise.all(rows.map((r) => this.view(r as PortRow)));
  }

  /**
   * The rows of the ports a caller sees (admins: every tenant's), with the zone of the VM holding
   * each (what Neutron's `device_owner: compute:<zone>` says).
   */
  async visibleRows(p: Principal) {
    authorize(p, 'port:read');
    const t = tenantFilter(p, 'port:read');
    let q = this.db
      .selectFrom('ports')
      .leftJoin('vms', 'vms.id', 'ports.vm_id')
      .leftJoin('hosts', 'hosts.id', 'vms.host_id')
      .selectAll('ports')
      .select(['vms.zone as vm_zone', 'hosts.zone as host_zone'])
      .orderBy('ports.created_at')
      .orderBy('ports.id');
    if (t) q = q.where('ports.tenant_id', '=', t);
    return q.execute();
  }

  async getPort(p: Principal, ref: string) {
    return this.view(await this.find(this.db, p, ref, 'port:read'));
  }

  /** Change a port's security groups (the hosts of the tenant's ports get the new rules), name, description, admin state or device. */
  async updatePort(p: Principal, ref: string, o: PortUpdate & { exactGroups?: boolean }) {
    const port = await this.find(this.db, p, ref, 'port:write');
    await this.db.transaction().execute(async (trx) => {
      const ids =
        o.securityGroups === undefined
          ? undefined
          : o.exactGroups && o.securityGroups.length === 0
            ? []
            : await this.cp.securityGroups.resolve(trx, p, port.tenant_id, o.securityGroups);
      await trx
        .updateTable('ports')
        .set({
          ...(ids && { security_groups: JSON.stringify(ids) }),
          ...(o.name !== undefined && { name: o.name }),
          ...(o.description !== undefined && { description: o.description }),
          ...(o.adminStateUp !== undefined && { admin_state_up: o.adminStateUp ? 1 : 0 }),
          ...(o.deviceId !== undefined && { device_id: o.deviceId }),
          ...(o.deviceOwner !== undefined && { device_owner: o.deviceOwner }),
          revision_number: port.revision_number + 1,
          updated_at: this.now(),
        })
        .where('id', '=', port.id)
        .execute();
      await this.event(trx, {
        tenantId: port.tenant_id,
        vmId: port.vm_id,
        actor: p.userName,
        kind: 'port.updated',
        detail: { port: port.id, ...(ids && { securityGroups: ids }) },
      });
    });
    if (o.securityGroups !== undefined) await this.cp.networkPush.pushTenant(port.tenant_id);
    return this.getPort(p, port.id);
  }

  /** Delete a port no VM uses (its address is freed). */
  async deletePort(p: Principal, ref: string) {
    const port = await this.find(this.db, p, ref, 'port:write');
    if (port.vm_id)
      throw new ControlError(
        'INVALID_STATE',
        `Port "${ref}" is attached to VM ${port.vm_id}; delete the VM first`,
      );
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('floating_ips').set({ port_id: null }).where('port_id', '=', port.id).execute();
      await trx.deleteFrom('ports').where('id', '=', port.id).where('vm_id', 'is', null).execute();
      await this.event(trx, {
        tenantId: port.tenant_id,
        actor: p.userName,
        kind: 'port.deleted',
        detail: { port: port.id, ip: port.ip },
      });
    });
  }

  /** A port by id; another tenant's is NOT_FOUND (`own`: even for admins: what a VM may be given). */
  async find(
    db: Db,
    p: Principal,
    ref: string,
    op: 'port:read' | 'port:write',
    own = false,
  ): Promise<PortRow> {
    authorize(p, op);
    const r = await db.selectFrom('ports').selectAll().where('id', '=', ref).executeTakeFirst();
    const msg = `No port "${ref}"; see GET /v1/ports`;
    if (!r) throw new ControlError('NOT_FOUND', msg);
    authorizeTenantObject(p, op, r.tenant_id, msg, { kind: 'port', id: r.id });
    if (own && r.tenant_id !== p.tenantId) throw new ControlError('NOT_FOUND', msg);
    return r as PortRow;
  }

  /** Allocate a port's MAC and fixed IP on `net`, in the caller's transaction. */
  private async allocate(
    trx: Db,
    p: Principal,
    net: Selectable<NetworkTable>,
    o: PortInput & { vmId: string | null; implicit: boolean; slot: number },
  ) {
    // Lock the network's row first (PostgreSQL: a row lock; SQLite serializes transactions anyway).
    await trx.updateTable('networks').set({ vni: net.vni }).where('id', '=', net.id).execute();
    // A port on a shared network is the caller's; elsewhere the network's tenant's (an admin acting for it).
    const owner = net.shared ? this.cp.networks.ownerFor(p, o.tenantId) : net.tenant_id;
    await checkNetworkQuota(trx, owner, 'ports');
    const groups =
      o.exactGroups && o.securityGroups?.length === 0
        ? []
        : await this.cp.securityGroups.resolve(trx, p, owner, o.securityGroups);
    const mac = o.mac?.toLowerCase() ?? macFromUuid(this.ctx.ids.uuid());
    if (!MAC.test(mac) || (parseInt(mac.slice(0, 2), 16) & 1) === 1)
      throw new ControlError(
        'BAD_REQUEST',
        `"${o.mac}" is not a unicast MAC address (e.g. fa:16:3e:00:00:01)`,
      );
    const id = this.ctx.ids.uuid();
    const ip = await this.pickAddress(trx, net, id, o.fixedIp);
    const row = {
      id,
      tenant_id: owner,
      network_id: net.id,
      vm_id: o.vmId,
      slot: o.slot,
      implicit: o.implicit ? 1 : 0,
      mac,
      ip,
      security_groups: JSON.stringify(groups),
      created_at: this.now(),
      updated_at: this.now(),
      name: o.name ?? '',
      description: o.description ?? '',
      admin_state_up: o.adminStateUp === false ? 0 : 1,
      device_id: o.deviceId ?? null,
      device_owner: o.deviceOwner ?? null,
    };
    await this.unique(
      () => trx.insertInto('ports').values(row).execute(),
      o.mac
        ? `MAC ${mac} or address ${ip} is already in use on this network`
        : `${ip} or the MAC drawn is already in use; try again`,
    );
    await this.event(trx, {
      tenantId: owner,
      vmId: o.vmId,
      actor: p.userName,
      kind: 'port.created',
      detail: { port: id, network: net.name, ip },
    });
    return row;
  }

  /** A port's address: the one asked for, else the lowest free one of the subnet's allocation pools. */
  private async pickAddress(trx: Db, net: Selectable<NetworkTable>, portId: string, requested?: string) {
    if (!net.subnet_id) {
      if (requested !== undefined)
        throw new ControlError(
          'BAD_REQUEST',
          `Network "${net.name}" has no subnet: no address ${requested} on it`,
        );
      return noAddress(portId);
    }
    const used = (await trx.selectFrom('ports').select('ip').where('network_id', '=', net.id).execute()).map(
      (u) => u.ip,
    );
    const pools = net.allocation_pools ? (JSON.parse(net.allocation_pools) as AllocationPool[]) : [undefined];
    let a: IpAllocation | undefined;
    for (const pool of requested === undefined ? pools : [undefined]) {
      a = allocateIp({
        cidr: net.cidr,
        gatewayIp: net.gateway_ip,
        used,
        requested,
        range: pool && { first: parseIpv4(pool.start)!, last: parseIpv4(pool.end)! },
      });
      if (a.ok) return a.ip;
    }
    if (!a || !a.ok)
      throw new ControlError(
        a?.reason === 'invalid' ? 'BAD_REQUEST' : 'INVALID_STATE',
        `Network "${net.name}": ${a?.message ?? 'no allocation pool'}`,
      );
    return a.ip;
  }

  private async view(r: PortRow) {
    const fip = await this.db
      .selectFrom('floating_ips')
      .select(['id', 'ip'])
      .where('port_id', '=', r.id)
      .executeTakeFirst();
    return {
      id: r.id,
      tenantId: r.tenant_id,
      networkId: r.network_id,
      vmId: r.vm_id,
      mac: r.mac,
      fixedIps: addressOf(r.ip) ? [r.ip] : [],
      securityGroups: JSON.parse(r.security_groups) as string[],
      implicit: r.implicit === 1,
      floatingIp: fip?.ip ?? null,
      createdAt: r.created_at,
    };
  }
}
