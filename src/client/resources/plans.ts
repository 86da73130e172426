import { Http, seg } from '../http.ts';
import type { MigrationLimits, Plan, PlanAudit, PlanProposal } from '../types.ts';

/** Consolidation plans (audit and apply: admin, operator). */
export const plansApi = (http: Http) => ({
  /** Audits the live state and proposes a plan (id null when there is nothing to do). */
  audit: (o: PlanAudit = {}) => http.post<PlanProposal>('/v1/plans', o),
  list: () => http.get<Plan[]>('/v1/plans'),
  get: (id: string) => http.get<Plan>(`/v1/plans/${seg(id)}`),
  /** Applies a proposed plan in waves within the migration limits. */
  apply: (id: string, limits?: MigrationLimits) => http.post<Plan>(`/v1/plans/${seg(id)}/apply`, limits),
  discard: (id: string) => http.post<Plan>(`/v1/plans/${seg(id)}/discard`),
});
