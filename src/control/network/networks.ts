/**
 * Networks (one IPv4 subnet each) and the external networks the operator defines. A tenant network
 * gets a VNI unique in the whole cloud; tenants may use the same CIDRs as each other, but one
 * tenant's networks may not overlap each other (so a VM on two of them routes unambiguously). An
 * external network (admins only) holds the floating IP pool; every tenant sees its name and CIDR.
 *
 * Uses: no other service.
 */
import { authorize, authorizeTenantObject, reachesAllTenants } from '../authz.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import type { Db } from '../store/open-store.ts';
import type { NetworkTable } from '../store/schema.ts';
import { Service } from '../service.ts';
import { checkNetworkQuota } from './network-quotas.ts';
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
  cidr: string;
  gateway?: string | null;
  dhcp?: boolean;
  dns?: string[];
  mtu?: number;
  /** Admins only: an external network with a floating IP pool `FIRST-LAST`. */
  external?: boolean;
  pool?: string;
  /** The physical network it lives on: only hosts with this physnet can plumb it. */
  physnet?: string;
}

type NetworkRow = Omit<NetworkTable, never>;

export class Networks extends Service {
  /** Create a tenant network (or, admins, an external one). */
  async createNetwork(p: Principal, o: NetworkInput) {
    authorize(p, o.external ? 'network:external' : 'network:write');
    const gateway = o.gateway === undefined ? (parseCidr(o.cidr) ? defaultGateway(o.cidr) : null) : o.gateway;
    const bad = checkSubnet(o.cidr, gateway);
    for (const d of o.dns ?? []) if (parseIpv4(d) === null) bad.push(`dns "${d}" is not an IPv4 address`);
    if (o.external) {
      if (!o.pool) bad.push('an external network needs pool: FIRST-LAST (its floating IP range)');
      else if (bad.length === 0) {
        const r = parseRange(o.pool, o.cidr);
        if (typeof r === 'string') bad.push(r);
      }
    } else if (o.pool) bad.push('pool is for external networks only (external: true)');
    if (bad.length) throw new ControlError('BAD_REQUEST', bad.join('; '), { problems: bad });
    const id = this.ctx.ids.uuid();
    const subnet = parseCidr(o.cidr)!;
    await this.db.transaction().execute(async (trx) => {
      if (!o.external) await checkNetworkQuota(trx, p.tenantId, 'networks');
      const mine = await trx
        .selectFrom('networks')
        .select(['name', 'cidr'])
        .where('tenant_id', '=', p.tenantId)
        .where('kind', '=', o.external ? 'external' : 'tenant')
        .execute();
      const clash = mine.find((n) => overlaps(parseCidr(n.cidr)!, subnet));
      if (clash)
        throw new ControlError(
          'INVALID_STATE',
          `${o.cidr} overlaps ${clash.cidr} of your network "${clash.name}"; a tenant's networks may not overlap (other tenants' may)`,
        );
      const top = await trx
        .selectFrom('networks')
        .select((eb) => eb.fn.max('vni').as('vni'))
        .executeTakeFirst();
      const vni = Number(top?.vni ?? 0) + 1;
      if (vni > VNI_MAX) throw new ControlError('INVALID_STATE', 'No VXLAN network identifier left');
      await this.unique(
        () =>
          trx
            .insertInto('networks')
            .values({
              id,
              tenant_id: p.tenantId,
              name: o.name,
              kind: o.external ? 'external' : 'tenant',
              vni,
              cidr: o.cidr,
              gateway_ip: gateway,
              dhcp: o.dhcp === false ? 0 : 1,
              dns: JSON.stringify(o.dns ?? []),
              mtu: o.mtu ?? DEFAULT_MTU,
              physnet: o.physnet ?? null,
              pool: o.pool ?? null,
              created_at: this.now(),
            })
            .execute(),
        `A network named "${o.name}" already exists`,
      );
      await this.event(trx, {
        tenantId: p.tenantId,
        actor: p.userName,
        kind: 'network.created',
        detail: { id, name: o.name, cidr: o.cidr },
      });
    });
    return this.getNetwork(p, id);
  }

  /** The caller's networks, then the external ones (name and CIDR only for those it does not own). */
  async listNetworks(p: Principal) {
    authorize(p, 'network:read');
    const all = reachesAllTenants(p, 'network:read');
    let q = this.db.selectFrom('networks').selectAll().orderBy('kind', 'desc').orderBy('name').orderBy('id');
    if (!all) q = q.where((eb) => eb.or([eb('tenant_id', '=', p.tenantId), eb('kind', '=', 'external')]));
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
            eb.or([eb('tenant_id', '=', p.tenantId), eb('kind', '=', 'external')]),
          ]),
        ]),
      )
      .execute();
    const n = rows.find((r) => r.id === ref) ?? rows.find((r) => r.tenant_id === p.tenantId) ?? rows[0];
    const msg = `No network "${ref}"; see GET /v1/networks`;
    if (!n) throw new ControlError('NOT_FOUND', msg);
    const object = { kind: 'network', id: n.id };
    if (!(n.kind === 'external' && op === 'network:read'))
      authorizeTenantObject(p, op, n.tenant_id, msg, object);
    else if (own) authorizeTenantObject(p, 'network:write', n.tenant_id, msg, object);
    if (own && n.tenant_id !== p.tenantId) throw new ControlError('NOT_FOUND', msg);
    return n;
  }

  /** What a caller sees of a network: everything of its own, name and CIDR of another's external one. */
  private view(p: Principal, n: NetworkRow) {
    if (n.tenant_id !== p.tenantId && !reachesAllTenants(p, 'network:read'))
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
      createdAt: n.created_at,
    };
  }
}
