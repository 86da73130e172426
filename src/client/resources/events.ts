import { Http } from '../http.ts';
import type { EventQuery, EventRow } from '../types.ts';

/** The audit trail (your tenant's; all for admin and operator). */
export const eventsApi = (http: Http) => ({
  /** Events, newest last; `after` an event id, `vm`/`host` ids. */
  list: (q: EventQuery = {}) => http.get<EventRow[]>('/v1/events', { ...q }),
});
