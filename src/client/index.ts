/** The nubis API client: `NubisClient`, its errors and the JSON shapes. */
export { NubisClient } from './nubis-client.ts';
export {
  ApiError,
  Http,
  type CallOptions,
  type ClientOptions,
  type ListPage,
  type PageQuery,
  type Query,
  type WriteOptions,
} from './http.ts';
export type * from './types.ts';
