/**
 * Reading VMs: one VM (tenant-scoped), its view, and the list.
 *
 * Uses: no other service.
 */
import { sql, type Selectable, type SqlBool } from 'kysely';
import { authorize, tenantFilter, type Operation } from '../authz.ts';
import { notFoundInTenant } from '../security/tenant-lookup.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import { after, decodeCursor, pageLimit, toPage, type Page, type PageRequest } from '../store/keyset.ts';
import type { VmTable } from '../store/schema.ts';
import { series } from '../telemetry/metrics.ts';
import { allowedActions, type VmAction, type VmState } from '../vm-states.ts';

export interface VmView {
  ha: boolean;
  haPriority: number;
  id: string;
  name: string;
  tenantId: string;
  state: VmState;
  flavor: string;
  image: string;
  hostId: string | null;
  hostName?: string | null;
  serverGroupId: string | null;
  createdAt: string;
  updatedAt: string;
  /** Latest measured CPU utilization of its vCPUs (0..1), or null before the first report. */
  cpu: number | null;
  allowedActions: VmAction[];
}

/** A VM as stored. */
export type VmRow = Selectable<VmTable>;

/** Reading VMs: one VM (tenant-scoped), its view, and the list. */
export class VmReads extends Service {
  /**
   * A VM the caller may perform `op` on, by id or by a name unique among the VMs the caller sees
   * (authorized first): FORBIDDEN when the role lacks the rule, NOT_FOUND when it does not exist or
   * belongs to a tenant the caller does not reach, ALREADY_EXISTS (409) listing the ids when the
   * name is ambiguous.
   */
  async vmRow(p: Principal, id: string, op: Operation = 'vm:read'): Promise<VmRow> {
    authorize(p, op);
    const q = this.db
      .selectFrom('vms')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', id), eb('name', '=', id)]))
      .where('deleted_at', 'is', null);
    const own = tenantFilter(p, op);
    const rows = await (own ? q.where('tenant_id', '=', own) : q)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    const byName = rows.filter((r) => r.id !== id);
    if (!rows.some((r) => r.id === id) && byName.length > 1)
      throw new ControlError(
        'ALREADY_EXISTS',
        `${byName.length} VMs are named "${id}": ${byName.map((r) => r.id).join(', ')}; name one by its id`,
        { ids: byName.map((r) => r.id) },
      );
    const v = rows.find((r) => r.id === id) ?? byName[0];
    // Another tenant's VM is "not found", never "forbidden": that would confirm it exists.
    if (!v) throw await notFoundInTenant(this.db, p, op, 'vm', id, `No VM "${id}"`);
    return v;
  }

  private async vmOut(v: VmRow): Promise<VmView> {
    const [f, i, h] = await Promise.all([
      this.db.selectFrom('flavors').select('name').where('id', '=', v.flavor_id).executeTakeFirst(),
      this.db.selectFrom('images').select('name').where('id', '=', v.image_id).executeTakeFirst(),
      v.host_id
        ? this.db.selectFrom('hosts').select('name').where('id', '=', v.host_id).executeTakeFirst()
        : undefined,
    ]);
    return this.vmView(v, f?.name, i?.name, h?.name);
  }

  private vmView(
    v: VmRow,
    flavor: string | undefined,
    image: string | undefined,
    host: string | null | undefined,
  ): VmView {
    return {
      ha: Number(v.ha) === 1,
      haPriority: Number(v.ha_priority),
      id: v.id,
      name: v.name,
      tenantId: v.tenant_id,
      state: v.state as VmState,
      flavor: flavor ?? v.flavor_id,
      image: image ?? v.image_id,
      hostId: v.host_id,
      hostName: host ?? null,
      serverGroupId: v.server_group_id,
      createdAt: v.created_at,
      updatedAt: v.updated_at,
      cpu: (JSON.parse(v.cpu_history) as number[])[0] ?? null,
      allowedActions: allowedActions(v.state as VmState),
    };
  }

  async getVm(p: Principal, id: string) {
    const v = await this.vmRow(p, id);
    return {
      ...(await this.vmOut(v)),
      cpuSeries: series(v.cpu_history, v.cpu_times),
      addresses: await this.addresses(v.id),
      keyName: v.key_name,
      // Attributes set through Nova's API (migration 0962).
      description: v.description ?? null,
      metadata: JSON.parse(v.metadata || '{}') as Record<string, string>,
      tags: JSON.parse(v.tags || '[]') as string[],
      locked: Number(v.locked) === 1,
    };
  }

