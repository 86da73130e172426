/**
 * The catalog: flavors, images and server groups.
 *
 * Uses: no other service.
 */
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';

/** The catalog: flavors, images and server groups. */
export class Catalog extends Service {
  async createFlavor(p: Principal, f: { name: string; vcpus: number; memoryMiB: number; diskGiB: number }) {
    this.require(p, 'admin');
    const id = this.ctx.ids.uuid();
    await this.unique(
      () =>
        this.db
          .insertInto('flavors')
          .values({
            id,
            name: f.name,
            vcpus: f.vcpus,
            memory_mib: f.memoryMiB,
            disk_gib: f.diskGiB,
            created_at: this.now(),
          })
          .execute(),
      `Flavor "${f.name}" already exists`,
    );
    return { id, ...f };
  }

  async listFlavors() {
    return (
      await this.db.selectFrom('flavors').selectAll().orderBy('vcpus').orderBy('memory_mib').execute()
    ).map((f) => ({ id: f.id, name: f.name, vcpus: f.vcpus, memoryMiB: f.memory_mib, diskGiB: f.disk_gib }));
  }

  async createImage(p: Principal, i: { name: string; format: string; sizeMiB: number }) {
    this.require(p, 'admin');
    const id = this.ctx.ids.uuid();
    await this.unique(
      () =>
        this.db
          .insertInto('images')
          .values({ id, name: i.name, format: i.format, size_mib: i.sizeMiB, created_at: this.now() })
          .execute(),
      `Image "${i.name}" already exists`,
    );
    return { id, ...i };
  }

  async listImages() {
    return (await this.db.selectFrom('images').selectAll().orderBy('name').execute()).map((i) => ({
      id: i.id,
      name: i.name,
      format: i.format,
      sizeMiB: i.size_mib,
    }));
  }

  async createServerGroup(p: Principal, name: string, policy: string) {
    this.require(p, 'admin', 'member');
    const id = this.ctx.ids.uuid();
    await this.unique(
      () =>
        this.db
          .insertInto('server_groups')
          .values({ id, tenant_id: p.tenantId, name, policy, created_at: this.now() })
          .execute(),
      `Server group "${name}" already exists`,
    );
    return { id, name, policy, tenantId: p.tenantId };
  }

  async listServerGroups(p: Principal) {
    const q = this.db.selectFrom('server_groups').selectAll();
    const rows = await (
      p.role === 'admin' || p.role === 'operator' ? q : q.where('tenant_id', '=', p.tenantId)
    )
      .orderBy('name')
      .execute();
    return rows.map((g) => ({ id: g.id, name: g.name, policy: g.policy, tenantId: g.tenant_id }));
  }
}
