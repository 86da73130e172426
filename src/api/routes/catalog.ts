/** The catalog: flavors and images. */
import { z } from 'zod';
import { listRoute } from '../pagination.ts';
import type { RouteModule } from '../route-def.ts';
import { idParam, name } from '../schemas.ts';

/** GET/POST /v1/flavors, PATCH/DELETE /v1/flavors/:id, GET/POST /v1/images, PATCH/DELETE /v1/images/:id. */
export const catalogRoutes: RouteModule = (route, { cp }) => {
  listRoute(route, {
    url: '/v1/flavors',
    summary: 'List flavors',
    tag: 'flavors',
    list: async ({ p }) => cp.listFlavors(p),
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
    method: 'PATCH',
    url: '/v1/flavors/:id',
    summary: 'Rename a flavor; its sizes only while no VM has used it (admin)',
    tag: 'flavors',
    params: idParam,
    body: z
      .object({
        name: name.optional(),
        vcpus: z.number().int().positive().max(256).optional(),
        memoryMiB: z.number().int().min(64).optional(),
        diskGiB: z.number().int().nonnegative().optional(),
      })
      .strict(),
    handler: async ({ p, params, body }) => cp.catalogEdits.updateFlavor(p, params.id, body),
  });
  route({
    method: 'DELETE',
    url: '/v1/flavors/:id',
    summary: 'Delete a flavor no VM or scaling group uses (409 naming them otherwise; admin)',
    tag: 'flavors',
    status: 204,
    params: idParam,
    handler: async ({ p, params }) => {
      await cp.catalogEdits.deleteCatalogItem(p, 'flavor', params.id);
      return undefined;
    },
  });
  listRoute(route, {
    url: '/v1/images',
    summary: 'List images',
    tag: 'images',
    list: async ({ p }) => cp.listImages(p),
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
  route({
    method: 'PATCH',
    url: '/v1/images/:id',
    summary:
      "Rename an image; its size only while nothing uses it (admin); visibility: public (admin) or private (admin, or your tenant's own image)",
    tag: 'images',
    params: idParam,
    body: z
      .object({
        name: name.optional(),
        sizeMiB: z.number().int().positive().optional(),
        visibility: z.enum(['public', 'private']).optional(),
      })
      .strict(),
    handler: async ({ p, params, body }) => {
      const { visibility, ...rest } = body;
      if (visibility === undefined) return cp.catalogEdits.updateImage(p, params.id, rest);
      const id = Object.keys(rest).length
        ? (await cp.catalogEdits.updateImage(p, params.id, rest)).id
        : params.id;
      return cp.images.setVisibility(p, id, visibility);
    },
  });
  route({
    method: 'DELETE',
    url: '/v1/images/:id',
    summary: 'Delete an image no VM or scaling group uses (409 naming them otherwise; admin)',
    tag: 'images',
    status: 204,
    params: idParam,
    handler: async ({ p, params }) => {
      await cp.catalogEdits.deleteCatalogItem(p, 'image', params.id);
      return undefined;
    },
  });
};
