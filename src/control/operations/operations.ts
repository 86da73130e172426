/**
 * Operations (asynchronous requests): idempotency keys, their view and lookup.
 *
 * Uses: no other service.
 */
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';

/** Operations (asynchronous requests): idempotency keys, their view and lookup. */
export class Operations extends Service {
  async existingOperation(p: Principal, key?: string) {
    if (!key) return undefined;
    const op = await this.db
      .selectFrom('operations')
      .selectAll()
      .where('tenant_id', '=', p.tenantId)
      .where('idempotency_key', '=', key)
      .executeTakeFirst();
    return op ? this.opOut(op) : undefined;
  }

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
    const q = this.db.selectFrom('operations').selectAll().where('id', '=', id);
    const o = await (this.canSeeAll(p) ? q : q.where('tenant_id', '=', p.tenantId)).executeTakeFirst();
    if (!o) throw new ControlError('NOT_FOUND', `No operation "${id}"`);
    return this.opOut(o);
  }
}
