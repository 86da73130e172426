/**
 * Networks (one IPv4 subnet each) and the external networks the operator defines. A tenant network
 * gets a VNI unique in the whole cloud; tenants may use the same CIDRs as each other, but one
 * tenant's networks may not overlap each other (so a VM on two of them routes unambiguously). An
 * external network (admins only) holds the floating IP pool; every tenant sees its name and CIDR.
 *
 * Uses: no other service.
 */
import type { Selectable } from 'kysely';
import { authorize, authorizeTenantObject, reachesAllTenants } from '../authz.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import type { Db } from '../store/open-store.ts';
import type { NetworkTable } from '../store/schema.ts';
import { Service } from '../service.ts';
import { checkNetworkQuota } from './network-quotas.ts';
import { firstPool } from './subnets.ts';
import {
  checkSubnet,
  defaultGateway,
  overlaps,
  parseCidr,
  parseIpv4,
  parseRange,
} from '../../core/network/ipv4.ts';

/** VXLAN network identifiers are 24 bits (RFC 7348); 0 is not used. */
export const VNI_MAX = 16777215;
/** Default MTU handed to guests: 1500 on the underlay minus VXLAN's 50 bytes. */
export const DEFAULT_MTU = 1450;

/** What creating a network takes. */
export interface NetworkInput {
  name: string;
  /** Its subnet (none: a network without a subnet yet, see `cp.subnets`). */
  cidr?: string;
  gateway?: string | null;
  dhcp?: boolean;
  dns?: string[];
  mtu?: number;
  /** Admins only: an external network with a floating IP pool `FIRST-LAST`. */
  external?: boolean;
  pool?: string;
  /** The physical network it lives on: only hosts with this physnet can plumb it. */
  physnet?: string;
  /** Admins only: every tenant sees it and may put ports on it. */
  shared?: boolean;
  description?: string;
  adminStateUp?: boolean;
  /** Admins only: the tenant it is created for (default: the caller's). */
  tenantId?: string;
}

/** What changing a network takes (Neutron's updatable attributes). */
export interface NetworkUpdate {
  name?: string;
  description?: string;
  adminStateUp?: boolean;
  /** Admins only. */
  shared?: boolean;
  /** Admins only: make a network without ports external (its subnet's first pool its floating IPs) or not. */
  external?: boolean;
}

/** A network's row as read. */
export type NetworkRow = Selectable<NetworkTable>;

export class Networks extends Service {
  /** Create a tenant network (or, admins, an external or shared one). */
  async createNetwork(p: Principal, o: NetworkInput) {
    authorize(p, o.external || o.shared ? 'network:external' : 'network:write');
    const tenantId = this.ownerFor(p, o.tenantId);
    const cidr = o.cidr ?? '';
    const gateway = o.gateway === undefined ? (parseCidr(cidr) ? defaultGateway(cidr) : null) : o.gateway;
    const bad = o.cidr === undefined ? [] : checkSubnet(cidr, gateway);
    for (const d of o.dns ?? []) if (parseIpv4(d) === null) bad.push(`dns "${d}" is not an IPv4 address`);
    if (o.external) {
      // Neutron makes an external network bare and adds its subnet later: the pool comes with the subnet.
      if (!o.pool) {
        if (o.cidr !== undefined)
          bad.push('an external network needs pool: FIRST-LAST (its floating IP range)');
      } else if (bad.length === 0) {
        const r = parseRange(o.pool, cidr);
        if (typeof r === 'string') bad.push(r);
      }
    } else if (o.pool) bad.push('pool is for external networks only (external: true)');
    if (bad.length) throw new ControlError('BAD_REQUEST', bad.join('; '), { problems: bad });
    const id = this.ctx.ids.uuid();
    const subnet = parseCidr(cidr);
    await this.db.transaction().execute(async (trx) => {
      if (!o.external) await checkNetworkQuota(trx, tenantId, 'networks');
      if (subnet) {
        const clash = await this.overlapping(trx, tenantId, o.external ? 'external' : 'tenant', cidr);
        if (clash)
          throw new ControlError(
            'INVALID_STATE',
            `${cidr} overlaps ${clash.cidr} of your network "${clash.name}"; a tenant's networks may not overlap (other tenants' may)`,
          );
      }
      const top = await trx
        .selectFrom('networks')
        .select((eb) => eb.fn.max('vni').as('vni'))
        .executeTakeFirst();
      const vni = Number(top?.vni ?? 0) + 1;
      if (vni > VNI_MAX) throw new ControlError('INVALID_STATE', 'No VXLAN network identifier left');
      const at = this.now();
      await this.unique(
        () =>
          trx
            .insertInto('networks')
            .values({
              id,
              tenant_id: tenantId,
              name: o.name,
              kind: o.external ? 'external' : 'tenant',
              vni,
              cidr,
              gateway_ip: gateway,
              dhcp: o.dhcp === false ? 0 : 1,
              dns: JSON.stringify(o.dns ?? []),
              mtu: o.mtu ?? DEFAULT_MTU,
              physnet: o.physnet ?? null,
              pool: o.pool ?? null,
              created_at: at,
              shared: o.shared ? 1 : 0,
              description: o.description ?? '',
              admin_state_up: o.adminStateUp === false ? 0 : 1,
              updated_at: at,
              subnet_id: subnet ? this.ctx.ids.uuid() : null,
              subnet_created_at: subnet ? at : null,
              subnet_updated_at: subnet ? at : null,
            })
            .execute(),
        `A network named "${o.name}" already exists`,
      );
      await this.event(trx, {
        tenantId,
        actor: p.userName,
        kind: 'network.created',
        detail: { id, name: o.name, cidr },
      });
    });
    return this.getNetwork(p, id);
  }

