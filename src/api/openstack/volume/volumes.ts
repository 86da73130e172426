/**
 * Cinder's `/volumes`: create, list, detail, show, update and delete, translated to nubis's volumes
 * (cp.volumes: the same authorization, quotas, pools and operations as `/v1/volumes`).
 * https://docs.openstack.org/api-ref/block-storage/v3/#volumes-volumes
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ControlError } from '../../../control/errors.ts';
import type { VolumeCreate } from '../../../control/storage/volumes.ts';
import { name as nubisName } from '../../schemas.ts';
import { OsError, type OsDeps } from '../frame.ts';
import { parseInput, v3Route, type VolumeCtx } from './context.ts';
import { listVolumes } from './volume-list.ts';
import { cinderSummary, cinderVolume, DEFAULT_TYPE, DEFAULT_ZONE } from './volume-view.ts';

const text = z.string().max(255).nullish();
const metadata = z.record(z.string().min(1).max(255), z.string().max(255)).nullish();
/** Cinder takes a size as a number or a numeric string. */
const size = z
  .union([z.number(), z.string().regex(/^\d+$/).transform(Number)])
  .pipe(z.number().int().min(1).max(65_536));

const createBody = z.object({
  volume: z
    .object({
      size: size.nullish(),
      name: text,
      display_name: text,
      description: text,
      display_description: text,
      metadata,
      imageRef: z.string().nullish(),
      volume_type: z.string().nullish(),
      availability_zone: z.string().nullish(),
      snapshot_id: z.string().nullish(),
      source_volid: z.string().nullish(),
      backup_id: z.string().nullish(),
      consistencygroup_id: z.string().nullish(),
      multiattach: z.boolean().nullish(),
    })
    .passthrough(),
});

const updateBody = z.object({
  volume: z
    .object({ name: text, display_name: text, description: text, display_description: text, metadata })
    .passthrough(),
});

/**
 * The pool a Cinder volume goes to: of the pools in the zone asked for (any zone when none is), a
 * shared one first (any VM of the zone can attach it, as a Cinder volume can), else nubis's default
 * (undefined). @throws OsError 400 for a zone no pool is in.
 */
async function cinderPool(deps: OsDeps, ctx: VolumeCtx, zone: string | null | undefined) {
  const pools = await deps.cp.pools.list(ctx.p);
  const inZone = zone == null ? pools : pools.filter((x) => (x.zone ?? DEFAULT_ZONE) === zone);
  if (zone != null && !inZone.length && (pools.length || zone !== DEFAULT_ZONE))
    throw new OsError(400, `Availability zone "${zone}" is invalid`);
  const shared = inZone.filter((x) => x.kind === 'shared');
  const pick = shared.find((x) => x.zone === null) ?? shared[0] ?? (zone != null ? inZone[0] : undefined);
  return pick?.id;
}

/** Register `/volumes`. */
export function registerVolumes(s: FastifyInstance, deps: OsDeps): void {
  const { cp } = deps;

  v3Route(s, deps, 'POST', '/volumes', async (ctx, req, reply) => {
    const b = parseInput(createBody, req.body, 'volume').volume;
    if (b.volume_type != null && b.volume_type !== DEFAULT_TYPE.name && b.volume_type !== DEFAULT_TYPE.id)
      throw new OsError(404, `Volume type "${b.volume_type}" could not be found`);
    if (b.backup_id != null) throw new OsError(400, 'Restoring a backup is not supported');
    const label = b.name ?? b.display_name ?? null;
    const o: VolumeCreate = {
      sizeGiB: 0,
      displayName: label,
      description: b.description ?? b.display_description ?? null,
      metadata: b.metadata ?? {},
      ...(b.imageRef != null ? { fromImage: b.imageRef } : {}),
      ...(b.source_volid != null ? { fromVolume: b.source_volid } : {}),
      ...(b.snapshot_id != null ? { fromSnapshot: b.snapshot_id } : {}),
    };
    if (b.size == null) {
      // Cinder takes a clone's size from its source; anything else needs one.
      const src = b.source_volid ?? null;
      if (src === null) throw new OsError(400, 'Invalid volume: size is required');
      o.sizeGiB = (await cp.volumes.get(ctx.p, src)).sizeGiB;
    } else o.sizeGiB = b.size;
    const pool =
      b.source_volid == null && b.snapshot_id == null
        ? await cinderPool(deps, ctx, b.availability_zone)
        : undefined;
    if (pool) o.pool = pool;
    // The label is nubis's handle too when it is a valid, free nubis name; else nubis names it volume-<id>.
    const handle = label !== null && nubisName.safeParse(label).success ? label : undefined;
    let v;
    try {
      v = await cp.volumes.create(ctx.p, { ...o, ...(handle ? { name: handle } : {}) });
    } catch (e) {
      if (!(handle && e instanceof ControlError && e.code === 'ALREADY_EXISTS')) throw e;
      v = await cp.volumes.create(ctx.p, o);
    }
    return reply.code(202).send({ volume: cinderVolume(ctx.root, v, { form: 'create', admin: ctx.admin }) });
  });

  const list = (detail: boolean) => async (ctx: VolumeCtx, req: FastifyRequest) => {
    const { page, next } = await listVolumes(deps, ctx, req);
    const volumes = page.map((v) =>
      detail ? cinderVolume(ctx.root, v, { form: 'show', admin: ctx.admin }) : cinderSummary(ctx.root, v),
    );
    if (next === undefined) return { volumes };
    const q = new URLSearchParams(req.url.split('?')[1] ?? '');
    q.set('marker', next);
    // The path the client asked (with or without a project): Tempest compares the next page's URL with it.
    const path = `${ctx.root}${req.url.split('?')[0]!.replace(/^\/openstack\/volume/, '')}`;
    return { volumes, volumes_links: [{ rel: 'next', href: `${path}?${q.toString()}` }] };
  };
  v3Route(s, deps, 'GET', '/volumes', list(false));
  v3Route(s, deps, 'GET', '/volumes/detail', list(true));

  v3Route(s, deps, 'GET', '/volumes/:id', async (ctx, req) => {
    const v = await cp.volumes.get(ctx.p, (req.params as { id: string }).id);
    return { volume: cinderVolume(ctx.root, v, { form: 'show', admin: ctx.admin }) };
  });

  v3Route(s, deps, 'PUT', '/volumes/:id', async (ctx, req) => {
    const id = (req.params as { id: string }).id;
    const b = parseInput(updateBody, req.body, 'volume').volume;
    const name = b.name !== undefined ? b.name : b.display_name;
    const description = b.description !== undefined ? b.description : b.display_description;
    let v = await cp.volumeDetails.update(ctx.p, id, {
      ...(name !== undefined ? { displayName: name } : {}),
      ...(description !== undefined ? { description } : {}),
    });
    if (b.metadata != null) {
      await cp.volumeDetails.setMetadata(ctx.p, v.id, b.metadata, true);
      v = await cp.volumes.get(ctx.p, v.id);
    }
    return { volume: cinderVolume(ctx.root, v, { form: 'create', admin: ctx.admin }) };
  });

  v3Route(s, deps, 'DELETE', '/volumes/:id', async (ctx, req, reply) => {
    await cp.volumes.delete(ctx.p, (req.params as { id: string }).id);
    return reply.code(202).send();
  });
}
