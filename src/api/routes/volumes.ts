/** Storage pools, volumes and volume snapshots. */
import { z } from 'zod';
import { listRoute } from '../pagination.ts';
import type { RouteModule } from '../route-def.ts';
import { idParam, name } from '../schemas.ts';

const ref = z.string().min(1).max(200);
/** A VM id in a filter: what `ctx.ids` makes (letters, digits and "-"). */
const vmIdQuery = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9-]+$/, 'a VM id: letters, digits and "-" (the CLI resolves a name)');

/** /v1/storage-pools, /v1/volumes, /v1/volumes/:id/{attach,detach,snapshots}, /v1/volume-snapshots/:id. */
export const volumeRoutes: RouteModule = (route, { cp }) => {
  listRoute(route, {
    url: '/v1/storage-pools',
    summary: 'List storage pools',
    tag: 'storage',
    list: async ({ p }) => cp.pools.list(p),
  });
  route({
    method: 'POST',
    url: '/v1/storage-pools',
    summary:
      'Create a storage pool (admin): local (a folder on each host) or shared (seen by every host of its zone)',
    tag: 'storage',
    status: 201,
    body: z
      .object({ name, kind: z.enum(['local', 'shared']), zone: z.string().min(1).max(63).optional() })
      .strict(),
    handler: async ({ p, body }) => cp.pools.create(p, body),
  });
  listRoute(route, {
    url: '/v1/volumes',
    summary: "List your volumes (vm: only those attached to that VM, by id; another tenant's VM: none)",
    tag: 'volumes',
    filters: { vm: vmIdQuery.optional() },
    list: async ({ p, query }) => cp.volumes.list(p, query),
  });
  route({
    method: 'POST',
    url: '/v1/volumes',
    summary:
      'Create a volume (quota: volumes, GiB): empty, or a copy of an image, a volume or a snapshot (copy-on-write in the same pool)',
    tag: 'volumes',
    status: 201,
    body: z
      .object({
        name,
        sizeGiB: z.number().int().min(1).max(65_536),
        pool: ref.optional(),
        fromImage: ref.optional(),
        fromVolume: ref.optional(),
        fromSnapshot: ref.optional(),
      })
      .strict(),
    handler: async ({ p, body }) => cp.volumes.create(p, body),
  });
  route({
    method: 'GET',
    url: '/v1/volumes/:id',
    summary: 'A volume (by id or name)',
    tag: 'volumes',
    params: idParam,
    handler: async ({ p, params }) => cp.volumes.get(p, params.id),
  });
  route({
    method: 'DELETE',
    url: '/v1/volumes/:id',
    summary: 'Delete a volume that is not attached (with its snapshots)',
    tag: 'volumes',
    status: 204,
    params: idParam,
    handler: async ({ p, params }) => {
      await cp.volumes.delete(p, params.id);
      return undefined;
    },
  });
  route({
    method: 'POST',
    url: '/v1/volumes/:id/attach',
    summary: 'Attach to a VM of yours (hot-plugged into a running guest)',
    tag: 'volumes',
    params: idParam,
    body: z.object({ vm: ref }).strict(),
    handler: async ({ p, params, body }) => cp.volumes.attach(p, params.id, body.vm),
  });
  route({
    method: 'POST',
    url: '/v1/volumes/:id/detach',
    summary: 'Detach from its VM (unplugged from a running guest)',
    tag: 'volumes',
    params: idParam,
    handler: async ({ p, params }) => cp.volumes.detach(p, params.id),
  });
  listRoute(route, {
    url: '/v1/volumes/:id/snapshots',
    summary: "A volume's snapshots",
    tag: 'volumes',
    params: idParam,
    list: async ({ p, params }) => cp.volumeSnapshots.list(p, params.id),
  });
  route({
    method: 'POST',
    url: '/v1/volumes/:id/snapshots',
    summary: 'Snapshot a volume (quota: snapshots)',
    tag: 'volumes',
    status: 201,
    params: idParam,
    body: z.object({ name }).strict(),
    handler: async ({ p, params, body }) => cp.volumeSnapshots.create(p, params.id, body.name),
  });
  route({
    method: 'DELETE',
    url: '/v1/volume-snapshots/:id',
    summary: 'Delete a volume snapshot',
    tag: 'volumes',
    status: 204,
    params: idParam,
    handler: async ({ p, params }) => {
      await cp.volumeSnapshots.delete(p, params.id);
      return undefined;
    },
  });
};