  /** Change a network's name, description, admin state or (admins) sharing. */
  async updateNetwork(p: Principal, ref: string, o: NetworkUpdate) {
    const n = await this.find(this.db, p, ref, 'network:write');
    if (o.shared !== undefined || o.external !== undefined || n.kind === 'external')
      authorize(p, 'network:external');
    const kind = o.external === undefined ? n.kind : o.external ? 'external' : 'tenant';
    if (kind !== n.kind) await this.checkKindChange(n);
    if (o.shared === false && n.shared) {
      const others = await this.db
        .selectFrom('ports')
        .select('id')
        .where('network_id', '=', n.id)
        .where('tenant_id', '!=', n.tenant_id)
        .execute();
      if (others.length)
        throw new ControlError(
          'INVALID_STATE',
          `Network "${n.name}" has ${others.length} port(s) of other tenants; it stays shared`,
        );
    }
    await this.db.transaction().execute(async (trx) => {
      await this.unique(
        () =>
          trx
            .updateTable('networks')
            .set({
              ...(o.name !== undefined && { name: o.name }),
              ...(o.description !== undefined && { description: o.description }),
              ...(o.adminStateUp !== undefined && { admin_state_up: o.adminStateUp ? 1 : 0 }),
              ...(o.shared !== undefined && { shared: o.shared ? 1 : 0 }),
              ...(kind !== n.kind && { kind, pool: kind === 'external' ? firstPool(n) : null }),
              revision_number: n.revision_number + 1,
              updated_at: this.now(),
            })
            .where('id', '=', n.id)
            .execute(),
        `A network named "${o.name}" already exists`,
      );
      await this.event(trx, {
        tenantId: n.tenant_id,
        actor: p.userName,
        kind: 'network.updated',
        detail: { id: n.id, ...o },
      });
    });
    return this.getNetwork(p, n.id);
  }

  /** A network turns external or back only with no ports and no floating IPs. @throws ControlError */
  private async checkKindChange(n: NetworkRow) {
    const ports = await this.db.selectFrom('ports').select('id').where('network_id', '=', n.id).execute();
    const fips = await this.db
      .selectFrom('floating_ips')
      .select('id')
      .where('network_id', '=', n.id)
      .execute();
    if (ports.length || fips.length)
      throw new ControlError(
        'INVALID_STATE',
        `Network "${n.name}" has ${ports.length} port(s) and ${fips.length} floating IP(s): it keeps its kind`,
      );
  }

  /** The rows of the networks a caller sees: its own, the shared and external ones (admins: all). */
  async visibleRows(p: Principal): Promise<NetworkRow[]> {
    authorize(p, 'network:read');
    let q = this.db.selectFrom('networks').selectAll().orderBy('created_at').orderBy('id');
    if (!reachesAllTenants(p, 'network:read'))
      q = q.where((eb) =>
        eb.or([eb('tenant_id', '=', p.tenantId), eb('kind', '=', 'external'), eb('shared', '=', 1)]),
      );
    return q.execute();
  }

  /** A network of the tenant (of `kind`) whose subnet overlaps `cidr` (not `except`), if any. */
  async overlapping(db: Db, tenantId: string, kind: string, cidr: string, except?: string) {
    const s = parseCidr(cidr)!;
    const mine = await db
      .selectFrom('networks')
      .select(['id', 'name', 'cidr'])
      .where('tenant_id', '=', tenantId)
      .where('kind', '=', kind)
      .where('cidr', '!=', '')
      .execute();
    return mine.find((n) => n.id !== except && overlaps(parseCidr(n.cidr)!, s));
  }

