import { Http, type PageQuery, seg } from '../http.ts';
import type { ServerGroup, ServerGroupDetail, ServerGroupPolicy } from '../types.ts';

/** Server groups (your tenant's; all for admin and operator). */
export const serverGroupsApi = (http: Http) => ({
  list: () => http.all<ServerGroup>('/v1/server-groups'),
  /** One page (limit, cursor, fields); see `list` for every row. */
  page: (q: PageQuery = {}) => http.page<ServerGroup>('/v1/server-groups', { ...q }),
  create: (g: {
    name: string;
    policy: ServerGroupPolicy;
    maxPerHost?: number;
    spreadOver?: 'rack' | 'zone' | 'datacenter';
  }) => http.post<ServerGroup>('/v1/server-groups', g),
  /** A group (id or name) with its members. */
  get: (group: string) => http.get<ServerGroupDetail>(`/v1/server-groups/${seg(group)}`),
  /** Deletes an empty group. */
  delete: (group: string) => http.delete<void>(`/v1/server-groups/${seg(group)}`),
});
