/**
 * Ports: a VM's attachment to a network, with a MAC (Neutron's `fa:16:3e` prefix, random bytes from
 * the injected id source), one fixed IP from IPAM and its security groups. Created implicitly by
 * `vm create --network` (deleted with the VM) or explicitly (POST /v1/ports, then `vm create --port`;
 * released, not deleted, with the VM). Fixed IPs are unique per network (a unique index), and the
 * network's row is locked while one is picked, so concurrent creates never get the same address.
 *
 * Uses: `cp.networks`, `cp.securityGroups`, `cp.networkPush`.
 */
import { authorize, authorizeTenantObject, tenantFilter } from '../authz.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import type { Db } from '../store/open-store.ts';
import type { NetworkTable, PortTable } from '../store/schema.ts';
import { Service } from '../service.ts';
import { checkNetworkQuota } from './network-quotas.ts';
import { allocateIp } from '../../core/network/ipam.ts';
import { macFromUuid } from '../../core/network/mac.ts';
import { tapName } from '../../core/network/host-network.ts';

type PortRow = Omit<PortTable, 'slot'> & { slot: number };

/** What a port takes. */
export interface PortInput {
  network: string;
  fixedIp?: string;
  securityGroups?: string[];
}

export class Ports extends Service {
  /** Create a port (not attached to a VM) on one of the caller's networks. */
  async createPort(p: Principal, o: PortInput) {
    authorize(p, 'port:write');
    const id = await this.db.transaction().execute(async (trx) => {
      const net = await this.cp.networks.find(trx, p, o.network, 'network:read', true);
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

  async getPort(p: Principal, ref: string) {
    return this.view(await this.find(this.db, p, ref, 'port:read'));
  }

  /** Change a port's security groups (the hosts of the tenant's ports get the new rules). */
  async updatePort(p: Principal, ref: string, o: { securityGroups: string[] }) {
    const port = await this.find(this.db, p, ref, 'port:write');
    await this.db.transaction().execute(async (trx) => {
      const ids = await this.cp.securityGroups.resolve(trx, p, port.tenant_id, o.securityGroups);
      await trx
        .updateTable('ports')
        .set({ security_groups: JSON.stringify(ids) })
        .where('id', '=', port.id)
        .execute();
      await this.event(trx, {
        tenantId: port.tenant_id,
        vmId: port.vm_id,
        actor: p.userName,
        kind: 'port.updated',
        detail: { port: port.id, securityGroups: ids },
      });
    });
    await this.cp.networkPush.pushTenant(port.tenant_id);
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
    net: NetworkTable,
    o: PortInput & { vmId: string | null; implicit: boolean; slot: number },
  ) {
    // Lock the network's row first (PostgreSQL: a row lock; SQLite serializes transactions anyway).
    await trx.updateTable('networks').set({ vni: net.vni }).where('id', '=', net.id).execute();
    await checkNetworkQuota(trx, net.tenant_id, 'ports');
    const groups = await this.cp.securityGroups.resolve(trx, p, net.tenant_id, o.securityGroups);
    const used = await trx.selectFrom('ports').select('ip').where('network_id', '=', net.id).execute();
    const a = allocateIp({
      cidr: net.cidr,
      gatewayIp: net.gateway_ip,
      used: used.map((u) => u.ip),
      requested: o.fixedIp,
    });
    if (!a.ok)
      throw new ControlError(
        a.reason === 'invalid' ? 'BAD_REQUEST' : 'INVALID_STATE',
        `Network "${net.name}": ${a.message}`,
      );
    const id = this.ctx.ids.uuid();
    const row = {
      id,
      tenant_id: net.tenant_id,
      network_id: net.id,
      vm_id: o.vmId,
      slot: o.slot,
      implicit: o.implicit ? 1 : 0,
      mac: macFromUuid(this.ctx.ids.uuid()),
      ip: a.ip,
      security_groups: JSON.stringify(groups),
      created_at: this.now(),
    };
    await this.unique(
      () => trx.insertInto('ports').values(row).execute(),
      `${a.ip} or the MAC drawn is already in use; try again`,
    );
    await this.event(trx, {
      tenantId: net.tenant_id,
      vmId: o.vmId,
      actor: p.userName,
      kind: 'port.created',
      detail: { port: id, network: net.name, ip: a.ip },
    });
    return row;
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
      fixedIps: [r.ip],
      securityGroups: JSON.parse(r.security_groups) as string[],
      implicit: r.implicit === 1,
      floatingIp: fip?.ip ?? null,
      createdAt: r.created_at,
    };
  }
}
