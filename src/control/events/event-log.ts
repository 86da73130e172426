/**
 * The audit trail: reading events.
 *
 * Uses: no other service.
 */
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';

/** The audit trail: reading events. */
export class EventLog extends Service {
  /** Events, newest first; `after` gives those after an event id, oldest first (for followers). */
  async listEvents(p: Principal, f: { vmId?: string; hostId?: string; after?: number; limit?: number } = {}) {
    let q = this.db.selectFrom('events').selectAll();
    if (!this.canSeeAll(p)) q = q.where('tenant_id', '=', p.tenantId);
    if (f.vmId) q = q.where('vm_id', '=', f.vmId);
    if (f.hostId) q = q.where('host_id', '=', f.hostId);
    if (f.after !== undefined) q = q.where('id', '>', f.after);
    const rows = await q
      .orderBy('id', f.after !== undefined ? 'asc' : 'desc')
      .limit(Math.min(f.limit ?? 100, 10000))
      .execute();
    return rows.map((e) => ({
      id: Number(e.id),
      at: e.at,
      tenantId: e.tenant_id,
      vmId: e.vm_id,
      hostId: e.host_id,
      actor: e.actor,
      kind: e.kind,
      detail: JSON.parse(e.detail),
    }));
  }
}
