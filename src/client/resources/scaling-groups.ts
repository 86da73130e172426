import { Http, seg } from '../http.ts';
import type { ScalingGroup, ScalingGroupCreate } from '../types.ts';

/** Autoscaling groups. `group` arguments are an id or a name. */
export const scalingGroupsApi = (http: Http) => ({
  create: (g: ScalingGroupCreate) => http.post<ScalingGroup>('/v1/scaling-groups', g),
  get: (group: string) => http.get<ScalingGroup>(`/v1/scaling-groups/${seg(group)}`),
  /** Reports the group's metric (and per-member loads); it scales by its policy. */
  reportMetric: (group: string, value: number, loads?: Record<string, number>) =>
    http.post<ScalingGroup>(`/v1/scaling-groups/${seg(group)}/metrics`, { value, loads }),
});
