import { Http } from '../http.ts';
import type { Enrollment, EnrollRequest, Heartbeat } from '../types.ts';

/** Host agents: enrollment (join token) and heartbeats (the host credential as the client's token). */
export const agentsApi = (http: Http) => ({
  /** Enrolls a host with a one-time join token; the answer holds the host credential, once. */
  enroll: (e: EnrollRequest) => http.post<Enrollment>('/v1/agents/enroll', e),
  /** Reports on the agent's host (the client's token must be the host credential). */
  heartbeat: (h: Heartbeat) =>
    http.post<{ hostId: string; draining?: boolean; fingerprintKey?: string }>('/v1/agents/heartbeat', h),
});
