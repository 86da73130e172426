/**
 * Image records as Glance v2 sees them (issue 16), in nubis's own `images` table: registering an
 * image before its data (`queued`), its declared formats, minimums, protection, hiding, tags and
 * custom properties, visibility (`public` by admins only; `private`, `shared`, `community` by its
 * tenant), deactivation, and deletion (protected images refused; the rest through the catalog's
 * delete, so an image in use stays). The data itself goes through the registry
 * (`cp.images.receiveData`), which nubis's VMs boot from.
 *
 * Uses: `cp.images` (visibility, rows), `cp.catalogEdits` (delete).
 */
import type { Selectable, Updateable } from 'kysely';
import { authorize, reachesAllTenants } from '../authz.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import type { ImageTable } from '../store/schema.ts';

/** An image record. */
export type ImageRecord = Selectable<ImageTable>;

/** Who may see an image besides its tenant: everyone (`public`, `community`) or only its tenant. */
export const IMAGE_VISIBILITIES = ['public', 'private', 'shared', 'community'] as const;
export type ImageVisibility = (typeof IMAGE_VISIBILITIES)[number];

/** What a caller may set on an image (validated by the API; absent: unchanged, or the default). */
export interface ImageFields {
  name?: string;
  visibility?: ImageVisibility;
  /** The owning tenant (admins only). */
  owner?: string;
  protected?: boolean;
  osHidden?: boolean;
  containerFormat?: string | null;
  diskFormat?: string | null;
  minDisk?: number;
  minRam?: number;
  tags?: string[];
  properties?: Record<string, string>;
}

/** Glance's view of nubis's image records. */
export class ImageRecords extends Service {
  /**
   * Register an image without data (`queued`), owned by the caller's tenant (an admin may name
   * another, as Glance, even one nubis does not know: only admins see that image then). @throws FORBIDDEN (public by a non-admin), ALREADY_EXISTS (the name is taken)
   */
  async register(p: Principal, f: ImageFields, id = this.ctx.ids.uuid()) {
    authorize(p, 'image:upload');
    const visibility = f.visibility ?? 'shared';
    this.checkVisibility(p, visibility);
    if (f.owner !== undefined && f.owner !== p.tenantId && !reachesAllTenants(p, 'image:upload'))
      throw new ControlError('FORBIDDEN', 'Only admins register images for another tenant');
    const at = this.now();
    const name = f.name ?? id;
    await this.unique(
      () =>
        this.db
          .insertInto('images')
          .values({
            id,
            name,
            format: f.diskFormat === 'qcow2' ? 'qcow2' : 'raw',
            size_mib: 0,
            created_at: at,
            updated_at: at,
            tenant_id: f.owner ?? p.tenantId,
            visibility,
            status: 'queued',
            file: null,
            container_format: f.containerFormat ?? null,
            disk_format: f.diskFormat ?? null,
            min_disk: f.minDisk ?? 0,
            min_ram: f.minRam ?? 0,
            protected: f.protected ? 1 : 0,
            os_hidden: f.osHidden ? 1 : 0,
            tags: JSON.stringify([...new Set(f.tags ?? [])]),
            properties: JSON.stringify(f.properties ?? {}),
          })
          .execute(),
      `Image "${name}" already exists`,
    );
    await this.event(this.db, {
      tenantId: f.owner ?? p.tenantId,
      actor: p.userName,
      kind: 'image.registered',
      detail: { id, name, visibility },
    });
    return this.cp.images.row(this.db, id);
  }

  /** An image the caller sees, by id only (Glance has no lookup by name). */
  async get(p: Principal, id: string): Promise<ImageRecord> {
    authorize(p, 'image:read');
    const i = await this.cp.images.visible(this.db, p, id);
    if (i.id !== id) throw new ControlError('NOT_FOUND', `No image with ID ${id}`);
    return i;
  }

  /**
   * Every image the caller sees: public and community ones, the catalog's, its tenant's, those
   * shared with it whatever its answer (admins: all), newest first; the API filters, sorts and pages.
   */
  async list(p: Principal): Promise<ImageRecord[]> {
    authorize(p, 'image:read');
    const all = reachesAllTenants(p, 'image:download');
    const shared = await this.cp.imageMembers.sharedWith(p);
    const rows = await this.db
      .selectFrom('images')
      .selectAll()
      .where('deleted_at', 'is', null)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .execute();
    return rows.filter(
      (i) =>
        all ||
        i.visibility === 'public' ||
        i.visibility === 'community' ||
        i.tenant_id === null ||
        i.tenant_id === p.tenantId ||
        (i.visibility === 'shared' && shared.has(i.id)),
    );
  }

