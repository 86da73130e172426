/**
 * Cinder's other resources nubis answers: volume types (one default type), availability zones (the
 * storage pools' zones), limits and quota sets (the project's nubis storage quotas and usage).
 * https://docs.openstack.org/api-ref/block-storage/v3/ (volume types, availability zones, limits, quota sets)
 */
import type { FastifyInstance } from 'fastify';
import { OsError, type OsDeps } from '../frame.ts';
import { queryParam, v3Route, type VolumeCtx } from './context.ts';
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

  v3Route(s, deps, 'GET', '/os-quota-sets/:tenant', async (ctx, req) => {
    const { id, q, u } = await usage(ctx, (req.params as { tenant: string }).tenant);
    const withUsage = /^(1|true)$/i.test(queryParam(req, 'usage') ?? '');
    const item = (limit: number, inUse: number) =>
      withUsage ? { limit, in_use: inUse, reserved: 0 } : limit;
    return {
      quota_set: {
        id,
        volumes: item(q.volumes!, u.volumes!),
        gigabytes: item(q.volumeGiB!, u.volumeGiB!),
        snapshots: item(q.volumeSnapshots!, u.volumeSnapshots!),
        backups: item(0, 0),
        backup_gigabytes: item(0, 0),
        groups: item(0, 0),
        per_volume_gigabytes: item(-1, 0),
      },
    };
  });
}
