import { Http } from '../http.ts';
import type { Flavor, Image } from '../types.ts';

/** Flavors (create: admin). */
export const flavorsApi = (http: Http) => ({
  list: () => http.get<Flavor[]>('/v1/flavors'),
  create: (f: Omit<Flavor, 'id'>) => http.post<Flavor>('/v1/flavors', f),
});

/** Images (register: admin). */
export const imagesApi = (http: Http) => ({
  list: () => http.get<Image[]>('/v1/images'),
  create: (i: { name: string; format: 'qcow2' | 'raw' | 'kernel+initramfs'; sizeMiB: number }) =>
    http.post<Image>('/v1/images', i),
});
