import { Http, type PageQuery, seg } from '../http.ts';
import type { ScalingGroup, ScalingGroupCreate } from '../types.ts';

/** Autoscaling groups. `group` arguments are an id or a name. */
export const scalingGroupsApi = (http: Http) => ({
  create: (g: ScalingGroupCreate) => http.post<ScalingGroup>('/v1/scaling-groups', g),
  list: () => http.all<ScalingGroup>('/v1/scaling-groups'),
  /** One page (limit, cursor, fields); see `list` for every row. */
  page: (q: PageQuery = {}) => http.page<ScalingGroup>('/v1/scaling-groups', { ...q }),
  /** Changes min, max, desired, policy or scale-in order; the group is reconciled. */
  update: (
    group: string,
    c: Partial<Pick<ScalingGroupCreate, 'min' | 'max' | 'desired' | 'policy' | 'scaleIn'>>,
  ) => http.patch<ScalingGroup>(`/v1/scaling-groups/${seg(group)}`, c),
  /** Deletes a group and its members. */
  delete: (group: string) =>
    http.delete<{ deleted: string; members: string[] }>(`/v1/scaling-groups/${seg(group)}`),
  get: (group: string) => http.get<ScalingGroup>(`/v1/scaling-groups/${seg(group)}`),
  /** Reports the group's metric (and per-member loads); it scales by its policy. */
  reportMetric: (group: string, value: number, loads?: Record<string, number>) =>
    http.post<ScalingGroup>(`/v1/scaling-groups/${seg(group)}/metrics`, { value, loads }),
});
