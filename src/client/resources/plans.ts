import { Http, type PageQuery, seg } from '../http.ts';
import type { MigrationLimits, Plan, PlanAudit, PlanProposal } from '../types.ts';

/** Consolidation plans (audit and apply: admin, operator). */
export const plansApi = (http: Http) => ({
  /** Audits the live state and proposes a plan (id null when there is nothing to do). */
  audit: (o: PlanAudit = {}) => http.post<PlanProposal>('/v1/plans', o),
  list: () => http.all<Plan>('/v1/plans'),
  /** One page (limit, cursor, fields); see `list` for every row. */
  page: (q: PageQuery = {}) => http.page<Plan>('/v1/plans', { ...q }),
  get: (id: string) => http.get<Plan>(`/v1/plans/${seg(id)}`),
  /** Applies a proposed plan in waves within the migration limits. */
  apply: (id: string, limits?: MigrationLimits) => http.post<Plan>(`/v1/plans/${seg(id)}/apply`, limits),
  discard: (id: string) => http.post<Plan>(`/v1/plans/${seg(id)}/discard`),
});
