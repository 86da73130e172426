import { Http, type PageQuery, seg } from '../http.ts';
import type { ConstraintCreate, PlacementConstraint } from '../types.ts';

/** Placement constraints (your tenant's; all for admin and operator). */
export const constraintsApi = (http: Http) => ({
  list: () => http.all<PlacementConstraint>('/v1/constraints'),
  /** One page (limit, cursor, fields); see `list` for every row. */
  page: (q: PageQuery = {}) => http.page<PlacementConstraint>('/v1/constraints', { ...q }),
  get: (ref: string) => http.get<PlacementConstraint>(`/v1/constraints/${seg(ref)}`),
  create: (c: ConstraintCreate) => http.post<PlacementConstraint>('/v1/constraints', c),
  delete: (ref: string) => http.delete<void>(`/v1/constraints/${seg(ref)}`),
});
