/**
 * nubis's volumes as Cinder v3 shows them: exactly the keys of Tempest's `volume.volumes` schemas
 * (`create_volume`/`update_volume` for 202/200 answers, `show_volume` for reads: one extra key fails).
 * https://docs.openstack.org/api-ref/block-storage/v3/#volumes-volumes
 */
import type { VolumeView } from '../../../control/storage/volume-view.ts';

/** Cinder's default volume type (nubis has one kind of volume per pool, no types). */
export const DEFAULT_TYPE = {
  id: '00000000-0000-4000-8000-000000000001',
  name: '__DEFAULT__',
  description: 'Default Volume Type',
} as const;

/** The availability zone of a pool without a zone (Cinder's default zone). */
export const DEFAULT_ZONE = 'nova';

/** Which form of a volume an answer carries. */
export interface CinderViewOptions {
  /** `create`/`update` answers leave out the tenant and the admin keys. */
  form: 'create' | 'show';
  admin: boolean;
}

/** Cinder's name of a volume: its label, else its nubis name unless that is the automatic `volume-<id>`. */
export function cinderName(v: Pick<VolumeView, 'id' | 'name' | 'displayName'>): string | null {
  return v.displayName ?? (v.name === `volume-${v.id}` ? null : v.name);
}

/** Cinder's availability zone of a volume (its pool's zone). */
export const cinderZone = (v: Pick<VolumeView, 'zone'>) => v.zone ?? DEFAULT_ZONE;

/** Links of a volume (`root`: the absolute `.../openstack/volume`). */
export function volumeLinks(root: string, tenantId: string, id: string) {
  return [
    { rel: 'self', href: `${root}/v3/${tenantId}/volumes/${id}` },
    { rel: 'bookmark', href: `${root}/${tenantId}/volumes/${id}` },
  ];
}

/** A volume's summary (`GET /volumes`). */
export function cinderSummary(root: string, v: VolumeView) {
  return { id: v.id, name: cinderName(v), links: volumeLinks(root, v.tenantId, v.id) };
}

/** A volume's detail, in the form `o` says. */
export function cinderVolume(root: string, v: VolumeView, o: CinderViewOptions) {
  const body: Record<string, unknown> = {
    id: v.id,
    name: cinderName(v),
    status: v.state,
    size: v.sizeGiB,
    availability_zone: cinderZone(v),
    created_at: v.createdAt,
    updated_at: v.updatedAt,
    description: v.description,
    volume_type: DEFAULT_TYPE.name,
    snapshot_id: null,
    source_volid: v.sourceVolumeId,
    metadata: v.metadata,
    bootable: v.bootable ? 'true' : 'false',
    encrypted: false,
    multiattach: false,
    replication_status: null,
    consistencygroup_id: null,
    user_id: v.userId ?? '',
    attachments: v.attachment
      ? [
          {
            id: v.id,
            attachment_id: v.attachment.id,
            volume_id: v.id,
            server_id: v.vmId,
            host_name: v.attachment.host,
            device: v.attachment.device,
            attached_at: v.attachment.attachedAt,
          },
        ]
      : [],
    links: volumeLinks(root, v.tenantId, v.id),
  };
  if (o.form === 'show') {
    body['os-vol-tenant-attr:tenant_id'] = v.tenantId;
    if (o.admin) {
      // Cinder's host@backend#pool: nubis's host of a local volume (or `shared`), the pool's kind and name.
      body['os-vol-host-attr:host'] = `${v.host ?? 'shared'}@${v.poolKind ?? 'pool'}#${v.pool ?? 'pool'}`;
      body['os-vol-mig-status-attr:migstat'] = null;
      body['os-vol-mig-status-attr:name_id'] = null;
      body.migration_status = null;
    }
  }
  return body;
}
