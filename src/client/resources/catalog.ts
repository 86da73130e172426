import { Http, type PageQuery, seg } from '../http.ts';
import type { Flavor, Image } from '../types.ts';

/** Flavors (create: admin). */
export const flavorsApi = (http: Http) => ({
  list: () => http.all<Flavor>('/v1/flavors'),
  /** One page (limit, cursor, fields); see `list` for every row. */
  page: (q: PageQuery = {}) => http.page<Flavor>('/v1/flavors', { ...q }),
  create: (f: Omit<Flavor, 'id'>) => http.post<Flavor>('/v1/flavors', f),
  /** Renames a flavor; its sizes only while no VM has used it (admin). */
  update: (flavor: string, c: Partial<Omit<Flavor, 'id'>>) =>
    http.patch<Flavor>(`/v1/flavors/${seg(flavor)}`, c),
  /** Deletes a flavor no VM or scaling group uses (admin). */
  delete: (flavor: string) => http.delete<void>(`/v1/flavors/${seg(flavor)}`),
});

/** Images (register: admin). */
export const imagesApi = (http: Http) => ({
  list: () => http.all<Image>('/v1/images'),
  /** One page (limit, cursor, fields); see `list` for every row. */
  page: (q: PageQuery = {}) => http.page<Image>('/v1/images', { ...q }),
  create: (i: { name: string; format: 'qcow2' | 'raw' | 'kernel+initramfs'; sizeMiB: number }) =>
    http.post<Image>('/v1/images', i),
  /**
   * Renames an image, its size only while nothing uses it (admin); `visibility`: `public` (admin) or
   * `private` (admin, or the members of the tenant that uploaded it).
   */
  update: (image: string, c: { name?: string; sizeMiB?: number; visibility?: 'public' | 'private' }) =>
    http.patch<Image>(`/v1/images/${seg(image)}`, c),
  /** Deletes an image no VM or scaling group uses (admin). */
  delete: (image: string) => http.delete<void>(`/v1/images/${seg(image)}`),
});
