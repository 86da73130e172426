/**
 * The image registry: images uploaded by tenants (private) or admins (public), streamed to the image
 * folder with their checksum and format (the `ImageFiles` port), served back to their owners and to
 * hosts, which cache them by checksum (`ImageRef`). An upload is one request: the record is `queued`
 * while the data arrives and `active` after; on any failure the record and the file are removed, so
 * nothing is half-registered. Glance registers a record first (`queued`, no file) and sends its data
 * later ({@link ImageRegistry.receiveData}: `saving`, then `active`, or `queued` again on failure).
 *
 * Uses: `cp.enrollment` (host credentials).
 */
import { createHash } from 'node:crypto';
import type { Selectable } from 'kysely';
import type { ImageRef } from '../../core/storage/host-storage.ts';
import { authorize, reachesAllTenants } from '../authz.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { notFoundInTenant } from '../security/tenant-lookup.ts';
import { Service } from '../service.ts';
import type { Db } from '../store/open-store.ts';
import type { ImageTable } from '../store/schema.ts';
import { DEFAULT_IMAGE_MAX_BYTES, NO_IMAGE_FILES } from './image-files.ts';

type ImageRow = Selectable<ImageTable>;

/** Where a host downloads an image (relative to the control plane's URL; the host authenticates). */
export const hostImageUrl = (id: string) => `/v1/agents/images/${encodeURIComponent(id)}/data`;

/** The registry of uploaded images. */
export class ImageRegistry extends Service {
  /** Uploads this process is receiving (the reconciler leaves their `queued` records alone). */
  private readonly uploading = new Set<string>();

  private get files() {
    return this.ctx.imageFiles ?? NO_IMAGE_FILES;
  }