  /**
   * Change an image (Glance's PATCH): its tenant's members or an admin; a public or catalog image
   * only by an admin. Formats only while it has no data. @throws FORBIDDEN, NOT_FOUND, ALREADY_EXISTS
   */
  async update(p: Principal, id: string, f: ImageFields) {
    const i = await this.owned(p, id);
    if (f.visibility !== undefined && f.visibility !== i.visibility) this.checkVisibility(p, f.visibility);
    if (f.owner !== undefined && f.owner !== i.tenant_id && !reachesAllTenants(p, 'image:upload'))
      throw new ControlError('FORBIDDEN', 'Only admins change the owner of an image');
    const formats = f.containerFormat !== undefined || f.diskFormat !== undefined;
    if (formats && i.status !== 'queued')
      throw new ControlError('FORBIDDEN', `Image "${i.name}" has data: its formats cannot change`);
    const set: Updateable<ImageTable> = { updated_at: this.now() };
    if (f.name !== undefined) set.name = f.name;
    if (f.visibility !== undefined) set.visibility = f.visibility;
    if (f.owner !== undefined) set.tenant_id = f.owner;
    if (f.protected !== undefined) set.protected = f.protected ? 1 : 0;
    if (f.osHidden !== undefined) set.os_hidden = f.osHidden ? 1 : 0;
    if (f.containerFormat !== undefined) set.container_format = f.containerFormat;
    if (f.diskFormat !== undefined) set.disk_format = f.diskFormat;
    if (f.minDisk !== undefined) set.min_disk = f.minDisk;
    if (f.minRam !== undefined) set.min_ram = f.minRam;
    if (f.tags !== undefined) set.tags = JSON.stringify([...new Set(f.tags)]);
    if (f.properties !== undefined) set.properties = JSON.stringify(f.properties);
    await this.unique(
      () =>
        this.db.transaction().execute(async (trx) => {
          await trx.updateTable('images').set(set).where('id', '=', i.id).execute();
          await this.event(trx, {
            tenantId: i.tenant_id,
            actor: p.userName,
            kind: 'image.updated',
            detail: {
              id: i.id,
              name: f.name ?? i.name,
              changed: Object.keys(set).filter((k) => k !== 'updated_at'),
            },
          });
        }),
      `Image "${f.name}" already exists`,
    );
    return this.cp.images.row(this.db, i.id);
  }

  /** Add or remove one tag. @throws NOT_FOUND (removing a tag it lacks) */
  async tag(p: Principal, id: string, tag: string, add: boolean) {
    const i = await this.owned(p, id);
    const tags = JSON.parse(i.tags) as string[];
    if (!add && !tags.includes(tag))
      throw new ControlError('NOT_FOUND', `Image "${i.name}" has no tag "${tag}"`);
    return this.update(p, id, { tags: add ? [...tags, tag] : tags.filter((t) => t !== tag) });
  }

  /**
   * Deactivate an active image (no VM may boot from it, its data cannot be downloaded except by
   * admins) or reactivate it. @throws INVALID_STATE (not active, or not deactivated)
   */
  async setActive(p: Principal, id: string, active: boolean) {
    const i = await this.owned(p, id);
    const from = active ? 'deactivated' : 'active';
    const to = active ? 'active' : 'deactivated';
    if (i.status === to) return i;
    if (i.status !== from)
      throw new ControlError('INVALID_STATE', `Image "${i.name}" is ${i.status}: it cannot become ${to}`);
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('images')
        .set({ status: to, updated_at: this.now() })
        .where('id', '=', i.id)
        .where('status', '=', from)
        .execute();
      await this.event(trx, {
        tenantId: i.tenant_id,
        actor: p.userName,
        kind: active ? 'image.reactivated' : 'image.deactivated',
        detail: { id: i.id, name: i.name },
      });
    });
    return this.cp.images.row(this.db, i.id);
  }

  /** Delete an image by id: the catalog's rules (not while protected, nor while VMs or volumes use it). */
  async delete(p: Principal, id: string) {
    const i = await this.get(p, id);
    await this.cp.catalogEdits.deleteCatalogItem(p, 'image', i.id);
    await this.db.deleteFrom('image_members').where('image_id', '=', i.id).execute();
  }

  /** An image the caller may change: its tenant's (or any, for an admin). */
  private async owned(p: Principal, id: string) {
    authorize(p, 'image:upload');
    const i = await this.get(p, id);
    if (i.tenant_id !== p.tenantId && !reachesAllTenants(p, 'image:upload'))
      throw new ControlError('FORBIDDEN', `Image "${i.name}" is not your tenant's: only admins change it`);
    return i;
  }

  private checkVisibility(p: Principal, v: ImageVisibility) {
    if (v === 'public' && p.role !== 'admin')
      throw new ControlError('FORBIDDEN', 'Only admins make images public');
  }
}
