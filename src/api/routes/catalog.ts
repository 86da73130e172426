/** The catalog: flavors and images. */
import { z } from 'zod';
import type { RouteModule } from '../route-def.ts';
import { name } from '../schemas.ts';

/** GET/POST /v1/flavors, GET/POST /v1/images. */
export const catalogRoutes: RouteModule = (route, { cp }) => {
  route({
    method: 'GET',
    url: '/v1/flavors',
    summary: 'List flavors',
    tag: 'flavors',
    handler: async () => cp.listFlavors(),
  });
  route({
    method: 'POST',
    url: '/v1/flavors',
    summary: 'Create a flavor (admin)',
    tag: 'flavors',
    status: 201,
    body: z
      .object({
        name,
        vcpus: z.number().int().positive().max(256),
        memoryMiB: z.number().int().min(64),
        diskGiB: z.number().int().nonnegative(),
      })
      .strict(),
    handler: async ({ p, body }) => cp.createFlavor(p, body),
  });
  route({
    method: 'GET',
    url: '/v1/images',
    summary: 'List images',
    tag: 'images',
    handler: async () => cp.listImages(),
  });
  route({
    method: 'POST',
    url: '/v1/images',
    summary: 'Register an image (admin)',
    tag: 'images',
    status: 201,
    body: z
      .object({
        name,
        format: z.enum(['qcow2', 'raw', 'kernel+initramfs']),
        sizeMiB: z.number().int().positive(),
      })
      .strict(),
    handler: async ({ p, body }) => cp.createImage(p, body),
  });
};
