/**
 * The agent's storage routes: volumes in this host's pools (create, list, delete, snapshots) and the
 * volumes of a guest (attach: hot-plug into a running guest; detach: unplug). Bodies are the storage
 * contract's types (src/core/storage/host-storage.ts); the control plane's agent driver calls these.
 * Ids and pool names are checked against the contract's pattern before anything else; paths are
 * resolved inside the pool's folder by HostPools.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { DriverError, GuestState } from '../core/hypervisor.ts';
import { diskSerial, STORAGE_ID_PATTERN } from '../core/storage/host-storage.ts';
import type { QemuDriver } from '../drivers/qemu/qemu-driver.ts';
import { checkImageRef, IMAGE_URL_RE } from '../drivers/qemu/image-cache.ts';
import { checkStorageId, type HostPools } from '../drivers/qemu/storage-pools.ts';

const id = z.string().regex(STORAGE_ID_PATTERN, "1-63 letters, digits, '.', '_' or '-'");
const poolRef = z.object({ name: id, kind: z.enum(['local', 'shared']) }).strict();

/** An ImageRef as it arrives in JSON (checkImageRef checks it further). */
export const imageRefSchema = z
  .object({
    id,
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lower-case hex digits'),
    sizeBytes: z.number().int().positive(),
    format: z.enum(['qcow2', 'raw']),
    url: z
      .string()
      .max(2048)
      .refine(
        (u) => IMAGE_URL_RE.test(u) && (u.startsWith('/') || URL.canParse(u)),
        'must be an http:// or https:// URL, or a /v1/ path of the control plane',
      ),
  })
  .strict();

/** A GuestDisk as it arrives in JSON (the agent's stored specs may carry the disk's `slot`). */
export const guestDiskSchema = z
  .object({
    volumeId: id,
    pool: poolRef,
    sizeGiB: z.number().positive(),
    serial: z.string().regex(/^[a-zA-Z0-9_.-]{1,20}$/, 'must be diskSerial(volumeId)'),
    slot: z.number().int().min(0).optional(),
  })
  .strict();

const volumeSpecSchema = z
  .object({
    id,
    pool: poolRef,
    sizeGiB: z.number().positive().max(16384),
    from: z
      .union([
        z.object({ volumeId: id }).strict(),
        z.object({ image: imageRefSchema }).strict(),
        z.object({ snapshot: z.object({ volumeId: id, name: z.string() }).strict() }).strict(),
      ])
      .optional(),
  })
  .strict();

function parse<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const r = schema.safeParse(body);
  if (!r.success)
    throw new DriverError(
      'BAD_SPEC',
      `Bad ${what}: ${r.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`,
    );
  return r.data;
}

