/**
 * Sharing an image with other tenants (Glance v2's image members,
 * https://docs.openstack.org/api-ref/image/v2/#sharing): the owning tenant adds a tenant to a
 * `shared` image (`pending`); that tenant accepts or rejects it, and sees and boots the image
 * (`cp.images.visible`); listings show it once accepted. Only the owner adds and removes members,
 * only the member answers.
 *
 * Uses: `cp.imageRecords` (the image as the caller sees it).
 */
import type { Selectable } from 'kysely';
import { authorize, reachesAllTenants } from '../authz.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import type { ImageMemberTable } from '../store/schema.ts';

/** A member record. */
export type ImageMember = Selectable<ImageMemberTable>;

/** A member's answers. */
export const MEMBER_STATUSES = ['pending', 'accepted', 'rejected'] as const;

/** The tenants images are shared with. */
export class ImageMembers extends Service {
  /** Share image `id` with tenant `member` (its owner, a `shared` image). @throws FORBIDDEN, ALREADY_EXISTS */
  async add(p: Principal, id: string, member: string) {
    const i = await this.owned(p, id);
    if (i.visibility !== 'shared')
      throw new ControlError(
        'FORBIDDEN',
        `Image "${i.name}" is ${i.visibility}: only shared images have members`,
      );
    const at = this.now();
    await this.unique(
      () =>
        this.db
          .insertInto('image_members')
          .values({ image_id: i.id, member_id: member, status: 'pending', created_at: at, updated_at: at })
          .execute(),
      `Image "${i.name}" is already shared with ${member}`,
    );
    await this.event(this.db, {
      tenantId: i.tenant_id,
      actor: p.userName,
      kind: 'image.shared',
      detail: { id: i.id, name: i.name, member },
    });
    return this.row(i.id, member);
  }

  /** The members of an image: all for its owner, only itself for a member. */
  async list(p: Principal, id: string): Promise<ImageMember[]> {
    const i = await this.cp.imageRecords.get(p, id);
    const q = this.db.selectFrom('image_members').selectAll().where('image_id', '=', i.id);
    const owner = i.tenant_id === p.tenantId || reachesAllTenants(p, 'image:download');
    return (owner ? q : q.where('member_id', '=', p.tenantId)).orderBy('created_at').execute();
  }

  /** One member (its owner, or the member itself). @throws NOT_FOUND */
  async get(p: Principal, id: string, member: string) {
    const m = (await this.list(p, id)).find((x) => x.member_id === member);
    if (!m) throw new ControlError('NOT_FOUND', `Image ${id} is not shared with ${member}`);
    return m;
  }

  /** The member answers (`accepted`, `rejected` or `pending` again); not its owner. */
  async answer(p: Principal, id: string, member: string, status: (typeof MEMBER_STATUSES)[number]) {
    authorize(p, 'image:upload');
    const m = await this.get(p, id, member);
    if (member !== p.tenantId)
      throw new ControlError('FORBIDDEN', `Only tenant ${member} accepts or rejects what is shared with it`);
    await this.db
      .updateTable('image_members')
      .set({ status, updated_at: this.now() })
      .where('image_id', '=', m.image_id)
      .where('member_id', '=', member)
      .execute();
    return this.row(m.image_id, member);
  }

  /** Stop sharing (the owner). @throws NOT_FOUND */
  async remove(p: Principal, id: string, member: string) {
    const i = await this.owned(p, id);
    const r = await this.db
      .deleteFrom('image_members')
      .where('image_id', '=', i.id)
      .where('member_id', '=', member)
      .executeTakeFirst();
    if (Number(r.numDeletedRows) !== 1)
      throw new ControlError('NOT_FOUND', `Image ${id} is not shared with ${member}`);
  }

  /** The images shared with the caller's tenant, with its answer for each. */
  async sharedWith(p: Principal): Promise<Map<string, string>> {
    const rows = await this.db
      .selectFrom('image_members')
      .select(['image_id', 'status'])
      .where('member_id', '=', p.tenantId)
      .execute();
    return new Map(rows.map((r) => [r.image_id, r.status]));
  }

  private async owned(p: Principal, id: string) {
    authorize(p, 'image:upload');
    const i = await this.cp.imageRecords.get(p, id);
    if (i.tenant_id !== p.tenantId && !reachesAllTenants(p, 'image:upload'))
      throw new ControlError('FORBIDDEN', `Image "${i.name}" is not your tenant's: only its owner shares it`);
    return i;
  }

  private row(id: string, member: string) {
    return this.db
      .selectFrom('image_members')
      .selectAll()
      .where('image_id', '=', id)
      .where('member_id', '=', member)
      .executeTakeFirstOrThrow();
  }
}
