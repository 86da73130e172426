import { Http, seg } from '../http.ts';
import type { Operation } from '../types.ts';

/** Operations: the record of a multi-step change. */
export const operationsApi = (http: Http) => ({
  get: (id: string) => http.get<Operation>(`/v1/operations/${seg(id)}`),
});
