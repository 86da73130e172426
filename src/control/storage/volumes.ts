/**
 * Volumes: disks that outlive their VM. A volume lives in a storage pool (on one host when the pool
 * is local), is attached to at most one VM, and has named snapshots. Every change that reaches a
 * host is an operation (kind `volume-*`) recorded before the driver call with what it needs
 * (`detail`); the driver calls are idempotent, so the reconciler finishes an interrupted one by
 * carrying it out again (volume-ops.ts).
 *
 * States: creating → available ⇄ attaching/in-use/detaching; deleting → deleted; error.
 *
 * Uses: `cp.images`, `cp.pools`, `cp.volumeOps`.
 */
import type { Selectable } from 'kysely';
import type { GuestSpec } from '../../core/hypervisor.ts';
import { diskSerial, type GuestDisk, type VolumeSpec } from '../../core/storage/host-storage.ts';
import { authorize, authorizeTenantObject, tenantFilter } from '../authz.ts';
import { ControlError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { notFoundInTenant } from '../security/tenant-lookup.ts';
import { Service } from '../service.ts';
import type { Db } from '../store/open-store.ts';
import type { VolumeTable } from '../store/schema.ts';
import { freeLocalDiskGiB, localVolumesGiB } from './local-disk.ts';
import { poolRef, type PoolRow } from './pools.ts';
import { checkStorageQuota } from './storage-quotas.ts';
import { volumeView } from './volume-view.ts';

export type VolumeRow = Selectable<VolumeTable>;

/** What creating a volume takes (`from*`: at most one). */
export interface VolumeCreate {
  /** The tenant's unique handle (default: `volume-<id>`). */
  name?: string;
  /** A label (not unique, any text: Cinder's name). */
  displayName?: string | null;
  description?: string | null;
  /** Key/value metadata (strings). */
  metadata?: Record<string, string>;
  sizeGiB: number;
  /** Pool name or id (default: the only pool, or `local`). */
  pool?: string;
  /** An image (name or id) to copy (copy-on-write where the backend allows). */
  fromImage?: string;
  /** A volume of the tenant (name or id) to clone, in the same pool. */
  fromVolume?: string;
  /** A snapshot (id) of a volume of the tenant to clone from. */
  fromSnapshot?: string;
}

const GiB = 2 ** 30;

/** The first /dev/vdX (from vdb: vda is the image's disk) no volume attached to the VM was given. */
async function freeDevice(db: Db, vmId: string): Promise<string> {
  const used = new Set(
    (await db.selectFrom('volumes').select('attach_device').where('vm_id', '=', vmId).execute()).map(
      (r) => r.attach_device,
    ),
  );
  for (let c = 98; c <= 122; c++)
    if (!used.has(`/dev/vd${String.fromCharCode(c)}`)) return `/dev/vd${String.fromCharCode(c)}`;
  return `/dev/vd${used.size + 1}`;
}

/** Volumes and their snapshots. */
export class Volumes extends Service {
  /** Create a volume (quota: count and GiB); returns it once its host made it. */
  async create(p: Principal, o: VolumeCreate) {
    authorize(p, 'volume:write');
    if ([o.fromImage, o.fromVolume, o.fromSnapshot].filter((x) => x !== undefined).length > 1)
      throw new ControlError('BAD_REQUEST', 'Give at most one of fromImage, fromVolume and fromSnapshot');
    let from: VolumeSpec['from'];
    let pool: PoolRow | undefined;
    let hostId: string | null = null;
    let imageId: string | null = null;
    let sourceId: string | null = null;
    if (o.fromVolume !== undefined || o.fromSnapshot !== undefined) {
      let src: VolumeRow;
      if (o.fromSnapshot !== undefined) {
        const s = await this.snapshotRow(p, o.fromSnapshot, 'volume:read');
        src = await this.find(this.db, p, s.volume_id, 'volume:read');
        from = { snapshot: { volumeId: src.id, name: s.name } };
      } else {
        src = await this.find(this.db, p, o.fromVolume!, 'volume:read');
        from = { volumeId: src.id };
      }
      if (o.sizeGiB < src.size_gib)
        throw new ControlError('BAD_REQUEST', `sizeGiB must be at least the source's ${src.size_gib} GiB`);
      pool = await this.cp.pools.find(this.db, src.pool_id);
      if (o.pool !== undefined && (await this.cp.pools.find(this.db, o.pool)).id !== pool.id)
        throw new ControlError('BAD_REQUEST', `A clone stays in its source's pool "${pool.name}"`);
      hostId = src.host_id;
      sourceId = src.id;
    }
    if (o.fromImage !== undefined) {
      const i = await this.cp.images.visible(this.db, p, o.fromImage);
      const ref = this.cp.images.refOf(i);
      if (!ref) throw new ControlError('BAD_REQUEST', `Image "${i.name}" has no uploaded data to copy`);
      // An image's own minimum disk (Glance's min_disk, where the image records one) counts too.
      const minDisk = Number((i as { min_disk?: number }).min_disk ?? 0);
      const need = Math.max(minDisk, Math.ceil((i.virtual_size_bytes ?? i.size_bytes ?? 0) / GiB));
      if (o.sizeGiB < need)
        throw new ControlError('BAD_REQUEST', `sizeGiB must be at least the image's ${need} GiB`);
      from = { image: ref };
      imageId = i.id;
    }
    pool ??=
      o.pool !== undefined
        ? await this.cp.pools.find(this.db, o.pool)
        : await this.cp.pools.defaultPool(this.db);
    if (pool.kind !== 'shared') hostId = await this.hostForLocal(pool, o.sizeGiB, hostId ?? undefined);
    const id = this.ctx.ids.uuid();
    const name = o.name ?? `volume-${id}`;
    const spec: VolumeSpec = { id, pool: poolRef(pool), sizeGiB: o.sizeGiB, ...(from ? { from } : {}) };
    await this.cp.volumeOps.run(p, { volumeId: id, action: 'create', spec }, async (trx) => {
      await checkStorageQuota(trx, p.tenantId, 'volumes', 1);
      await checkStorageQuota(trx, p.tenantId, 'volumeGiB', o.sizeGiB);
      const taken = await trx
        .selectFrom('volumes')
        .select('id')
        .where('tenant_id', '=', p.tenantId)
        .where('name', '=', name)
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
      if (taken) throw new ControlError('ALREADY_EXISTS', `Volume "${name}" already exists`);
      const at = this.now();
      await trx
        .insertInto('volumes')
        .values({
          id,
          tenant_id: p.tenantId,
          name,
          display_name: o.displayName ?? null,
          description: o.description ?? null,
          metadata: JSON.stringify(o.metadata ?? {}),
          bootable: imageId ? 1 : 0,
          user_id: p.userId,
          pool_id: pool.id,
          host_id: hostId,
          size_gib: o.sizeGiB,
          state: 'creating',
          vm_id: null,
          image_id: imageId,
          source_volume_id: sourceId,
          created_at: at,
          updated_at: at,
          deleted_at: null,
        })
        .execute();
      // Metered from creation to deletion (GiB-hours), as a cloud bills a disk whether or not it is attached.
      await trx
        .insertInto('volume_usage')
        .values({ volume_id: id, tenant_id: p.tenantId, size_gib: o.sizeGiB, start_at: at, end_at: null })
        .execute();
      return p.tenantId;
    });
    return this.get(p, id);
  }

  /**
   * The host a new volume of a local pool goes to: an up host that sees it and has room for `sizeGiB`
   * on its disk (its VMs' root disks and its local volumes counted), with the fewest GiB of volumes.
   * With `onHost` (a clone stays on its source's host), only that host is judged.
   * @throws ControlError NO_HOST_FITS in volume words (`details.volume`: the pool and the size)
   */
  private async hostForLocal(pool: PoolRow, sizeGiB: number, onHost?: string): Promise<string> {
    const hosts = (await this.cp.pools.hostsSeeing(this.db, pool)).filter(
      (h) => h.state === 'up' && (onHost === undefined || h.id === onHost),
    );
    const volumes = await localVolumesGiB(this.db);
    const free = (h: (typeof hosts)[number]) => freeLocalDiskGiB(h, volumes);
    const room = hosts.filter((h) => free(h) >= sizeGiB);
    if (!room.length) {
      const most = Math.max(0, Math.floor(Math.max(...hosts.map(free))));
      const why =
        onHost !== undefined
          ? hosts.length
            ? `its source's host has ${most} GiB free; a clone stays on its source's host`
            : "its source's host is not up"
          : hosts.length
            ? `the ${hosts.length} host(s) up that see it have at most ${most} GiB free`
            : 'no host that is up sees it';
      throw new ControlError(
        'NO_HOST_FITS',
        `No host in pool "${pool.name}" has room for a ${sizeGiB} GiB volume now (${why}); try a smaller size, another pool, or ask an operator`,
        { volume: { pool: pool.name, sizeGiB }, hostsUp: hosts.length },
      );
    }
    const gib = (h: string) => volumes.get(h) ?? 0;
    room.sort((a, b) => gib(a.id) - gib(b.id) || a.name.localeCompare(b.name));
    return room[0]!.id;
  }

  /**
   * The caller's volumes (all tenants' for operators and admins); with `vm`, only those attached to
   * that VM (an id; another tenant's VM yields none, as the ports filter does).
   */
  async list(p: Principal, o: { vm?: string } = {}) {
    authorize(p, 'volume:read');
    const t = tenantFilter(p, 'volume:read');
    let q = this.db
      .selectFrom('volumes')
      .selectAll()
      .where('deleted_at', 'is', null)
      .orderBy('name')
      .orderBy('id');
    if (t) q = q.where('tenant_id', '=', t);
    if (o.vm !== undefined) q = q.where('vm_id', '=', o.vm);
    return Promise.all((await q.execute()).map((v) => this.view(v)));
  }

  async get(p: Principal, ref: string) {
    return this.view(await this.find(this.db, p, ref, 'volume:read'));
  }

  /** Delete a volume that is not attached (its snapshots go with it). */
  async delete(p: Principal, ref: string) {
    const v = await this.find(this.db, p, ref, 'volume:write');
    if (v.vm_id) {
      const vm = await this.db.selectFrom('vms').select('name').where('id', '=', v.vm_id).executeTakeFirst();
      throw new ControlError(
        'INVALID_STATE',
        `Volume "${v.name}" is attached to VM "${vm?.name ?? v.vm_id}": detach it first`,
        { vm: vm?.name },
      );
    }
    if (v.state !== 'available' && v.state !== 'error')
      throw new ControlError('INVALID_STATE', `Volume "${v.name}" is ${v.state}: wait for it to finish`);
    await this.cp.volumeOps.run(p, { volumeId: v.id, action: 'delete' }, async (trx) => {
      await this.transition(trx, v, [v.state], 'deleting');
      return v.tenant_id;
    });
  }

  /**
   * Attach to a VM of the same tenant (hot-plugged when it runs); `device`: the name asked for
   * (recorded and shown; default the VM's first free /dev/vdX).
   */
  async attach(p: Principal, ref: string, vmRef: string, o: { device?: string | null } = {}) {
    const v = await this.find(this.db, p, ref, 'volume:write');
    const vm = await this.db
      .selectFrom('vms')
      .select(['id', 'name', 'host_id', 'state'])
      .where((eb) => eb.or([eb('id', '=', vmRef), eb('name', '=', vmRef)]))
      .where('tenant_id', '=', v.tenant_id)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (!vm) throw await notFoundInTenant(this.db, p, 'vm:read', 'vm', vmRef, `No VM "${vmRef}"`);
    if (v.vm_id === vm.id && v.state === 'in-use') return this.view(v);
    if (v.state !== 'available' || v.vm_id)
      throw new ControlError(
        'INVALID_STATE',
        `Volume "${v.name}" is ${v.state}: only an available volume attaches`,
      );
    const pool = await this.cp.pools.find(this.db, v.pool_id);
    if (vm.host_id) await this.checkReach(v, pool, vm.host_id, vm.name);
    await this.cp.volumeOps.run(p, { volumeId: v.id, action: 'attach', vmId: vm.id }, async (trx) => {
      await this.transition(trx, v, ['available'], 'attaching', {
        vm_id: vm.id,
        attachment_id: this.ctx.ids.uuid(),
        attach_device: o.device ?? (await freeDevice(trx, vm.id)),
        attached_at: this.now(),
      });
      return v.tenant_id;
    });
    return this.get(p, v.id);
  }

  /** Detach from its VM (unplugged when it runs). */
  async detach(p: Principal, ref: string) {
    const v = await this.find(this.db, p, ref, 'volume:write');
    if (!v.vm_id) throw new ControlError('INVALID_STATE', `Volume "${v.name}" is not attached`);
    if (v.state !== 'in-use') throw new ControlError('INVALID_STATE', `Volume "${v.name}" is ${v.state}`);
    await this.cp.volumeOps.run(p, { volumeId: v.id, action: 'detach', vmId: v.vm_id }, async (trx) => {
      await this.transition(trx, v, ['in-use'], 'detaching');
      return v.tenant_id;
    });
    return this.get(p, v.id);
  }

  /** Whether a VM on host `hostId` can reach the volume: its host (local pool) or a host that sees the pool. */
  private async checkReach(v: VolumeRow, pool: PoolRow, hostId: string, vmName: string) {
    if (pool.kind !== 'shared') {
      if (v.host_id !== hostId)
        throw new ControlError(
          'INVALID_STATE',
          `Volume "${v.name}" is in local pool "${pool.name}" on another host than VM "${vmName}": create it in a shared pool, or migrate the VM to the volume's host`,
        );
      return;
    }
    const seeing = await this.cp.pools.hostsSeeing(this.db, pool);
    if (!seeing.some((h) => h.id === hostId))
      throw new ControlError(
        'INVALID_STATE',
        `VM "${vmName}" runs on a host that does not see storage pool "${pool.name}"`,
      );
  }

  /** Move a volume from `from` states to `to`, failing if another request changed it meanwhile. */
  async transition(trx: Db, v: VolumeRow, from: string[], to: string, more: Partial<VolumeRow> = {}) {
    const r = await trx
      .updateTable('volumes')
      .set({ state: to, updated_at: this.now(), ...more })
      .where('id', '=', v.id)
      .where('state', 'in', from)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1)
      throw new ControlError('INVALID_STATE', `Volume "${v.name}" changed meanwhile: retry`);
  }

  /** A volume by id, or by name in the caller's tenant. NOT_FOUND for another tenant's. */
  async find(db: Db, p: Principal, ref: string, op: 'volume:read' | 'volume:write'): Promise<VolumeRow> {
    authorize(p, op);
    const v = await db
      .selectFrom('volumes')
      .selectAll()
      .where((eb) =>
        eb.or([eb('id', '=', ref), eb.and([eb('name', '=', ref), eb('tenant_id', '=', p.tenantId)])]),
      )
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (!v) throw await notFoundInTenant(db, p, op, 'volume', ref, `No volume "${ref}"`);
    authorizeTenantObject(p, op, v.tenant_id, `No volume "${ref}"`, { kind: 'volume', id: ref });
    return v;
  }

  /** A snapshot by id, of a volume the caller reaches. */
  async snapshotRow(p: Principal, id: string, op: 'volume:read' | 'volume:write') {
    authorize(p, op);
    const s = await this.db
      .selectFrom('volume_snapshots')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!s) throw new ControlError('NOT_FOUND', `No volume snapshot "${id}"`);
    authorizeTenantObject(p, op, s.tenant_id, `No volume snapshot "${id}"`, { kind: 'volume snapshot', id });
    return s;
  }

  /** The disk a guest is given for an attached volume. */
  async diskOf(db: Db, v: Pick<VolumeRow, 'id' | 'pool_id' | 'size_gib'>): Promise<GuestDisk> {
    const pool = await this.cp.pools.find(db, v.pool_id);
    return { volumeId: v.id, pool: poolRef(pool), sizeGiB: v.size_gib, serial: diskSerial(v.id) };
  }

  /** The disks of a VM's attached volumes (in-use or attaching), oldest first. */
  async disksOfVm(db: Db, vmId: string): Promise<GuestDisk[]> {
    const rows = await db
      .selectFrom('volumes')
      .selectAll()
      .where('vm_id', '=', vmId)
      .where('deleted_at', 'is', null)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return Promise.all(rows.map((v) => this.diskOf(db, v)));
  }

  /**
   * What a VM's guest is built from, for every path that builds it (create, HA restart, a restart
   * elsewhere, the reconciler): its image (a registry image: `cached`, fetched and checked by
   * checksum; a catalog image: by name) and its attached volumes.
   */
  async guestStorage(db: Db, vmId: string, imageId: string): Promise<Pick<GuestSpec, 'image' | 'disks'>> {
    const i = await db.selectFrom('images').selectAll().where('id', '=', imageId).executeTakeFirstOrThrow();
    const cached = this.cp.images.refOf(i);
    const disks = await this.disksOfVm(db, vmId);
    return {
      image: cached ? { cached } : { kernel: `image://${i.name}` },
      ...(disks.length ? { disks } : {}),
    };
  }

  /** A deleted VM's volumes are free again (in its delete transaction). */
  async releaseVm(trx: Db, vmId: string) {
    await trx
      .updateTable('volumes')
      .set({ vm_id: null, state: 'available', updated_at: this.now() })
      .where('vm_id', '=', vmId)
      .where('deleted_at', 'is', null)
      .execute();
  }

  /** A volume as nubis's API (and, translated, Cinder's) shows it. */
  async view(v: VolumeRow) {
    return volumeView(this.db, v);
  }
}
