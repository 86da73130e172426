/**
 * A host's storage pools: pool names mapped to folders (agent flag `--pool NAME=DIR[:shared]`), and
 * volumes as qcow2 files in them (POOL_DIR/ID.qcow2). Volumes are created empty, or as copy-on-write
 * overlays on another volume, on an internal snapshot of one (a copied snapshot, since qcow2 cannot
 * back onto an internal snapshot) or on a cached image. Every name from outside is checked against
 * the contract's pattern and every path resolved inside its pool's folder (host-paths.ts).
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DriverError } from '../../core/hypervisor.ts';
import { STORAGE_ID_PATTERN, type PoolRef, type VolumeSpec } from '../../core/storage/host-storage.ts';
import { resolveInside } from './host-paths.ts';
import { runTool } from './run-tool.ts';

/** A pool as this host has it: its name, kind and folder. */
export interface HostPool extends PoolRef {
  dir: string;
}

/** A volume as `GET /v1/volumes/:pool` lists it. */
export interface VolumeInfo {
  id: string;
  pool: string;
  virtualSizeBytes: number;
  allocatedBytes: number;
  snapshots: string[];
  /** The file it is a copy-on-write overlay on, if any. */
  backingFile?: string;
}

const quote = (v: unknown) => JSON.stringify(String(v).slice(0, 80));

/**
 * Check a volume or image id from outside (it becomes a file name).
 * @throws DriverError BAD_SPEC naming the rule
 */
