import { Http, type PageQuery } from '../http.ts';
import type { EventQuery, EventRow } from '../types.ts';

/** The audit trail (your tenant's; all for admin and operator). */
export const eventsApi = (http: Http) => ({
  /**
   * Events, newest first (with `after`, an event id: oldest first after it); `vm`/`host` ids; the
   * first `limit` events (default 100, any number: it follows the pages).
   */
  list: ({ limit, ...q }: EventQuery = {}) => http.all<EventRow>('/v1/events', { ...q }, limit ?? 100),
  /** One page of events (limit 1-1000, default 100; cursor: the previous page's `nextCursor`; fields). */
  page: (q: PageQuery & Omit<EventQuery, 'limit'> = {}) => http.page<EventRow>('/v1/events', { ...q }),
});
