/** VMs: list, create (or dry-run placement), lifecycle actions, delete, live migration. */
import { z } from 'zod';
import { VM_ACTIONS, type VmAction } from '../../control/vm-states.ts';
import { memberDecision, seesHosts } from '../host-privacy.ts';
import type { RouteModule } from '../route-def.ts';
import { listRoute } from '../pagination.ts';
import { idParam, name } from '../schemas.ts';

/** The fields of a VM in a list (`fields`). */
const VM_FIELDS = [
  'id',
  'name',
  'tenantId',
  'state',
  'flavor',
  'image',
  'hostId',
  'hostName',
  'serverGroupId',
  'createdAt',
  'updatedAt',
  'cpu',
  'ha',
  'haPriority',
  'allowedActions',
] as const;

/**
 * GET/POST /v1/vms, GET/DELETE /v1/vms/:id, POST /v1/vms/:id/{actions,migrate}, GET /v1/vms/:id/snapshots,
 * DELETE /v1/vms/:id/snapshots/:name. `:id` is a VM's id or a name unique among the VMs the caller sees.
 */
export const vmRoutes: RouteModule = (route, { cp }) => {
  listRoute(route, {
    url: '/v1/vms',
    summary: "List VMs (your tenant's; all for admin and operator), oldest first",
    tag: 'vms',
    filters: {
      state: z.string().max(50).optional(),
      host: z.string().max(200).optional().describe('a host id (admin, operator)'),
      tenant: z.string().max(200).optional().describe('a tenant id or name (admin, operator)'),
      zone: z.string().max(200).optional(),
      flavor: z.string().max(200).optional().describe('a flavor id or name'),
      image: z.string().max(200).optional().describe('an image id or name'),
      name: z.string().max(200).optional().describe('a name prefix'),
      serverGroup: z.string().max(200).optional().describe('a server group id'),
    },
    fields: VM_FIELDS,
    page: ({ p, query }) => {
      const { limit: _l, cursor: _c, fields: _f, ...filters } = query as Record<string, string | undefined>;
      return cp.pageVms(p, filters, { limit: query.limit, cursor: query.cursor });
    },
  });
  route({
    method: 'GET',
    url: '/v1/vms/:id',
    summary: 'One VM with the actions its state allows',
    tag: 'vms',
    params: idParam,
    handler: async ({ p, params }) => cp.getVm(p, params.id),
  });
  route({
    method: 'GET',
    url: '/v1/vms/:id/memory',
    summary:
      "A VM's measured memory: working set (mean, deviation), resident, sharing summary; never page hashes",
    tag: 'vms',
    params: idParam,
    handler: async ({ p, params }) => cp.memoryReads.vmMemory(p, params.id),
  });
  route({
    method: 'POST',
    url: '/v1/vms',
    summary: 'Create a VM (202 with an operation); dryRun answers where it would go and why',
    tag: 'vms',
    status: 202,
    body: z
      .object({
        name,
        flavor: z.string().min(1),
        image: z.string().min(1),
        serverGroup: z.string().optional(),
        preset: z.enum(['pack', 'spread', 'first-fit']).optional(),
        zone: z.string().optional(),
        tier: z.string().optional(),
        ha: z.boolean().optional(),
        haPriority: z.number().int().min(0).max(100).optional(),
        constraints: z.array(z.string().min(1).max(200)).max(100).optional(),
        networks: z.array(z.string().min(1).max(200)).max(8).optional(),
        ports: z.array(z.string().min(1).max(200)).max(8).optional(),
        securityGroups: z.array(z.string().min(1).max(200)).max(20).optional(),
        key: z.string().min(1).max(200).optional(),
        userData: z.string().max(65536).optional(),
        volumes: z.array(z.string().min(1).max(200)).max(16).optional(),
        dryRun: z.boolean().optional(),
      })
      .strict(),
    handler: async ({ p, body, reply }) => {
      if (body.dryRun) {
        reply.code(200);
        const d = await cp.placement(p, body);
        if (seesHosts(p)) return d;
        // Members learn whether it fits and why not, counted per filter, never which host.
        const f = (await cp.listFlavors(p)).find((x) => x.id === body.flavor || x.name === body.flavor);
        return memberDecision(d, { vcpus: f?.vcpus ?? 0, memoryMiB: f?.memoryMiB ?? 0, zone: body.zone });
      }
      return cp.createVm(p, body);
    },
  });
  route({
    method: 'POST',
    url: '/v1/vms/:id/actions',
    summary: `Run a lifecycle action: ${Object.keys(VM_ACTIONS).join(', ')} (202 with an operation)`,
    tag: 'vms',
    status: 202,
    params: idParam,
    body: z
      .object({
        action: z.enum(Object.keys(VM_ACTIONS) as [VmAction, ...VmAction[]]),
        snapshotName: name.optional(),
        flavor: z.string().optional(),
        name: name.optional(),
      })
      .strict(),
    handler: async ({ p, params, body }) =>
      cp.vmAction(p, params.id, body.action, {
        snapshotName: body.snapshotName,
        flavor: body.flavor,
        name: body.name,
      }),
  });
  route({
    method: 'DELETE',
    url: '/v1/vms/:id',
    summary: 'Delete a VM (202 with an operation)',
    tag: 'vms',
    status: 202,
    params: idParam,
    handler: async ({ p, params }) => cp.vmAction(p, params.id, 'delete'),
  });
  route({
    method: 'POST',
    url: '/v1/vms/:id/migrate',
    summary:
      'Live-migrate a VM (to a host, or where placement says; only admins and operators name a host); a downtime target lets the models choose the settings',
    tag: 'vms',
    status: 202,
    params: idParam,
    body: z
      .object({
        toHost: z.string().optional(),
        mode: z.enum(['stop-and-copy', 'precopy', 'postcopy']).optional(),
        downtimeTargetMs: z.number().positive().optional(),
        bandwidthMbps: z.number().positive().optional(),
      })
      .strict(),
    handler: async ({ p, params, body }) => cp.migrateVm(p, params.id, body),
  });
  route({
    method: 'GET',
    url: '/v1/vms/:id/snapshots',
    summary: "A VM's snapshots, oldest first",
    tag: 'vms',
    params: idParam,
    handler: async ({ p, params }) => cp.snapshots.listSnapshots(p, params.id),
  });
  route({
    method: 'DELETE',
    url: '/v1/vms/:id/snapshots/:name',
    summary: 'Delete one snapshot of a VM',
    tag: 'vms',
    status: 204,
    params: z.object({ id: z.string().min(1).max(200), name }).strict(),
    handler: async ({ p, params }) => {
      await cp.snapshots.deleteSnapshot(p, params.id, params.name);
      return undefined;
    },
  });
};