  /**
   * Upload image `name` from `data` (streamed). Private to the caller's tenant unless `public`
   * (admins only). @throws ALREADY_EXISTS (the name is taken), BAD_REQUEST (not an image, too large).
   */
  async upload(
    p: Principal,
    name: string,
    data: AsyncIterable<Uint8Array>,
    o: { public?: boolean; contentType?: string } = {},
  ) {
    authorize(p, 'image:upload');
    if (o.contentType !== undefined && !o.contentType.startsWith('application/octet-stream'))
      throw new ControlError(
        'BAD_REQUEST',
        'Send the image file as the body with Content-Type application/octet-stream',
      );
    if (o.public && p.role !== 'admin')
      throw new ControlError('FORBIDDEN', 'Only admins publish public images; upload it without --public');
    const id = this.ctx.ids.uuid();
    const at = this.now();
    await this.unique(
      () =>
        this.db
          .insertInto('images')
          .values({
            id,
            name,
            format: 'raw',
            size_mib: 0,
            created_at: at,
            tenant_id: p.tenantId,
            visibility: o.public ? 'public' : 'private',
            status: 'queued',
            file: id,
          })
          .execute(),
      `Image "${name}" already exists`,
    );
    this.uploading.add(id);
    // Several API processes: the leader's reconciler must not take this upload for an interrupted one.
    this.ctx.operationOwners?.holdUntilReleased(`image:${id}`);
    try {
      const s = await this.files.receive(id, data, this.ctx.imageMaxBytes ?? DEFAULT_IMAGE_MAX_BYTES);
      await this.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('images')
          .set({
            status: 'active',
            format: s.format,
            sha256: s.sha256,
            size_bytes: s.sizeBytes,
            virtual_size_bytes: s.virtualSizeBytes,
            size_mib: Math.max(1, Math.ceil(s.virtualSizeBytes / 2 ** 20)),
          })
          .where('id', '=', id)
          .execute();
        await this.event(trx, {
          tenantId: p.tenantId,
          actor: p.userName,
          kind: 'image.uploaded',
          detail: { id, name, sha256: s.sha256, sizeBytes: s.sizeBytes, format: s.format },
        });
      });
    } catch (e) {
      await this.db.deleteFrom('images').where('id', '=', id).execute();
      await this.files.remove(id);
      throw e;
    } finally {
      this.uploading.delete(id);
      this.ctx.operationOwners?.release(`image:${id}`);
    }
    return this.view(await this.row(this.db, id));
  }

  /**
   * Receive the data of a registered image (Glance's `PUT /v2/images/{id}/file`): the caller's tenant
   * owns it (or an admin), it is `queued`; streamed to the image folder with its SHA-256, MD5 and
   * SHA-512 computed on the way, then `active`. On any failure it is `queued` again, without data.
   * @throws NOT_FOUND, FORBIDDEN (not its tenant's), INVALID_STATE (not queued), BAD_REQUEST (not an image)
   */
  async receiveData(p: Principal, id: string, data: AsyncIterable<Uint8Array>) {
    authorize(p, 'image:upload');
    const i = await this.visible(this.db, p, id);
    if (i.tenant_id !== p.tenantId && !reachesAllTenants(p, 'image:upload'))
      throw new ControlError(
        'FORBIDDEN',
        `Image "${i.name}" is not your tenant's: you cannot upload its data`,
      );
    const claimed = await this.db
      .updateTable('images')
      .set({ status: 'saving', file: i.id, updated_at: this.now() })
      .where('id', '=', i.id)
      .where('status', '=', 'queued')
      .where('file', 'is', null)
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) !== 1)
      throw new ControlError('INVALID_STATE', `Image "${i.name}" is ${i.status}: its data was already sent`);
    this.uploading.add(i.id);
    this.ctx.operationOwners?.holdUntilReleased(`image:${i.id}`);
    const md5 = createHash('md5');
    const sha512 = createHash('sha512');
    const tee = async function* () {
      for await (const chunk of data) {
        md5.update(chunk);
        sha512.update(chunk);
        yield chunk;
      }
    };
    try {
      const max = this.ctx.imageMaxBytes ?? DEFAULT_IMAGE_MAX_BYTES;
      const s = await this.files.receive(i.id, tee(), max, { partialSector: true });
      await this.db.transaction().execute(async (trx) => {
        await trx
          .updateTable('images')
          .set({
            status: 'active',
            format: s.format,
            sha256: s.sha256,
            md5: md5.digest('hex'),
            sha512: sha512.digest('hex'),
            size_bytes: s.sizeBytes,
            virtual_size_bytes: s.virtualSizeBytes,
            size_mib: Math.max(1, Math.ceil(s.virtualSizeBytes / 2 ** 20)),
            updated_at: this.now(),
          })
          .where('id', '=', i.id)
          .execute();
        await this.event(trx, {
          tenantId: i.tenant_id,
          actor: p.userName,
          kind: 'image.uploaded',
          detail: { id: i.id, name: i.name, sha256: s.sha256, sizeBytes: s.sizeBytes, format: s.format },
        });
      });
    } catch (e) {
      await this.db
        .updateTable('images')
        .set({ status: 'queued', file: null })
        .where('id', '=', i.id)
        .execute();
      await this.files.remove(i.id);
      throw e;
    } finally {
      this.uploading.delete(i.id);
      this.ctx.operationOwners?.release(`image:${i.id}`);
    }
    return this.row(this.db, i.id);
  }

  /** An image the caller may see (public, catalog, or its tenant's), by id or name. */
  async get(p: Principal, ref: string) {
    authorize(p, 'image:read');
    return this.view(await this.visible(this.db, p, ref));
  }

  /**
   * Make an image public (admins only) or private (admins, or the members of the tenant that owns
   * it). Another tenant's private image is NOT_FOUND; one the caller sees but does not own (public or
   * from the catalog) is FORBIDDEN. VMs and volumes already made from it keep working.
   */
  async setVisibility(p: Principal, ref: string, visibility: 'public' | 'private') {
    authorize(p, 'image:upload');
    const i = await this.visible(this.db, p, ref);
    const admin = reachesAllTenants(p, 'image:upload');
    if (!admin && i.tenant_id !== p.tenantId)
      throw new ControlError(
        'FORBIDDEN',
        `Image "${i.name}" is not your tenant's: only admins change its visibility`,
      );
    if (visibility === 'public' && p.role !== 'admin')
      throw new ControlError('FORBIDDEN', `Only admins make images public; image "${i.name}" stays private`);
    if (i.tenant_id === null && visibility === 'private')
      throw new ControlError(
        'BAD_REQUEST',
        `Image "${i.name}" is a catalog image (no tenant owns it): every tenant sees it`,
      );
    if (i.visibility !== visibility)
      await this.db.transaction().execute(async (trx) => {
        await trx.updateTable('images').set({ visibility }).where('id', '=', i.id).execute();
        await this.event(trx, {
          tenantId: i.tenant_id,
          actor: p.userName,
          kind: 'image.updated',
          detail: { id: i.id, name: i.name, visibility },
        });
      });
    return this.view(await this.row(this.db, i.id));
  }

  /** The data of an uploaded image the caller may see. */
  async download(p: Principal, ref: string) {
    authorize(p, 'image:download');
    const i = await this.visible(this.db, p, ref);
    if (i.status === 'deactivated' && p.role !== 'admin')
      throw new ControlError('FORBIDDEN', `Image "${i.name}" is deactivated: only admins download its data`);
    return this.data(i);
  }

  /** The data of any uploaded image, for the host holding `credential` (it may run any tenant's VM). */
  async downloadForHost(credential: string | undefined, ref: string) {
    await this.cp.enrollment.authenticateHost(credential);
    const i = await this.db
      .selectFrom('images')
      .selectAll()
      .where('id', '=', ref)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (!i) throw new ControlError('NOT_FOUND', `No image "${ref}"`);
    return this.data(i);
  }

  private data(i: ImageRow) {
    if ((i.status !== 'active' && i.status !== 'deactivated') || !i.file || !i.sha256)
      throw new ControlError(
        'INVALID_STATE',
        `Image "${i.name}" has no uploaded data (a catalog image or still queued)`,
      );
    return { image: this.view(i), data: this.files.read(i.file) };
  }

  /**
   * An image by id or name as `p` may see it (a `shared` one also by the tenants it is shared with);
   * NOT_FOUND for another tenant's private image.
   */
  async visible(db: Db, p: Principal, ref: string) {
    const i = await db
      .selectFrom('images')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]))
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    const mine =
      i &&
      (i.visibility === 'public' ||
        i.visibility === 'community' ||
        i.tenant_id === null ||
        i.tenant_id === p.tenantId);
    const member =
      i &&
      !mine &&
      i.visibility === 'shared' &&
      (await db
        .selectFrom('image_members')
        .select('status')
        .where('image_id', '=', i.id)
        .where('member_id', '=', p.tenantId)
        .executeTakeFirst());
    if (!i || (!mine && !member && !reachesAllTenants(p, 'image:download'))) {
      const message = `No image "${ref}"; see GET /v1/images`;
      throw i
        ? await notFoundInTenant(db, p, 'image:download', 'image', i.id, message)
        : new ControlError('NOT_FOUND', message);
    }
    return i;
  }

  /** What a host is given to boot from an uploaded image (undefined for a catalog image). */
  refOf(i: Pick<ImageRow, 'id' | 'sha256' | 'size_bytes' | 'format' | 'status'>): ImageRef | undefined {
    if (!i.sha256 || i.status !== 'active') return undefined;
    return {
      id: i.id,
      sha256: i.sha256,
      sizeBytes: i.size_bytes ?? 0,
      format: i.format === 'qcow2' ? 'qcow2' : 'raw',
      url: hostImageUrl(i.id),
    };
  }

  /**
   * Settle the uploads a crash interrupted (those no upload of this process is receiving) and remove
   * their partial files: a `queued` record with a file (nubis's one-request upload) is removed; a
   * `saving` one (Glance's upload into a registered record) is `queued` again, without data.
   * Returns their names.
   */
  async removeInterrupted(): Promise<string[]> {
    const rows = await this.db
      .selectFrom('images')
      .select(['id', 'name', 'file', 'status'])
      .where((eb) =>
        eb.or([
          eb.and([eb('status', '=', 'queued'), eb('file', 'is not', null)]),
          eb('status', '=', 'saving'),
        ]),
      )
      .execute();
    const out: string[] = [];
    const others = this.ctx.operationOwners;
    const elsewhere = others?.heldElsewhere(
      rows.filter((r) => !this.uploading.has(r.id)).map((r) => `image:${r.id}`),
    );
    const uploadingElsewhere = rows.length && elsewhere ? await elsewhere : new Set<string>();
    for (const r of rows) {
      if (this.uploading.has(r.id) || uploadingElsewhere.has(`image:${r.id}`)) continue;
      if (r.status === 'saving')
        await this.db
          .updateTable('images')
          .set({ status: 'queued', file: null })
          .where('id', '=', r.id)
          .where('status', '=', 'saving')
          .execute();
      else await this.db.deleteFrom('images').where('id', '=', r.id).where('status', '=', 'queued').execute();
      await this.removeFile(r.file);
      out.push(r.name);
    }
    return out;
  }

  /** Remove an uploaded image's file (after its record is deleted). */
  async removeFile(file: string | null) {
    if (file) await this.files.remove(file);
  }

  /** The record of image `id` (no authorization: the caller has checked it). */
  async row(db: Db, id: string) {
    return db.selectFrom('images').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  }

  /** The API view of an image row. */
  view(i: ImageRow) {
    return {
      id: i.id,
      name: i.name,
      format: i.format,
      sizeMiB: i.size_mib,
      visibility: i.visibility,
      status: i.status,
      tenantId: i.tenant_id,
      sha256: i.sha256,
      sizeBytes: i.size_bytes,
      virtualSizeBytes: i.virtual_size_bytes,
      protected: i.protected === 1,
      tags: JSON.parse(i.tags) as string[],
    };
  }
}
