/**
 * Floating IPs: addresses a tenant allocates from an external network's pool (quota), attaches to
 * one of its ports (a VM's first port when given a VM) and detaches; the host running the VM NATs
 * it 1:1 to the port's fixed IP. Metered from allocation to release (`floating_ip_usage`), as a
 * cloud bills an address held whether or not it is attached.
 *
 * Uses: `cp.networks`, `cp.ports`, `cp.networkPush`.
 */
import { notFoundInTenant } from '../security/tenant-lookup.ts';
import { authorize, authorizeTenantObject, tenantFilter } from '../authz.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import type { Db } from '../store/open-store.ts';
import type { FloatingIpTable } from '../store/schema.ts';
import { Service } from '../service.ts';
import { checkNetworkQuota } from './network-quotas.ts';
import { allocateIp } from '../../core/network/ipam.ts';
import { parseRange } from '../../core/network/ipv4.ts';

export class FloatingIps extends Service {
  /** Allocate an address from an external network's pool (the only one when not named). */
  async allocate(p: Principal, o: { network?: string } = {}) {
    authorize(p, 'floating-ip:write');
    const id = this.ctx.ids.uuid();
    await this.db.transaction().execute(async (trx) => {
      const net = o.network
        ? await this.cp.networks.find(trx, p, o.network, 'network:read')
        : await this.onlyExternal(trx);
      if (net.kind !== 'external' || !net.pool)
        throw new ControlError(
          'BAD_REQUEST',
          `Network "${net.name}" is not an external network with a floating IP pool`,
        );
      await checkNetworkQuota(trx, p.tenantId, 'floatingIps');
      await trx.updateTable('networks').set({ vni: net.vni }).where('id', '=', net.id).execute(); // row lock
      const used = await trx
        .selectFrom('floating_ips')
        .select('ip')
        .where('network_id', '=', net.id)
        .execute();
      const range = parseRange(net.pool, net.cidr);
      if (typeof range === 'string') throw new ControlError('INVALID_STATE', range);
      const a = allocateIp({ cidr: net.cidr, gatewayIp: net.gateway_ip, used: used.map((u) => u.ip), range });
      if (!a.ok) throw new ControlError('INVALID_STATE', `External network "${net.name}": ${a.message}`);
      const at = this.now();
      await trx
        .insertInto('floating_ips')
        .values({ id, tenant_id: p.tenantId, network_id: net.id, ip: a.ip, port_id: null, created_at: at })
        .execute();
      await trx
        .insertInto('floating_ip_usage')
        .values({ floating_ip_id: id, tenant_id: p.tenantId, ip: a.ip, start_at: at, end_at: null })
        .execute();
      await this.event(trx, {
        tenantId: p.tenantId,
        actor: p.userName,
        kind: 'floating-ip.allocated',
        detail: { id, ip: a.ip },
      });
    });
    return this.get(p, id);
  }

  async list(p: Principal) {
    authorize(p, 'floating-ip:read');
    const t = tenantFilter(p, 'floating-ip:read');
    let q = this.db.selectFrom('floating_ips').selectAll().orderBy('ip').orderBy('id');
    if (t) q = q.where('tenant_id', '=', t);
    return Promise.all((await q.execute()).map((f) => this.view(f)));
  }

  /** A floating IP by id or by address (in the caller's tenant). */
  async get(p: Principal, ref: string) {
    return this.view(await this.find(p, ref, 'floating-ip:read'));
  }