/** Register the storage routes (501 when the agent runs without pools). */
export function registerStorageRoutes(app: FastifyInstance, d: QemuDriver): void {
  const pools = (): HostPools => {
    const p = d.opts.pools;
    if (!p)
      throw new DriverError('BAD_SPEC', 'This agent has no storage pools; start it with --pool NAME=DIR');
    return p;
  };
  /** The running (or paused) guest that writes a volume, if any. */
  const writer = async (pool: string, volumeId: string) =>
    (await d.volumeUsers(pool, volumeId)).find(
      (g) => g.state === GuestState.running || g.state === GuestState.paused,
    );
  /** Running (or paused) guests write their volumes: no offline clone of those. */
  const refuseIfRunning = async (pool: string, volumeId: string, action: string) => {
    const busy = await writer(pool, volumeId);
    if (busy)
      throw new DriverError(
        'INVALID_STATE',
        `Cannot ${action} volume "${volumeId}": guest "${busy.id}" is running with it attached; stop it or detach the volume first`,
      );
  };

  app.get<{ Params: { pool: string } }>('/v1/volumes/:pool', async (req) =>
    pools().listVolumes(checkStorageId(req.params.pool, 'pool name')),
  );
  app.post('/v1/volumes', async (req, reply) => {
    const v = parse(volumeSpecSchema, req.body, 'volume spec');
    const p = pools();
    p.pool(v.pool.name, v.pool.kind);
    let imageFile;
    if (v.from && 'image' in v.from) {
      if (!d.opts.imageCache) throw new DriverError('BAD_SPEC', 'This agent has no image cache');
      imageFile = await d.opts.imageCache.get(checkImageRef(v.from.image));
    } else if (v.from && 'volumeId' in v.from) await refuseIfRunning(v.pool.name, v.from.volumeId, 'clone');
    else if (v.from) await refuseIfRunning(v.pool.name, v.from.snapshot.volumeId, 'copy a snapshot of');
    return reply.code(201).send(await p.create(v, imageFile));
  });
  app.get<{ Params: { pool: string; volumeId: string } }>('/v1/volumes/:pool/:volumeId', async (req) =>
    pools().info(checkStorageId(req.params.pool, 'pool name'), checkStorageId(req.params.volumeId)),
  );
  app.delete<{ Params: { pool: string; volumeId: string } }>(
    '/v1/volumes/:pool/:volumeId',
    async (req, reply) => {
      const { pool, volumeId } = req.params;
      const p = pools();
      p.existing(pool, volumeId);
      const users = await d.volumeUsers(pool, volumeId);
      if (users.length)
        throw new DriverError(
          'INVALID_STATE',
          `Cannot delete volume "${volumeId}": it is attached to guest "${users[0]!.id}"; detach it first`,
        );
      await p.delete(pool, volumeId);
      return reply.code(204).send();
    },
  );
  app.post<{ Params: { pool: string; volumeId: string } }>(
    '/v1/volumes/:pool/:volumeId/snapshots',
    async (req, reply) => {
      const { pool, volumeId } = req.params;
      const { name } = parse(
        z.object({ name: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/) }).strict(),
        req.body,
        'volume snapshot (name: 1-64 letters, digits, ".", "_" or "-")',
      );
      pools().existing(pool, volumeId);
      // A running guest's volume is snapshotted by its QEMU (the only writer), others by qemu-img.
      const g = await writer(pool, volumeId);
      if (g) {
        await d.volumeSnapshot(g.id, volumeId, name);
        return reply.code(201).send(await pools().info(pool, volumeId));
      }
      return reply.code(201).send(await pools().snapshot(pool, volumeId, name));
    },
  );
  app.delete<{ Params: { pool: string; volumeId: string; name: string } }>(
    '/v1/volumes/:pool/:volumeId/snapshots/:name',
    async (req, reply) => {
      const { pool, volumeId, name } = req.params;
      pools().existing(pool, volumeId);
      const g = await writer(pool, volumeId);
      if (g) await d.volumeSnapshot(g.id, volumeId, name, true);
      else await pools().deleteSnapshot(pool, volumeId, name);
      return reply.code(204).send();
    },
  );

  app.post<{ Params: { id: string } }>('/v1/guests/:id/disks', async (req) => {
    const disk = parse(guestDiskSchema, req.body, 'guest disk');
    if (disk.serial !== diskSerial(disk.volumeId))
      throw new DriverError(
        'BAD_SPEC',
        `Bad serial "${disk.serial}": use diskSerial(volumeId)`,
        req.params.id,
      );
    pools().pool(disk.pool.name, disk.pool.kind);
    // One writer per volume: two guests on one qcow2 would corrupt it.
    const users = await d.volumeUsers(disk.pool.name, disk.volumeId);
    if (users.length)
      throw new DriverError(
        users[0]!.id === req.params.id ? 'ALREADY_EXISTS' : 'INVALID_STATE',
        `Volume "${disk.volumeId}" is attached to guest "${users[0]!.id}" already; detach it first`,
        req.params.id,
      );
    const { slot: _slot, ...contractDisk } = disk;
    return d.attachDisk(req.params.id, contractDisk);
  });
  app.delete<{ Params: { id: string; volumeId: string } }>('/v1/guests/:id/disks/:volumeId', async (req) =>
    d.detachDisk(req.params.id, checkStorageId(req.params.volumeId)),
  );
}
