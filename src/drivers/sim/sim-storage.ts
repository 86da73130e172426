/**
 * Simulated storage: the volumes and volume snapshots of simulated hosts, kept as data (no file is
 * written). A volume in a local pool belongs to one host; a volume in a shared pool is seen by every
 * simulated host, as a NAS would be. Block migration moves a local volume to the destination.
 */
import type { HostVolume } from '../../core/host-driver.ts';
import { DriverError } from '../../core/hypervisor.ts';
import type { VolumeSpec } from '../../core/storage/host-storage.ts';

/** A simulated volume: its spec and its snapshots' names. */
export interface SimVolume {
  spec: VolumeSpec;
  snapshots: string[];
}

/** Where a volume lives: its host for a local pool, `shared` for a shared pool. */
const placeOf = (hostId: string, kind: 'local' | 'shared') => (kind === 'shared' ? 'shared' : hostId);
const keyOf = (place: string, pool: string, id: string) => `${place}/${pool}/${id}`;

/** The volumes of every simulated host (shared by the host views, saved with the guests). */
export class SimStorage {
  private readonly volumes = new Map<string, SimVolume>();

  constructor(private readonly onChange: () => void = () => undefined) {}

  /** The volume `id` of `pool` as host `hostId` sees it (its local copy, or the shared one). */
  find(hostId: string, pool: string, id: string): SimVolume | undefined {
    return this.volumes.get(keyOf(hostId, pool, id)) ?? this.volumes.get(keyOf('shared', pool, id));
  }

  private need(hostId: string, pool: string, id: string): SimVolume {
    const v = this.find(hostId, pool, id);
    if (!v) throw new DriverError('NOT_FOUND', `No volume "${id}" in pool "${pool}" on this host`);
    return v;
  }

  /** Create a volume (idempotent for the same spec; a clone needs its source on this host). */
  create(hostId: string, spec: VolumeSpec): HostVolume {
    const had = this.find(hostId, spec.pool.name, spec.id);
    if (had) {
      if (had.spec.sizeGiB !== spec.sizeGiB)
        throw new DriverError('BAD_SPEC', `Volume "${spec.id}" exists with ${had.spec.sizeGiB} GiB`);
      return this.view(had);
    }
    const from = spec.from;
    if (from && 'volumeId' in from) this.need(hostId, spec.pool.name, from.volumeId);
    if (from && 'snapshot' in from) {
      const src = this.need(hostId, spec.pool.name, from.snapshot.volumeId);
      if (!src.snapshots.includes(from.snapshot.name))
        throw new DriverError(
          'NOT_FOUND',
          `Volume "${from.snapshot.volumeId}" has no snapshot "${from.snapshot.name}"`,
        );
    }
    const v: SimVolume = { spec: structuredClone(spec), snapshots: [] };
    this.volumes.set(keyOf(placeOf(hostId, spec.pool.kind), spec.pool.name, spec.id), v);
    this.onChange();
    return this.view(v);
  }

  /** Delete a volume and its snapshots (nothing if it is not there). */
  delete(hostId: string, pool: string, id: string): void {
    for (const place of [hostId, 'shared']) this.volumes.delete(keyOf(place, pool, id));
    this.onChange();
  }

  /** The volumes of `pool` this host sees. */
  list(hostId: string, pool: string): HostVolume[] {
    return [...this.volumes.entries()]
      .filter(
        ([k, v]) => v.spec.pool.name === pool && (k.startsWith(`${hostId}/`) || k.startsWith('shared/')),
      )
      .map(([, v]) => this.view(v))
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  snapshot(hostId: string, pool: string, id: string, name: string): void {
    const v = this.need(hostId, pool, id);
    if (!v.snapshots.includes(name)) v.snapshots.push(name);
    this.onChange();
  }

  deleteSnapshot(hostId: string, pool: string, id: string, name: string): void {
    const v = this.need(hostId, pool, id);
    v.snapshots = v.snapshots.filter((s) => s !== name);
    this.onChange();
  }

  /** Block migration: a local volume of `from` now lives on `to` (shared volumes stay where they are). */
  move(from: string, to: string, pool: string, id: string): void {
    const v = this.volumes.get(keyOf(from, pool, id));
    if (!v) return;
    this.volumes.delete(keyOf(from, pool, id));
    this.volumes.set(keyOf(to, pool, id), v);
    this.onChange();
  }

  private view(v: SimVolume): HostVolume {
    return { id: v.spec.id, pool: v.spec.pool.name, sizeGiB: v.spec.sizeGiB, snapshots: [...v.snapshots] };
  }

  /** Everything, to save. */
  entries(): [string, SimVolume][] {
    return [...this.volumes];
  }
  /** Restore what `entries()` gave. */
  load(entries: [string, SimVolume][]): void {
    for (const [k, v] of entries) this.volumes.set(k, v);
  }
}