  /** Attach to a port of the caller's, or to a VM's first port. */
  async attach(p: Principal, ref: string, o: { vm?: string; port?: string }) {
    const f = await this.find(p, ref, 'floating-ip:write');
    if ((o.vm === undefined) === (o.port === undefined))
      throw new ControlError('BAD_REQUEST', 'Give exactly one of vm (a VM name or id) and port (a port id)');
    let portId: string;
    if (o.port !== undefined) portId = (await this.cp.ports.find(this.db, p, o.port, 'port:write', true)).id;
    else {
      const vm = await this.db
        .selectFrom('vms')
        .select('id')
        .where((eb) => eb.or([eb('id', '=', o.vm!), eb('name', '=', o.vm!)]))
        .where('tenant_id', '=', f.tenant_id)
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
      if (!vm) throw await notFoundInTenant(this.db, p, 'vm:read', 'vm', o.vm!, `No VM "${o.vm}"`);
      const port = await this.db
        .selectFrom('ports')
        .select('id')
        .where('vm_id', '=', vm.id)
        .orderBy('slot')
        .executeTakeFirst();
      if (!port)
        throw new ControlError('INVALID_STATE', `VM "${o.vm}" has no port: create it with --network`);
      portId = port.id;
    }
    const taken = await this.db
      .selectFrom('floating_ips')
      .select('ip')
      .where('port_id', '=', portId)
      .where('id', '!=', f.id)
      .executeTakeFirst();
    if (taken)
      throw new ControlError(
        'INVALID_STATE',
        `That port already has floating IP ${taken.ip}; detach it first`,
      );
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('floating_ips').set({ port_id: portId }).where('id', '=', f.id).execute();
      await this.event(trx, {
        tenantId: f.tenant_id,
        actor: p.userName,
        kind: 'floating-ip.attached',
        detail: { ip: f.ip, port: portId },
      });
    });
    await this.pushAround([f.port_id, portId]);
    return this.get(p, f.id);
  }

  async detach(p: Principal, ref: string) {
    const f = await this.find(p, ref, 'floating-ip:write');
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('floating_ips').set({ port_id: null }).where('id', '=', f.id).execute();
      await this.event(trx, {
        tenantId: f.tenant_id,
        actor: p.userName,
        kind: 'floating-ip.detached',
        detail: { ip: f.ip },
      });
    });
    await this.pushAround([f.port_id]);
    return this.get(p, f.id);
  }

  /** Release the address to the pool (detaching it first); its metered interval ends. */
  async release(p: Principal, ref: string) {
    const f = await this.find(p, ref, 'floating-ip:write');
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('floating_ips').where('id', '=', f.id).execute();
      await trx
        .updateTable('floating_ip_usage')
        .set({ end_at: this.now() })
        .where('floating_ip_id', '=', f.id)
        .where('end_at', 'is', null)
        .execute();
      await this.event(trx, {
        tenantId: f.tenant_id,
        actor: p.userName,
        kind: 'floating-ip.released',
        detail: { ip: f.ip },
      });
    });
    await this.pushAround([f.port_id]);
  }

  /** Push the hosts of the VMs these ports belong to. */
  private async pushAround(portIds: (string | null)[]) {
    const ids = portIds.filter((x): x is string => x !== null);
    if (!ids.length) return;
    const rows = await this.db
      .selectFrom('ports')
      .select('vm_id')
      .where('id', 'in', ids)
      .where('vm_id', 'is not', null)
      .execute();
    for (const r of rows) await this.cp.networkPush.pushVmHost(r.vm_id!);
  }

  private async onlyExternal(trx: Db) {
    const nets = await trx.selectFrom('networks').selectAll().where('kind', '=', 'external').execute();
    if (nets.length !== 1)
      throw new ControlError(
        'BAD_REQUEST',
        nets.length
          ? `There are ${nets.length} external networks: name one (network)`
          : 'There is no external network: an admin creates one (POST /v1/networks with external: true)',
      );
    return nets[0]!;
  }

  private async find(
    p: Principal,
    ref: string,
    op: 'floating-ip:read' | 'floating-ip:write',
  ): Promise<FloatingIpTable> {
    authorize(p, op);
    const rows = await this.db
      .selectFrom('floating_ips')
      .selectAll()
      .where((eb) =>
        eb.or([eb('id', '=', ref), eb.and([eb('ip', '=', ref), eb('tenant_id', '=', p.tenantId)])]),
      )
      .execute();
    const f = rows.find((r) => r.id === ref) ?? rows[0];
    const msg = `No floating IP "${ref}"; see GET /v1/floating-ips`;
    if (!f) throw new ControlError('NOT_FOUND', msg);
    authorizeTenantObject(p, op, f.tenant_id, msg, { kind: 'floating IP', id: f.id });
    return f;
  }

  private async view(f: FloatingIpTable) {
    const port = f.port_id
      ? await this.db
          .selectFrom('ports')
          .select(['vm_id', 'ip'])
          .where('id', '=', f.port_id)
          .executeTakeFirst()
      : undefined;
    return {
      id: f.id,
      tenantId: f.tenant_id,
      networkId: f.network_id,
      ip: f.ip,
      portId: f.port_id,
      vmId: port?.vm_id ?? null,
      fixedIp: port?.ip ?? null,
      createdAt: f.created_at,
    };
  }
}
