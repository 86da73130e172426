/**
 * The audit trail: reading events.
 *
 * Uses: no other service.
 */
import type { Selectable } from 'kysely';
import { authorize, tenantFilter } from '../authz.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import { after, decodeCursor, pageLimit, toPage, type Page, type PageRequest } from '../store/keyset.ts';
import type { EventTable } from '../store/schema.ts';

/** The audit trail: reading events. */
export class EventLog extends Service {
  /** Events, newest first; `after` gives those after an event id, oldest first (for followers). */
  async listEvents(p: Principal, f: { vmId?: string; hostId?: string; after?: number; limit?: number } = {}) {
    authorize(p, 'event:read');
    let q = this.db.selectFrom('events').selectAll();
    const own = tenantFilter(p, 'event:read');
    if (own) q = q.where('tenant_id', '=', own);
    if (f.vmId) q = q.where('vm_id', '=', f.vmId);
    if (f.hostId) q = q.where('host_id', '=', f.hostId);
    if (f.after !== undefined) q = q.where('id', '>', f.after);
    const rows = await q
      .orderBy('id', f.after !== undefined ? 'asc' : 'desc')
      .limit(Math.min(f.limit ?? 100, 10000))
      .execute();
    return rows.map(eventOut);
  }

  /**
   * One page of events: newest first (a keyset on the event id, descending), or oldest first after
   * event `after` (for followers); filters by VM and host as `listEvents`.
   */
  async pageEvents(
    p: Principal,
    f: { vmId?: string; hostId?: string; after?: number } = {},
    page: PageRequest = {},
  ): Promise<Page<ReturnType<typeof eventOut>>> {
    authorize(p, 'event:read');
    const limit = pageLimit(page.limit);
    const dir = f.after !== undefined ? 'asc' : 'desc';
    let q = this.db.selectFrom('events').selectAll();
    const own = tenantFilter(p, 'event:read');
    if (own) q = q.where('tenant_id', '=', own);
    if (f.vmId) q = q.where('vm_id', '=', f.vmId);
    if (f.hostId) q = q.where('host_id', '=', f.hostId);
    if (f.after !== undefined) q = q.where('id', '>', f.after);
    const list = dir === 'asc' ? 'events-after' : 'events';
    if (page.cursor) q = q.where(after(['id'], decodeCursor(list, page.cursor, 1), dir));
    const rows = await q
      .orderBy('id', dir)
      .limit(limit + 1)
      .execute();
    return toPage(list, rows, limit, (e) => [Number(e.id)], eventOut);
  }
}

/** An event as the API shows it. */
function eventOut(e: Selectable<EventTable>) {
  return {
    id: Number(e.id),
    at: e.at,
    tenantId: e.tenant_id,
    vmId: e.vm_id,
    hostId: e.host_id,
    actor: e.actor,
    kind: e.kind,
    detail: JSON.parse(e.detail) as unknown,
  };
}
