import { Http, type PageQuery, seg } from '../http.ts';
import type { Image, StoragePool, Volume, VolumeCreate, VolumeSnapshot } from '../types.ts';

/** The image registry's data: upload (streamed) and download. */
export const imageDataApi = (http: Http) => ({
  get: (image: string) => http.get<Image>(`/v1/images/${seg(image)}`),
  /** Uploads a new image (qcow2 or raw) named `name`; `public` needs an admin. */
  upload: (
    name: string,
    data: Blob | Uint8Array | ReadableStream<Uint8Array>,
    o: { public?: boolean } = {},
  ) =>
    http.call<Image>('POST', `/v1/images/${seg(name)}/data`, {
      raw: data,
      query: o.public ? { public: 'true' } : undefined,
    }),
  /** The image's file: a `Response` whose body streams it (header `x-image-sha256`: its checksum). */
  download: (image: string) =>
    http.call<Response>('GET', `/v1/images/${seg(image)}/data`, { response: true }),
});

/** Storage pools. */
export const storagePoolsApi = (http: Http) => ({
  list: () => http.all<StoragePool>('/v1/storage-pools'),
  /** One page (limit, cursor, fields); see `list` for every row. */
  page: (q: PageQuery = {}) => http.page<StoragePool>('/v1/storage-pools', { ...q }),
  /** Creates a pool (admin). */
  create: (p: { name: string; kind: 'local' | 'shared'; zone?: string }) =>
    http.post<StoragePool>('/v1/storage-pools', p),
});

/** Volumes and their snapshots. */
export const volumesApi = (http: Http) => ({
  /** Your volumes; `vm` (an id): only those attached to that VM. */
  list: (o: { vm?: string } = {}) => http.all<Volume>('/v1/volumes', { vm: o.vm }),
  /** One page (limit, cursor, fields); see `list` for every row. */
  page: (q: PageQuery & { vm?: string } = {}) => http.page<Volume>('/v1/volumes', { ...q }),
  create: (v: VolumeCreate) => http.post<Volume>('/v1/volumes', v),
  get: (volume: string) => http.get<Volume>(`/v1/volumes/${seg(volume)}`),
  delete: (volume: string) => http.delete<void>(`/v1/volumes/${seg(volume)}`),
  attach: (volume: string, vm: string) => http.post<Volume>(`/v1/volumes/${seg(volume)}/attach`, { vm }),
  detach: (volume: string) => http.post<Volume>(`/v1/volumes/${seg(volume)}/detach`),
  snapshot: (volume: string, name: string) =>
    http.post<VolumeSnapshot>(`/v1/volumes/${seg(volume)}/snapshots`, { name }),
  snapshots: (volume: string) => http.get<VolumeSnapshot[]>(`/v1/volumes/${seg(volume)}/snapshots`),
  deleteSnapshot: (snapshot: string) => http.delete<void>(`/v1/volume-snapshots/${seg(snapshot)}`),
});
