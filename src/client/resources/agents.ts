import { Http } from '../http.ts';
import type { Heartbeat } from '../types.ts';

/** Host agents (operator token). */
export const agentsApi = (http: Http) => ({
  /** Registers the agent's host or reports on it. */
  heartbeat: (h: Heartbeat) =>
    http.post<{ hostId: string; registered: boolean; draining?: boolean }>('/v1/agents/heartbeat', h),
});