  /** A VM's NICs: port, network, MAC, fixed IP and floating IP (in NIC order). */
  private async addresses(vmId: string) {
    const rows = await this.db
      .selectFrom('ports')
      .innerJoin('networks', 'networks.id', 'ports.network_id')
      .leftJoin('floating_ips', 'floating_ips.port_id', 'ports.id')
      .select(['ports.id', 'networks.name', 'ports.mac', 'ports.ip', 'floating_ips.ip as fip'])
      .where('ports.vm_id', '=', vmId)
      .orderBy('ports.slot')
      .orderBy('ports.id')
      .execute();
    return rows.map((r) => ({
      portId: r.id,
      network: r.name,
      mac: r.mac,
      ip: r.ip,
      floatingIp: r.fip ?? null,
    }));
  }

  /** Every VM the caller sees (all pages), in list order: see `pageVms`. */
  async listVms(p: Principal, f: VmFilters = {}) {
    const rows = await this.vmQuery(p, f, await this.tenantIdOf(f.tenant))
      .orderBy('vms.created_at')
      .orderBy('vms.id')
      .execute();
    return rows.map((r) => this.vmView(r, r.flavor_name, r.image_name, r.host_name));
  }

  /**
   * One page of VMs with their flavor, image and host names, in one query: ordered by creation time
   * then id, a keyset range scan on `vms_live_created` (or the tenant's or state's index; a host's few VMs are sorted).
   */
  async pageVms(p: Principal, f: VmFilters = {}, page: PageRequest = {}): Promise<Page<VmView>> {
    const limit = pageLimit(page.limit);
    return toPage(
      'vms',
      await this.vmPageQuery(p, f, page, await this.tenantIdOf(f.tenant)).execute(),
      limit,
      (r) => [r.created_at, r.id],
      (r) => this.vmView(r, r.flavor_name, r.image_name, r.host_name),
    );
  }

  /** The query of one page of VMs (`limit + 1` rows), unexecuted: for `pageVms`, and to EXPLAIN it. */
  vmPageQuery(p: Principal, f: VmFilters = {}, page: PageRequest = {}, tenantId?: string) {
    let q = this.vmQuery(p, f, tenantId);
    if (page.cursor) q = q.where(after(['vms.created_at', 'vms.id'], decodeCursor('vms', page.cursor, 2)));
    return q
      .orderBy('vms.created_at')
      .orderBy('vms.id')
      .limit(pageLimit(page.limit) + 1);
  }

  /** The id of a tenant given by id or name (the filter then is one equality on an index). */
  private async tenantIdOf(ref: string | undefined): Promise<string | undefined> {
    if (ref === undefined) return undefined;
    const t = await this.db
      .selectFrom('tenants')
      .select('id')
      .where((w) => w.or([w('id', '=', ref), w('name', '=', ref)]))
      .executeTakeFirst();
    return t?.id;
  }

  /** The VMs the caller sees that match the filters, with their names joined (unordered, unlimited). */
  private vmQuery(p: Principal, f: VmFilters, tenantId?: string) {
    authorize(p, 'vm:read');
    let q = this.db
      .selectFrom('vms')
      .innerJoin('flavors', 'flavors.id', 'vms.flavor_id')
      .innerJoin('images', 'images.id', 'vms.image_id')
      .leftJoin('hosts', 'hosts.id', 'vms.host_id')
      .selectAll('vms')
      .select(['flavors.name as flavor_name', 'images.name as image_name', 'hosts.name as host_name'])
      .where('vms.deleted_at', 'is', null);
    const own = tenantFilter(p, 'vm:read');
    if (own) q = q.where('vms.tenant_id', '=', own);
    if (f.tenant !== undefined) {
      if (own)
        throw new ControlError(
          'FORBIDDEN',
          'Only admin and operator filter VMs by tenant: leave out "tenant"',
        );
      q = q.where('vms.tenant_id', '=', tenantId ?? '');
    }
    if (f.state) q = q.where('vms.state', '=', f.state);
    if (f.host) q = q.where('vms.host_id', '=', f.host);
    if (f.zone) q = q.where('vms.zone', '=', f.zone);
    if (f.serverGroup) q = q.where('vms.server_group_id', '=', f.serverGroup);
    if (f.flavor) {
      const v = f.flavor;
      q = q.where((w) => w.or([w('vms.flavor_id', '=', v), w('flavors.name', '=', v)]));
    }
    if (f.image) {
      const v = f.image;
      q = q.where((w) => w.or([w('vms.image_id', '=', v), w('images.name', '=', v)]));
    }
    // A name prefix, compared exactly (LIKE's wildcards and case rules differ between the databases).
    if (f.name) q = q.where(sql<SqlBool>`substr(vms.name, 1, ${f.name.length}) = ${f.name}`);
    return q;
  }
}

/** Filters of a VM list, each optional: ids or names where a reference is taken. */
export interface VmFilters {
  state?: string;
  /** A host id. */
  host?: string;
  /** A tenant id or name (admin and operator only). */
  tenant?: string;
  zone?: string;
  /** A flavor id or name. */
  flavor?: string;
  /** An image id or name. */
  image?: string;
  /** A name prefix. */
  name?: string;
  /** A server group id. */
  serverGroup?: string;
}
