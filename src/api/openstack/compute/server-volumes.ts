/**
 * `/v2.1/servers/{id}/os-volume_attachments[/{volume_id}]`: attach and detach through nubis's volume
 * attach and detach (https://docs.openstack.org/api-ref/compute/#servers-with-volume-attachments-servers-os-volume-attachments).
 */
import type { FastifyInstance } from 'fastify';
import { ControlError } from '../../../control/errors.ts';
import { OsError, type OsDeps } from '../frame.ts';
import { findServer, refuseIfLocked, serverCaller } from './server-common.ts';

/** The attachments of a VM, with the device each was attached as (recorded by nubis's attach; the one Cinder shows). */
async function attachmentsOf(deps: OsDeps, vmId: string) {
  const vols = await deps.cp.db
    .selectFrom('volumes')
    .select(['id', 'attach_device'])
    .where('vm_id', '=', vmId)
    .where('deleted_at', 'is', null)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
  return vols.map((v) => ({ id: v.id, serverId: vmId, volumeId: v.id, device: v.attach_device ?? null }));
}

/** Register the volume attachment routes. */
export function registerServerVolumes(s: FastifyInstance, deps: OsDeps): void {
  const { cp } = deps;
  s.get('/v2.1/servers/:id/os-volume_attachments', async (req) => {
    const { p } = await serverCaller(deps, req);
    const v = await findServer(cp, p, (req.params as { id: string }).id);
    return { volumeAttachments: await attachmentsOf(deps, v.id) };
  });
  s.get('/v2.1/servers/:id/os-volume_attachments/:volumeId', async (req) => {
    const { p } = await serverCaller(deps, req);
    const { id, volumeId } = req.params as { id: string; volumeId: string };
    const v = await findServer(cp, p, id);
    const a = (await attachmentsOf(deps, v.id)).find((x) => x.volumeId === volumeId);
    if (!a) throw new OsError(404, `Volume ${volumeId} is not attached to instance ${id}`);
    return { volumeAttachment: a };
  });
  s.post('/v2.1/servers/:id/os-volume_attachments', async (req) => {
    const { p } = await serverCaller(deps, req);
    const id = (req.params as { id: string }).id;
    const v = await findServer(cp, p, id, 'vm:action');
    refuseIfLocked(p, v);
    const body = (req.body as { volumeAttachment?: Record<string, unknown> } | undefined)?.volumeAttachment;
    const volumeId = body?.volumeId;
    if (typeof volumeId !== 'string' || !volumeId)
      throw new OsError(400, 'volumeAttachment needs "volumeId"');
    if (
      body!.device !== undefined &&
      body!.device !== null &&
      (typeof body!.device !== 'string' || !/^(\/dev\/[a-z]{2,4}\d{0,3})?$/.test(body!.device))
    )
      throw new OsError(400, 'Invalid input for field/attribute device: a device name such as /dev/vdb');
    const vol = await cp.volumes.find(cp.db, p, volumeId, 'volume:read').catch((e: unknown) => {
      if (e instanceof ControlError && e.code === 'NOT_FOUND')
        throw new OsError(404, `Volume ${volumeId} could not be found.`);
      throw e;
    });
    if (vol.id !== volumeId) throw new OsError(404, `Volume ${volumeId} could not be found.`);
    // A volume in use (here or elsewhere) is bad input for Nova (400), not a conflict.
    if (vol.vm_id || vol.state !== 'available')
      throw new OsError(400, `Invalid volume: volume ${volumeId} is ${vol.state}, not available`);
    const device = typeof body!.device === 'string' && body!.device ? body!.device : undefined;
    await cp.volumes.attach(p, volumeId, v.id, { device }).catch((e: unknown) => {
      if (e instanceof ControlError && e.code === 'INVALID_STATE') throw new OsError(409, e.message);
      throw e;
    });
    const a = (await attachmentsOf(deps, v.id)).find((x) => x.volumeId === volumeId);
    return { volumeAttachment: a ?? { id: volumeId, serverId: v.id, volumeId, device: null } };
  });
  s.delete('/v2.1/servers/:id/os-volume_attachments/:volumeId', async (req, reply) => {
    const { p } = await serverCaller(deps, req);
    const { id, volumeId } = req.params as { id: string; volumeId: string };
    const v = await findServer(cp, p, id, 'vm:action');
    refuseIfLocked(p, v);
    if (!(await attachmentsOf(deps, v.id)).some((x) => x.volumeId === volumeId))
      throw new OsError(404, `Volume ${volumeId} is not attached to instance ${id}`);
    await cp.volumes.detach(p, volumeId).catch((e: unknown) => {
      if (e instanceof ControlError && e.code === 'INVALID_STATE') throw new OsError(409, e.message);
      throw e;
    });
    return reply.code(202).send();
  });
}
