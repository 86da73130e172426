import { Http, type PageQuery, seg } from '../http.ts';
import type { SimulationRun, SimulationStart, SimulationSummary } from '../types.ts';

/** Saved and running `nubis sim` runs on the server (admin, operator). */
export const simulationsApi = (http: Http) => ({
  list: () => http.all<SimulationSummary>('/v1/simulations'),
  /** One page (limit, cursor, fields); see `list` for every row. */
  page: (q: PageQuery = {}) => http.page<SimulationSummary>('/v1/simulations', { ...q }),
  /** A run by name: its rows and series when done, else its summary. */
  get: (name: string) => http.get<SimulationRun>(`/v1/simulations/${seg(name)}`),
  /** Starts a run in the background; poll `get(name)`. */
  start: (r: SimulationStart) => http.post<SimulationSummary>('/v1/simulations', r),
});
