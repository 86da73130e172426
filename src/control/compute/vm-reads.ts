/**
 * Reading VMs: one VM (tenant-scoped), its view, and the list.
 *
 * Uses: no other service.
 */
import type { Selectable } from 'kysely';
import { authorize, tenantFilter, type Operation } from '../authz.ts';
import { notFoundInTenant } from '../security/tenant-lookup.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
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
    const rows = await (own ? q.where('tenant_id', '=', own) : q).orderBy('created_at').execute();
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
    return { ...(await this.vmOut(v)), cpuSeries: series(v.cpu_history, v.cpu_times) };
  }

  /** VMs with their flavor, image and host names, in one query (it backs lists of 10,000 VMs). */
  async listVms(p: Principal, f: { state?: string; host?: string } = {}) {
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
    if (f.state) q = q.where('vms.state', '=', f.state);
    if (f.host) q = q.where('vms.host_id', '=', f.host);
    const rows = await q.orderBy('vms.created_at').orderBy('vms.id').execute();
    return rows.map((r) => this.vmView(r, r.flavor_name, r.image_name, r.host_name));
  }
}
