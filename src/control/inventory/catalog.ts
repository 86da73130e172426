/**
 * The catalog: flavors, images and server groups.
 *
 * Uses: no other service.
 */
import { authorize, reachesAllTenants, tenantFilter } from '../authz.ts';
import type { Principal } from '../principal.ts';
import { Service } from '../service.ts';

/** The catalog: flavors, images and server groups. */
export class Catalog extends Service {
  async createFlavor(p: Principal, f: { name: string; vcpus: number; memoryMiB: number; diskGiB: number }) {
    authorize(p, 'flavor:write');
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

  async listFlavors(p: Principal) {
    authorize(p, 'flavor:read');
    return (
      await this.db
        .selectFrom('flavors')
        .selectAll()
        .where('deleted_at', 'is', null)
        .orderBy('vcpus')
        .orderBy('memory_mib')
        .execute()
    ).map((f) => ({ id: f.id, name: f.name, vcpus: f.vcpus, memoryMiB: f.memory_mib, diskGiB: f.disk_gib }));
  }

  async createImage(p: Principal, i: { name: string; format: string; sizeMiB: number }) {
    authorize(p, 'image:write');
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

  /** The images the caller may use: the catalog's, public ones and its tenant's private uploads. */
  async listImages(p: Principal) {
    authorize(p, 'image:read');
    const all = reachesAllTenants(p, 'image:download');
    return (
      await this.db.selectFrom('images').selectAll().where('deleted_at', 'is', null).orderBy('name').execute()
    )
      .filter((i) => all || i.visibility === 'public' || i.tenant_id === null || i.tenant_id === p.tenantId)
      .map((i) => this.cp.images.view(i));
  }

  /**
   * A server group: its policy (hard or soft affinity or anti-affinity) over its members, and
   * optionally at most `maxPerHost` members on one host and a spread over racks, zones or data
   * centers (one member per domain), all judged by the constraint checkers.
   */
  async createServerGroup(
    p: Principal,
    name: string,
    policy: string,
    o: { maxPerHost?: number; spreadOver?: 'rack' | 'zone' | 'datacenter' } = {},
  ) {
    authorize(p, 'server-group:write');
    const id = this.ctx.ids.uuid();
    const extra = { max_per_host: o.maxPerHost ?? null, spread_over: o.spreadOver ?? null };
    await this.unique(
      () =>
        this.db
          .insertInto('server_groups')
          .values({
            id,
            tenant_id: p.tenantId,
            user_id: p.userId,
            name,
            policy,
            created_at: this.now(),
            ...extra,
          })
          .execute(),
      `Server group "${name}" already exists`,
    );
    return {
      id,
      name,
      policy,
      tenantId: p.tenantId,
      userId: p.userId,
      maxPerHost: extra.max_per_host,
      spreadOver: extra.spread_over,
    };
  }

  async listServerGroups(p: Principal) {
    authorize(p, 'server-group:read');
    const q = this.db.selectFrom('server_groups').selectAll().where('deleted_at', 'is', null);
    const own = tenantFilter(p, 'server-group:read');
    const rows = await (own ? q.where('tenant_id', '=', own) : q).orderBy('name').execute();
    return rows.map((g) => ({
      id: g.id,
      name: g.name,
      policy: g.policy,
      tenantId: g.tenant_id,
      userId: g.user_id,
      maxPerHost: g.max_per_host,
      spreadOver: g.spread_over,
    }));
  }
}
