import { Http } from '../http.ts';
import type { ServerGroup, ServerGroupPolicy } from '../types.ts';

/** Server groups (your tenant's; all for admin and operator). */
export const serverGroupsApi = (http: Http) => ({
  list: () => http.get<ServerGroup[]>('/v1/server-groups'),
  create: (g: { name: string; policy: ServerGroupPolicy }) => http.post<ServerGroup>('/v1/server-groups', g),
});
