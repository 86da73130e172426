/**
 * Editing and removing the catalog: flavors and images (rename; a flavor's sizes only while nothing
 * ever used it; delete when no VM or scaling group uses it) and server groups (read one; delete an
 * empty one). Deleted flavors and images are kept, hidden, for history (usage and invoices name
 * them) and their name is free again.
 *
 * Uses: `cp.scheduler` (server group lookup).
 */
import { allows, authorize, authorizeTenantObject } from '../authz.ts';
import { notFoundInTenant } from '../security/tenant-lookup.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';
import { deletedName } from './host-edits.ts';

type Kind = 'flavor' | 'image';
const TABLE = { flavor: 'flavors', image: 'images' } as const;
const COLUMN = { flavor: 'flavor_id', image: 'image_id' } as const;
const label = (what: string, names: string[]) =>
  `${what} ${names.slice(0, 5).join(', ')}${names.length > 5 ? ` and ${names.length - 5} more` : ''}`;

/** Editing and removing flavors, images and server groups. */
export class CatalogEdits extends Service {
  private async row(kind: Kind, ref: string) {
    const r = await this.db
      .selectFrom(TABLE[kind])
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]))
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (!r) throw new ControlError('NOT_FOUND', `No ${kind} "${ref}"`);
    return r;
  }

  /** What still uses a flavor or image: live VMs and scaling groups, as text; empty when unused. */
  private async users(
    kind: Kind,
    id: string,
  ): Promise<{ text: string[]; vms: string[]; groups: string[]; volumes: string[] }> {
    const vms = (
      await this.db
        .selectFrom('vms')
        .select('name')
        .where(COLUMN[kind], '=', id)
        .where('deleted_at', 'is', null)
        .orderBy('name')
        .execute()
    ).map((v) => v.name);
    const groups = (
      await this.db
        .selectFrom('scaling_groups')
        .select('name')
        .where(COLUMN[kind], '=', id)
        .orderBy('name')
        .execute()
    ).map((g) => g.name);
    const volumes =
      kind === 'image'
        ? (
            await this.db
              .selectFrom('volumes')
              .select('name')
              .where('image_id', '=', id)
              .where('deleted_at', 'is', null)
              .orderBy('name')
              .execute()
          ).map((v) => v.name)
        : [];
    const text = [
      ...(vms.length ? [label(`VM(s)`, vms)] : []),
      ...(groups.length ? [label('scaling group(s)', groups)] : []),
      ...(volumes.length ? [label('volume(s)', volumes)] : []),
    ];
    return { text, vms, groups, volumes };
  }

  /** Rename a flavor, or change its sizes while no VM has ever used it (usage and invoices read them). */
  async updateFlavor(
    p: Principal,
    ref: string,
    c: { name?: string; vcpus?: number; memoryMiB?: number; diskGiB?: number },
  ) {
    authorize(p, 'flavor:write');
    const f = await this.row('flavor', ref);
    const sizes = c.vcpus !== undefined || c.memoryMiB !== undefined || c.diskGiB !== undefined;
    if (sizes) {
      const u = await this.users('flavor', f.id);
      const billed = await this.db
        .selectFrom('usage')
        .select('id')
        .where('flavor_id', '=', f.id)
        .executeTakeFirst();
      if (u.text.length || billed)
        throw new ControlError(
          'INVALID_STATE',
          `Flavor "${f.name}" is in use (${u.text.join('; ') || 'past usage records'}): its sizes cannot change; create a new flavor`,
          { flavor: f.name, vms: u.vms, scalingGroups: u.groups },
        );
    }
    const name = c.name ?? f.name;
    await this.unique(
      () =>
        this.db.transaction().execute(async (trx) => {
          await trx
            .updateTable('flavors')
            .set({
              name,
              vcpus: c.vcpus ?? f.vcpus,
              memory_mib: c.memoryMiB ?? f.memory_mib,
              disk_gib: c.diskGiB ?? f.disk_gib,
            })
            .where('id', '=', f.id)
            .execute();
          await this.event(trx, { actor: p.userName, kind: 'flavor.updated', detail: { id: f.id, ...c } });
        }),
      `Flavor "${name}" already exists`,
    );
    const g = await this.row('flavor', f.id);
    return { id: g.id, name: g.name, vcpus: g.vcpus, memoryMiB: g.memory_mib, diskGiB: g.disk_gib };
  }

  /** Rename an image, or change its size while no VM or scaling group uses it. */
  async updateImage(p: Principal, ref: string, c: { name?: string; sizeMiB?: number }) {
    authorize(p, 'image:write');
    const i = await this.row('image', ref);
    if (c.sizeMiB !== undefined) {
      const u = await this.users('image', i.id);
      if (u.text.length)
        throw new ControlError(
          'INVALID_STATE',
          `Image "${i.name}" is in use (${u.text.join('; ')}): its size cannot change`,
          { image: i.name, vms: u.vms, scalingGroups: u.groups },
        );
    }
    const name = c.name ?? i.name;
    await this.unique(
      () =>
        this.db.transaction().execute(async (trx) => {
          await trx
            .updateTable('images')
            .set({ name, size_mib: c.sizeMiB ?? i.size_mib })
            .where('id', '=', i.id)
            .execute();
          await this.event(trx, { actor: p.userName, kind: 'image.updated', detail: { id: i.id, ...c } });
        }),
      `Image "${name}" already exists`,
    );
    const g = await this.row('image', i.id);
    return { id: g.id, name: g.name, format: g.format, sizeMiB: g.size_mib };
  }

  /** Delete a flavor or image no VM or scaling group uses (INVALID_STATE naming them otherwise). */
  async deleteCatalogItem(p: Principal, kind: Kind, ref: string) {
    // A tenant's own uploaded image is deleted by its members (image:upload); the rest by admins.
    const own =
      kind === 'image' &&
      (await this.db
        .selectFrom('images')
        .select('id')
        .where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]))
        .where('tenant_id', '=', p.tenantId)
        .where('deleted_at', 'is', null)
        .executeTakeFirst());
    if (kind === 'image' && !own && !allows(p, 'image:write')) {
      // Another tenant's private image is not there for this caller: 404, as for any of its objects.
      const seen = await this.db
        .selectFrom('images')
        .select('id')
        .where((eb) => eb.or([eb('id', '=', ref), eb('name', '=', ref)]))
        .where((eb) => eb.or([eb('tenant_id', 'is', null), eb('visibility', '=', 'public')]))
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
      if (!seen) throw await notFoundInTenant(this.db, p, 'image:write', 'image', ref, `No image "${ref}"`);
    }
    authorize(p, kind === 'flavor' ? 'flavor:write' : own ? 'image:upload' : 'image:write');
    const r = await this.row(kind, ref);
    if (kind === 'image' && (r as { protected?: number }).protected)
      throw new ControlError('FORBIDDEN', `Image "${r.name}" is protected: unprotect it before deleting it`);
    const u = await this.users(kind, r.id);
    if (u.text.length)
      throw new ControlError(
        'INVALID_STATE',
        `${kind === 'flavor' ? 'Flavor' : 'Image'} "${r.name}" is in use by ${u.text.join(' and ')}; delete or resize them first`,
        { [kind]: r.name, vms: u.vms, scalingGroups: u.groups, volumes: u.volumes },
      );
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable(TABLE[kind])
        .set({ deleted_at: this.now(), name: deletedName(r.name, r.id) })
        .where('id', '=', r.id)
        .execute();
      await this.event(trx, {
        actor: p.userName,
        kind: `${kind}.deleted`,
        detail: { id: r.id, name: r.name },
      });
    });
    if (kind === 'image') await this.cp.images.removeFile((r as { file?: string | null }).file ?? null);
  }

  /** A server group by id (or name in the caller's tenant) with its members. */
  async getServerGroup(
    p: Principal,
    ref: string,
    op: 'server-group:read' | 'server-group:write' = 'server-group:read',
  ) {
    authorize(p, op);
    const rows = await this.db
      .selectFrom('server_groups')
      .selectAll()
      .where((eb) =>
        eb.or([eb('id', '=', ref), eb.and([eb('name', '=', ref), eb('tenant_id', '=', p.tenantId)])]),
      )
      .where('deleted_at', 'is', null)
      .execute();
    const g = rows.find((r) => r.id === ref) ?? rows[0];
    if (!g) throw new ControlError('NOT_FOUND', `No server group "${ref}"`);
    authorizeTenantObject(p, op, g.tenant_id, `No server group "${ref}"`, { kind: 'server group', id: ref });
    const members = await this.db
      .selectFrom('vms')
      .select(['id', 'name', 'host_id'])
      .where('server_group_id', '=', g.id)
      .where('deleted_at', 'is', null)
      .orderBy('name')
      .execute();
    return {
      id: g.id,
      name: g.name,
      policy: g.policy,
      tenantId: g.tenant_id,
      userId: g.user_id,
      members: members.map((m) => ({ id: m.id, name: m.name, hostId: m.host_id })),
    };
  }

  /** Delete an empty server group (INVALID_STATE naming its VMs or its scaling group otherwise). */
  async deleteServerGroup(p: Principal, ref: string) {
    const g = await this.getServerGroup(p, ref, 'server-group:write');
    if (g.members.length)
      throw new ControlError(
        'INVALID_STATE',
        `Server group "${g.name}" still has ${label(
          'VM(s)',
          g.members.map((m) => m.name),
        )}; delete them or move them out first`,
        { serverGroup: g.name, vms: g.members.map((m) => m.id) },
      );
    const sg = await this.db
      .selectFrom('scaling_groups')
      .select('name')
      .where('server_group_id', '=', g.id)
      .executeTakeFirst();
    if (sg)
      throw new ControlError(
        'INVALID_STATE',
        `Server group "${g.name}" belongs to scaling group "${sg.name}"; delete the scaling group instead`,
        { serverGroup: g.name, scalingGroup: sg.name },
      );
    await this.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('server_groups')
        .set({ deleted_at: this.now(), name: deletedName(g.name, g.id) })
        .where('id', '=', g.id)
        .execute();
      await this.event(trx, {
        tenantId: g.tenantId,
        actor: p.userName,
        kind: 'server-group.deleted',
        detail: { id: g.id, name: g.name },
      });
    });
  }
}