export function checkStorageId(id: unknown, what = 'volume id'): string {
  if (typeof id !== 'string' || !STORAGE_ID_PATTERN.test(id))
    throw new DriverError(
      'BAD_SPEC',
      `Bad ${what} ${quote(id)}: use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  return id;
}

/**
 * Parse the agent's `--pool NAME=DIR[:shared]` flag.
 * @throws RangeError for a bad name or a missing folder
 * @example parsePoolFlag('fast=/srv/pools/fast') // { name: 'fast', kind: 'local', dir: '/srv/pools/fast' }
 */
export function parsePoolFlag(flag: string): HostPool {
  const m = /^([^=]+)=(.+?)(:shared|:local)?$/.exec(flag);
  if (!m || !STORAGE_ID_PATTERN.test(m[1]!))
    throw new RangeError(
      `--pool ${quote(flag)}: use NAME=DIR or NAME=DIR:shared, NAME of 1-63 letters, digits, '.', '_' or '-'`,
    );
  return { name: m[1]!, kind: m[3] === ':shared' ? 'shared' : 'local', dir: resolve(m[2]!) };
}

/** Pools of one host and the volumes in them. */
export class HostPools {
  private readonly pools = new Map<string, HostPool>();

  /** @param qemuImg the qemu-img binary */
  constructor(
    pools: readonly HostPool[],
    private readonly qemuImg = 'qemu-img',
  ) {
    for (const p of pools) {
      if (this.pools.has(p.name)) throw new RangeError(`Pool "${p.name}" is given twice`);
      mkdirSync(p.dir, { recursive: true, mode: 0o700 });
      this.pools.set(p.name, p);
    }
  }

  /** The pools, as host facts report them. */
  list(): PoolRef[] {
    return [...this.pools.values()].map((p) => ({ name: p.name, kind: p.kind }));
  }

  /**
   * The pool named `name`; its kind must match when the caller says it (a control plane that thinks a
   * local pool is shared would migrate wrongly).
   * @throws DriverError BAD_SPEC for a bad name, NOT_FOUND for a pool this host does not have
   */
  pool(name: unknown, kind?: PoolRef['kind']): HostPool {
    checkStorageId(name, 'pool name');
    const p = this.pools.get(name as string);
    if (!p)
      throw new DriverError(
        'NOT_FOUND',
        `This host has no pool ${quote(name)} (it has: ${[...this.pools.keys()].join(', ') || 'none'})`,
      );
    if (kind !== undefined && kind !== p.kind)
      throw new DriverError('BAD_SPEC', `Pool "${p.name}" is ${p.kind} on this host, not ${kind}`);
    return p;
  }

  /** Path of volume `id` in pool `pool` (not resolved: it may not exist yet). */
  volumePath(pool: unknown, id: unknown): string {
    return join(this.pool(pool).dir, `${checkStorageId(id)}.qcow2`);
  }

  /**
   * Path of an existing volume, resolved (symlinks followed) inside its pool's folder.
   * @throws DriverError NOT_FOUND when it does not exist, BAD_SPEC when it resolves outside the pool
   */
  existing(pool: unknown, id: unknown): string {
    const p = this.volumePath(pool, id);
    if (!existsSync(p)) throw new DriverError('NOT_FOUND', `No volume "${id}" in pool "${pool}"`);
    return resolveInside([this.pool(pool).dir], p, 'volume');
  }

  /**
   * Create a volume (`from` a volume, a volume's snapshot, or a cached image file: copy-on-write).
   * @param imageFile the cached image's file for `from.image` (the caller fetched and verified it)
   * @throws DriverError ALREADY_EXISTS, NOT_FOUND (source), BAD_SPEC, BACKEND (qemu-img)
   */
  async create(v: VolumeSpec, imageFile?: { path: string; format: 'qcow2' | 'raw' }): Promise<VolumeInfo> {
    const pool = this.pool(v.pool?.name, v.pool?.kind);
    const path = this.volumePath(pool.name, v.id);
    if (!(Number.isFinite(v.sizeGiB) && v.sizeGiB > 0 && v.sizeGiB <= 16384))
      throw new DriverError('BAD_SPEC', `Bad sizeGiB ${quote(v.sizeGiB)}: give a number in (0, 16384]`);
    if (existsSync(path))
      throw new DriverError('ALREADY_EXISTS', `Volume "${v.id}" already exists in pool "${pool.name}"`);
    const size = `${Math.round(v.sizeGiB * 2 ** 30)}`;
    const f = v.from;
    let args: string[];
    if (!f) args = ['create', '-q', '-f', 'qcow2', path, size];
    else if ('volumeId' in f)
      args = ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', this.existing(pool.name, f.volumeId)];
    else if ('image' in f) {
      if (!imageFile) throw new DriverError('BAD_SPEC', `Image "${f.image.id}" is not cached on this host`);
      args = ['create', '-q', '-f', 'qcow2', '-F', imageFile.format, '-b', imageFile.path];
    } else {
      // qcow2 cannot back onto an internal snapshot: copy the snapshot out as the new volume.
      const src = this.existing(pool.name, f.snapshot.volumeId);
      await this.needSnapshot(src, f.snapshot.volumeId, f.snapshot.name);
      args = ['convert', '-q', '-O', 'qcow2', '-l', `snapshot.name=${f.snapshot.name}`, src, path];
      await this.tool(args, `copy snapshot "${f.snapshot.name}"`);
      await this.tool(['resize', '-q', path, size], 'resize the copy').catch(() => undefined);
      chmodSync(path, 0o600);
      return this.info(pool.name, v.id);
    }
    if (f) args.push(path, size);
    await this.tool(args, `create volume "${v.id}"`);
    // A guest's data: this user's only, also in a pool folder others can list (a shared export).
    chmodSync(path, 0o600);
    return this.info(pool.name, v.id);
  }

  /** Volumes of a pool, sorted by id. */
  async listVolumes(pool: unknown): Promise<VolumeInfo[]> {
    const p = this.pool(pool);
    const ids = readdirSync(p.dir)
      .filter((n) => n.endsWith('.qcow2') && STORAGE_ID_PATTERN.test(n.slice(0, -6)))
      .map((n) => n.slice(0, -6))
      .sort();
    return Promise.all(ids.map((id) => this.info(p.name, id)));
  }

  /** One volume's sizes, snapshots and backing file (`qemu-img info`). */
  async info(pool: unknown, id: unknown): Promise<VolumeInfo> {
    const path = this.existing(pool, id);
    const r = await this.tool(['info', '-U', '--output=json', path], `read volume "${id}"`);
    let j: {
      'virtual-size': number;
      'actual-size'?: number;
      snapshots?: { name: string }[];
      'backing-filename'?: string;
    };
    try {
      j = JSON.parse(r);
    } catch {
      throw new DriverError(
        'BACKEND',
        `Cannot read volume "${id}": qemu-img info gave ${JSON.stringify(r.slice(0, 200))}`,
      );
    }
    return {
      id: id as string,
      pool: pool as string,
      virtualSizeBytes: j['virtual-size'],
      allocatedBytes: j['actual-size'] ?? 0,
      snapshots: (j.snapshots ?? []).map((s) => s.name),
      ...(j['backing-filename'] ? { backingFile: j['backing-filename'] } : {}),
    };
  }

  /** Delete a volume (the caller checked no guest uses it; a volume others back onto is refused). */
  async delete(pool: unknown, id: unknown): Promise<void> {
    const path = this.existing(pool, id);
    const p = this.pool(pool);
    for (const other of await this.listVolumes(p.name))
      if (other.backingFile && resolve(p.dir, other.backingFile) === path)
        throw new DriverError(
          'INVALID_STATE',
          `Volume "${id}" is the base of volume "${other.id}" (a clone): delete that first`,
        );
    rmSync(path, { force: true });
  }

  /** Internal snapshot of a volume no running guest writes (the caller checks). */
  async snapshot(pool: unknown, id: unknown, name: string): Promise<VolumeInfo> {
    await this.tool(['snapshot', '-c', name, this.existing(pool, id)], `snapshot volume "${id}"`);
    return this.info(pool, id);
  }

  /** Delete an internal snapshot of a volume. */
  async deleteSnapshot(pool: unknown, id: unknown, name: string): Promise<void> {
    const path = this.existing(pool, id);
    await this.needSnapshot(path, id as string, name);
    await this.tool(['snapshot', '-d', name, path], `delete snapshot "${name}" of volume "${id}"`);
  }

  private async needSnapshot(path: string, id: string, name: string): Promise<void> {
    const r = await this.tool(['snapshot', '-U', '-l', path], `list snapshots of "${id}"`);
    if (!r.split('\n').some((l) => l.split(/\s+/)[1] === name))
      throw new DriverError('NOT_FOUND', `Volume "${id}" has no snapshot "${name}"`);
  }

  private async tool(args: string[], what: string): Promise<string> {
    const r = await runTool(this.qemuImg, args, 120_000);
    if (r.code !== 0)
      throw new DriverError('BACKEND', `Cannot ${what}: ${r.stderr.trim() || `exit ${r.code}`}`);
    return r.stdout;
  }
}
