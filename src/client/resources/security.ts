import { Http } from '../http.ts';
import type { SecurityEventQuery, SecurityEventRow } from '../types.ts';

/** The security event log (admins). */
export const securityEventsApi = (http: Http) => ({
  /** Security events, oldest first; `after` an event id, `kind` one kind (e.g. `login.failed`). */
  list: (q: SecurityEventQuery = {}) => http.get<SecurityEventRow[]>('/v1/security-events', { ...q }),
});
