/**
 * Cinder's `POST /volumes/{id}/action`: attach and detach through nubis's volume attach (the path
 * Nova's os-volume_attachments takes too), bootable and read-only flags, reservations, and the
 * refusals of what nubis does not do (extend, upload to an image).
 * https://docs.openstack.org/api-ref/block-storage/v3/#volume-actions-volumes-action
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { RESETTABLE_STATES } from '../../../control/storage/volume-details.ts';
import { OsError, type OsDeps } from '../frame.ts';
import { parseInput, v3Route } from './context.ts';

/** Cinder's booleans: JSON booleans or their strings. */
const flag = z.union([
  z.boolean(),
  z
    .string()
    .regex(/^(true|false|1|0|yes|no|on|off|t|f|y|n)$/i)
    .transform((s) => /^(true|1|yes|on|t|y)$/i.test(s)),
]);

const attachBody = z.object({
  instance_uuid: z.string().min(1).max(200),
  mountpoint: z.string().max(255).nullish(),
  host_name: z.string().nullish(),
  mode: z.enum(['rw', 'ro']).nullish(),
});

/** Register `/volumes/{id}/action`. */
export function registerVolumeActions(s: FastifyInstance, deps: OsDeps): void {
  const { cp } = deps;
  v3Route(s, deps, 'POST', '/volumes/:id/action', async (ctx, req, reply) => {
    const id = (req.params as { id: string }).id;
    const body = (req.body ?? {}) as Record<string, unknown>;
    const keys = Object.keys(body);
    if (keys.length !== 1 || typeof body !== 'object' || Array.isArray(body))
      throw new OsError(400, 'Give exactly one action, e.g. {"os-attach": {...}}');
    const action = keys[0]!;
    const args = body[action] ?? {};
    // Every action names an existing volume of the caller first (404 before any 400 on its arguments).
    const v = await cp.volumes.get(ctx.p, id);
    switch (action) {
      case 'os-attach': {
        const a = parseInput(attachBody, args, 'os-attach');
        // A reserved volume (os-reserve) is released into the attach.
        if (v.state === 'attaching' && !v.vmId) await cp.volumeDetails.reserve(ctx.p, v.id, false);
        await cp.volumes.attach(ctx.p, v.id, a.instance_uuid, { device: a.mountpoint ?? null });
        return reply.code(202).send();
      }
      case 'os-detach':
        // Cinder detaches a volume with no attachment as a no-op (it stays `available`), e.g. a
        // clean-up after os-force_detach (cinder/volume/manager.py, detach_volume).
        if (!v.vmId && v.state === 'available') return reply.code(202).send();
        await cp.volumes.detach(ctx.p, v.id);
        return reply.code(202).send();
      case 'os-set_bootable': {
        const a = parseInput(z.object({ bootable: flag }), args, 'os-set_bootable');
        await cp.volumeDetails.setBootable(ctx.p, v.id, a.bootable);
        return reply.code(200).send();
      }
      case 'os-update_readonly_flag': {
        // Cinder keeps it as the volume's `readonly` metadata, "True"/"False".
        const a = parseInput(z.object({ readonly: flag }), args, 'os-update_readonly_flag');
        await cp.volumeDetails.setMetadata(ctx.p, v.id, { readonly: a.readonly ? 'True' : 'False' });
        return reply.code(202).send();
      }
      case 'os-reserve':
      case 'os-unreserve':
        await cp.volumeDetails.reserve(ctx.p, v.id, action === 'os-reserve');
        return reply.code(202).send();
      case 'os-reset_status': {
        const a = parseInput(z.object({ status: z.enum(RESETTABLE_STATES) }).passthrough(), args, action);
        await cp.volumeDetails.resetState(ctx.p, v.id, a.status);
        return reply.code(202).send();
      }
      case 'os-force_delete':
        // Admin: whatever its state, unless a VM still has it.
        if (v.vmId) throw new OsError(400, `Volume ${v.id} is attached: detach it first`);
        await cp.volumeDetails.resetState(ctx.p, v.id, 'error');
        await cp.volumes.delete(ctx.p, v.id);
        return reply.code(202).send();
      case 'os-force_detach':
        // Admin: detach whatever its state (the VM is unplugged as by os-detach).
        if (!v.vmId) throw new OsError(400, `Volume ${v.id} is not attached`);
        await cp.volumeDetails.resetState(ctx.p, v.id, 'in-use');
        await cp.volumes.detach(ctx.p, v.id);
        return reply.code(202).send();
      case 'os-extend': {
        const a = parseInput(
          z.object({ new_size: z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]) }),
          args,
          'os-extend',
        );
        if (!Number.isInteger(a.new_size) || a.new_size <= v.sizeGiB)
          throw new OsError(400, `new_size must be an integer above the volume's ${v.sizeGiB} GiB`);
        throw new OsError(400, 'Extending a volume is not supported by nubis');
      }
      default:
        throw new OsError(400, `There is no such action: ${action}`);
    }
  });
}
