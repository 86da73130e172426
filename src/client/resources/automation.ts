import { Http } from '../http.ts';
import type { AutomationOverview, AutomationSet, AutomationSettings, PlanProposal } from '../types.ts';

/** Automation: levels and audit policy per data center or zone; a round on demand. */
export const automationApi = (http: Http) => ({
  /** The data center's and every zone's settings. */
  get: () => http.get<AutomationOverview>('/v1/settings/automation'),
  /** Sets the level (and policy, spares, limits) of the data center or one zone (admin). */
  set: (s: AutomationSet) =>
    http.put<{ automation: AutomationSet['automation']; zone: string | null; settings: AutomationSettings }>(
      '/v1/settings/automation',
      s,
    ),
  /** Runs one round now in every zone that is not manual (admin, operator). */
  runRound: () => http.post<{ plans: PlanProposal[] }>('/v1/automation/rounds'),
});
