/**
 * Cinder's other resources nubis answers: volume types (one default type), availability zones (the
 * storage pools' zones), limits and quota sets (the project's nubis storage quotas and usage).
 * https://docs.openstack.org/api-ref/block-storage/v3/ (volume types, availability zones, limits, quota sets)
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { DEFAULT_STORAGE_QUOTAS } from '../../../control/storage/storage-quotas.ts';
import { QUOTA_MAX } from '../../schemas.ts';
import { OsError, type OsDeps } from '../frame.ts';
import { parseInput, queryParam, v3Route, type VolumeCtx } from './context.ts';
import { DEFAULT_TYPE, DEFAULT_ZONE } from './volume-view.ts';

/** The default volume type as Cinder shows it. */
const volumeType = () => ({
  id: DEFAULT_TYPE.id,
  name: DEFAULT_TYPE.name,
  description: DEFAULT_TYPE.description,
  is_public: true,
  'os-volume-type-access:is_public': true,
  extra_specs: {},
  qos_specs_id: null,
});

/** The API extensions nubis serves (alias, name, what it adds), as Cinder lists them. */
const EXTENSIONS: [string, string, string][] = [
  ['os-availability-zone', 'AvailabilityZones', 'Describe availability zones.'],
  ['os-volume-actions', 'VolumeActions', 'Enable volume actions.'],
  [
    'os-vol-tenant-attr',
    'VolumeTenantAttribute',
    'Expose the internal project_id as an attribute of a volume.',
  ],
  ['os-vol-host-attr', 'VolumeHostAttribute', 'Expose host as an attribute of a volume.'],
  [
    'os-vol-mig-status-attr',
    'VolumeMigStatusAttribute',
    'Expose migration_status as an attribute of a volume.',
  ],
  ['os-quota-sets', 'Quotas', 'Quota management support.'],
  ['os-types-manage', 'TypesManage', 'Types manage support.'],
];

/** What nubis does not have, shown as Cinder shows an unlimited or unused kind. */
const NONE = { backups: 0, backupGiB: 0 };

/** Register types, zones, limits and quota sets. */
export function registerVolumeResources(s: FastifyInstance, deps: OsDeps): void {
  const { cp } = deps;
  v3Route(s, deps, 'GET', '/extensions', async () => ({
    extensions: EXTENSIONS.map(([alias, name, description]) => ({
      alias,
      name,
      description,
      updated: '2026-11-30T00:00:00+00:00',
      links: [],
    })),
  }));
  v3Route(s, deps, 'GET', '/types', async () => ({ volume_types: [volumeType()] }));
  v3Route(s, deps, 'GET', '/types/default', async () => ({ volume_type: volumeType() }));
  v3Route(s, deps, 'GET', '/types/:id', async (_ctx, req) => {
    const id = (req.params as { id: string }).id;
    if (id !== DEFAULT_TYPE.id && id !== DEFAULT_TYPE.name)
      throw new OsError(404, `Volume type "${id}" could not be found`);
    return { volume_type: volumeType() };
  });

  v3Route(s, deps, 'GET', '/os-availability-zone', async (ctx) => {
    const zones = new Set((await cp.pools.list(ctx.p)).map((x) => x.zone ?? DEFAULT_ZONE));
    if (!zones.size) zones.add(DEFAULT_ZONE);
    return {
      availabilityZoneInfo: [...zones]
        .sort()
        .map((zoneName) => ({ zoneName, zoneState: { available: true } })),
    };
  });

  const usage = async (ctx: VolumeCtx, project: string) => {
    const t = await cp.tenancyAdmin.getTenant(ctx.p, project);
    return { id: t.id, q: t.quotas as Record<string, number>, u: t.usage as Record<string, number> };
  };

  v3Route(s, deps, 'GET', '/limits', async (ctx) => {
    const { q, u } = await usage(ctx, ctx.p.tenantId);
    return {
      limits: {
        rate: [],
        absolute: {
          maxTotalVolumes: q.volumes,
          maxTotalVolumeGigabytes: q.volumeGiB,
          maxTotalSnapshots: q.volumeSnapshots,
          maxTotalBackups: NONE.backups,
          maxTotalBackupGigabytes: NONE.backupGiB,
          totalVolumesUsed: u.volumes,
          totalGigabytesUsed: u.volumeGiB,
          totalSnapshotsUsed: u.volumeSnapshots,
          totalBackupsUsed: 0,
          totalBackupGigabytesUsed: 0,
        },
      },
    };
  });

  /** Cinder's quota set of nubis's storage quotas (what nubis lacks: none, per volume: unlimited). */
  const limit = (n: number) => (n >= QUOTA_MAX ? -1 : n);
  const quotaSet = (q: Record<string, number>) => ({
    volumes: limit(q.volumes!),
    gigabytes: limit(q.volumeGiB!),
    snapshots: limit(q.volumeSnapshots!),
    backups: 0,
    backup_gigabytes: 0,
    groups: 0,
    per_volume_gigabytes: -1,
  });
  v3Route(s, deps, 'GET', '/os-quota-sets/:tenant/defaults', async (ctx, req) => {
    const { id } = await usage(ctx, (req.params as { tenant: string }).tenant);
    return { quota_set: { id, ...quotaSet(DEFAULT_STORAGE_QUOTAS) } };
  });
  v3Route(s, deps, 'PUT', '/os-quota-sets/:tenant', async (ctx, req) => {
    const b = parseInput(
      z.object({ quota_set: z.record(z.string(), z.union([z.number().int().min(-1), z.string()])) }),
      req.body,
      'quota_set',
    ).quota_set;
    const tenant = (req.params as { tenant: string }).tenant;
    const num = (k: string) => {
      const v = b[k];
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n < -1 || n > QUOTA_MAX) throw new OsError(400, `Invalid quota ${k}: ${v}`);
      // Cinder's -1 (unlimited) as nubis's largest quota.
      return n === -1 ? QUOTA_MAX : n;
    };
    const quotas = Object.fromEntries(
      (
        [
          ['volumes', num('volumes')],
          ['volumeGiB', num('gigabytes')],
          ['volumeSnapshots', num('snapshots')],
        ] as const
      ).filter(([, v]) => v !== undefined),
    );
    if (Object.keys(quotas).length) await cp.tenancyAdmin.updateTenant(ctx.p, tenant, { quotas });
    return { quota_set: quotaSet((await usage(ctx, tenant)).q) };
  });
  v3Route(s, deps, 'DELETE', '/os-quota-sets/:tenant', async (ctx, req, reply) => {
    await cp.tenancyAdmin.updateTenant(ctx.p, (req.params as { tenant: string }).tenant, {
      quotas: { ...DEFAULT_STORAGE_QUOTAS },
    });
    return reply.code(200).send();
  });
  v3Route(s, deps, 'GET', '/os-quota-sets/:tenant', async (ctx, req) => {
    const { id, q, u } = await usage(ctx, (req.params as { tenant: string }).tenant);
    const withUsage = /^(1|true)$/i.test(queryParam(req, 'usage') ?? '');
    const item = (max: number, inUse: number) =>
      withUsage ? { limit: max, in_use: inUse, reserved: 0 } : max;
    return {
      quota_set: {
        id,
        volumes: item(limit(q.volumes!), u.volumes!),
        gigabytes: item(limit(q.volumeGiB!), u.volumeGiB!),
        snapshots: item(limit(q.volumeSnapshots!), u.volumeSnapshots!),
        backups: item(0, 0),
        backup_gigabytes: item(0, 0),
        groups: item(0, 0),
        per_volume_gigabytes: item(-1, 0),
      },
    };
  });
}