  /** The tenant an object is created for: the caller's, or (admins reaching all tenants) the one named. */
  ownerFor(p: Principal, tenantId: string | undefined): string {
    if (!tenantId || tenantId === p.tenantId) return p.tenantId;
    if (!reachesAllTenants(p, 'network:write'))
      throw new ControlError('FORBIDDEN', 'Only admins create objects for another project');
    return tenantId;
  }

  /** The caller's networks, then the external ones (name and CIDR only for those it does not own). */
  async listNetworks(p: Principal) {
    authorize(p, 'network:read');
    const all = reachesAllTenants(p, 'network:read');
    let q = this.db.selectFrom('networks').selectAll().orderBy('kind', 'desc').orderBy('name').orderBy('id');
    if (!all)
      q = q.where((eb) =>
        eb.or([eb('tenant_id', '=', p.tenantId), eb('kind', '=', 'external'), eb('shared', '=', 1)]),
      );
    const rows = await q.execute();
    return rows.map((n) => this.view(p, n));
  }

  /** A network by id, or by name among the caller's and the external ones. */
  async getNetwork(p: Principal, ref: string) {
    const n = await this.find(this.db, p, ref, 'network:read');
    const view = this.view(p, n);
    if (!('vni' in view)) return view;
    const ports = await this.db
      .selectFrom('ports')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('network_id', '=', n.id)
      .executeTakeFirstOrThrow();
    return { ...view, ports: Number(ports.n) };
  }

  /** Delete a network with no ports and (external) no floating IPs. */
  async deleteNetwork(p: Principal, ref: string) {
    const n = await this.find(this.db, p, ref, 'network:write');
    if (n.kind === 'external') authorize(p, 'network:external');
    await this.db.transaction().execute(async (trx) => {
      const ports = await trx.selectFrom('ports').select('id').where('network_id', '=', n.id).execute();
      const fips = await trx.selectFrom('floating_ips').select('id').where('network_id', '=', n.id).execute();
      if (ports.length || fips.length)
        throw new ControlError(
          'INVALID_STATE',
          `Network "${n.name}" still has ${ports.length} port(s) and ${fips.length} floating IP(s); delete them first`,
        );
      await trx.deleteFrom('networks').where('id', '=', n.id).execute();
      await this.event(trx, {
        tenantId: n.tenant_id,
        actor: p.userName,
        kind: 'network.deleted',
        detail: { id: n.id, name: n.name },
      });
    });
  }

  /**
   * A network row by id or name. Another tenant's network is NOT_FOUND; an external network is
   * readable by everyone but writable by admins only. `own`: the caller's tenant's network only
   * (what ports may be put on).
   */
  async find(
    db: Db,
    p: Principal,
    ref: string,
    op: 'network:read' | 'network:write',
    own = false,
  ): Promise<NetworkRow> {
    authorize(p, op);
    const rows = await db
      .selectFrom('networks')
      .selectAll()
      .where((eb) =>
        eb.or([
          eb('id', '=', ref),
          eb.and([
            eb('name', '=', ref),
            eb.or([eb('tenant_id', '=', p.tenantId), eb('kind', '=', 'external'), eb('shared', '=', 1)]),
          ]),
        ]),
      )
      .execute();
    const n = rows.find((r) => r.id === ref) ?? rows.find((r) => r.tenant_id === p.tenantId) ?? rows[0];
    const msg = `No network "${ref}"; see GET /v1/networks`;
    if (!n) throw new ControlError('NOT_FOUND', msg);
    const object = { kind: 'network', id: n.id };
    // A shared network: everyone reads it and puts ports on it (`own`); only its owner (or an admin) changes it.
    if (n.shared && op === 'network:read') return n;
    if (!(n.kind === 'external' && op === 'network:read'))
      authorizeTenantObject(p, op, n.tenant_id, msg, object);
    else if (own) authorizeTenantObject(p, 'network:write', n.tenant_id, msg, object);
    if (own && n.tenant_id !== p.tenantId) throw new ControlError('NOT_FOUND', msg);
    return n;
  }

  /** What a caller sees of a network: everything of its own, name and CIDR of another's external one. */
  private view(p: Principal, n: NetworkRow) {
    if (n.tenant_id !== p.tenantId && !n.shared && !reachesAllTenants(p, 'network:read'))
      return { id: n.id, name: n.name, kind: n.kind, cidr: n.cidr, external: true };
    return {
      id: n.id,
      tenantId: n.tenant_id,
      name: n.name,
      kind: n.kind,
      external: n.kind === 'external',
      vni: n.vni,
      cidr: n.cidr,
      gateway: n.gateway_ip,
      dhcp: n.dhcp === 1,
      dns: JSON.parse(n.dns) as string[],
      mtu: n.mtu,
      physnet: n.physnet,
      pool: n.pool,
      shared: n.shared === 1,
      createdAt: n.created_at,
    };
  }
}
