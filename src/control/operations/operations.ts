/**
 * Operations (asynchronous requests): their view and lookup (Idempotency-Key is handled by the API).
 *
 * Uses: no other service.
 */
import { authorize, tenantFilter } from '../authz.ts';
import { notFoundInTenant } from '../security/tenant-lookup.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';

/** Operations (asynchronous requests): their view and lookup. */
export class Operations extends Service {
  private opOut(o: {
    id: string;
    tenant_id: string;
    vm_id: string | null;
    kind: string;
    status: string;
    result: string | null;
    error: string | null;
    created_at: string;
    finished_at: string | null;
  }) {
    return {
      id: o.id,
      tenantId: o.tenant_id,
      vmId: o.vm_id,
      kind: o.kind,
      status: o.status,
      result: o.result ? JSON.parse(o.result) : null,
      error: o.error,
      createdAt: o.created_at,
      finishedAt: o.finished_at,
    };
  }

  async getOperation(p: Principal, id: string) {
    authorize(p, 'operation:read');
    const q = this.db.selectFrom('operations').selectAll().where('id', '=', id);
    const own = tenantFilter(p, 'operation:read');
    const o = await (own ? q.where('tenant_id', '=', own) : q).executeTakeFirst();
    if (!o)
      throw await notFoundInTenant(this.db, p, 'operation:read', 'operation', id, `No operation "${id}"`);
    return this.opOut(o);
  }

  /**
   * The live migrations (operations of kind `migrate`), newest first, with their source and target
   * host names (admins and operators: they name hosts). Optionally one VM's.
   */
  async listMigrations(p: Principal, o: { vmId?: string; limit?: number } = {}) {
    authorize(p, 'host:read');
    let q = this.db
      .selectFrom('operations as o')
      .leftJoin('hosts as src', 'src.id', 'o.host_id')
      .leftJoin('hosts as dst', 'dst.id', 'o.target_host_id')
      .select([
        'o.id',
        'o.vm_id',
        'o.status',
        'o.created_at',
        'o.updated_at',
        'o.finished_at',
        'src.name as source',
        'dst.name as target',
      ])
      .where('o.kind', '=', 'migrate');
    if (o.vmId) q = q.where('o.vm_id', '=', o.vmId);
    const rows = await q
      .orderBy('o.created_at', 'desc')
      .orderBy('o.id', 'desc')
      .limit(o.limit ?? 1000)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      vmId: r.vm_id,
      status: r.status,
      sourceHost: r.source,
      targetHost: r.target,
      createdAt: r.created_at,
      updatedAt: r.finished_at ?? r.updated_at,
    }));
  }
}
