/**
 * Measured hosts' memory as placement reads it, kept in memory between decisions: per host its VMs as
 * the memory-overcommit policy counts them (fingerprints parsed) and its sharing index per sampling
 * rate. A host's entry is rebuilt only when its row's version moved (migration 0982-memory-version
 * bumps it when its VMs, their profiles, its tenants' sharing choice or its memory settings change,
 * whoever writes them). A cache of what `memoryPlacement` reads per decision, never a second policy.
 */
import type { PageFingerprint, SharingIndex } from '../../core/memory/fingerprint.ts';
import {
  DEFAULT_MEMORY_RISK,
  demandSums,
  type DemandSums,
  type VmMemory,
} from '../../policies/memory-overcommit.ts';
import type { HostMemoryView, RequestMemory } from '../../policies/placement/pipeline.ts';
import type { MemoryProfiles } from '../memory/profile-store.ts';
import type { Db } from '../store/open-store.ts';
import type { MeasuredHost } from './host-cache.ts';
import { sharingIndex } from './memory-placement.ts';

interface Entry {
  version: number;
  vms: VmMemory[];
  /** The mergeable VMs' fingerprints. */
  fps: PageFingerprint[];
  /** The coarsest sampling among the fingerprints. */
  bits: number;
  /** Sharing indexes by sampling bits (the coarsest of the host's and the candidate's). */
  indexes: Map<number, SharingIndex>;
  /** Demand sums by sampling bits (the coarsest of the host's and the placed VM's). */
  sums: Map<number, DemandSums>;
}

/** Measured hosts' memory views, rebuilt per host when its version changes. */
export class MemoryViews {
  private readonly entries = new Map<string, Entry>();

  /** Forget every host (the next read rebuilds each). */
  clear(): void {
    this.entries.clear();
  }

  /**
   * The memory views of `hosts` (id → view) for a request with memory `request`: the views
   * `memoryPlacement` builds from a full read (plus the demand sums the capacity filter reuses),
   * from the entries of unchanged hosts.
   */
  async views(
    db: Db,
    profiles: Pick<MemoryProfiles, 'vmsOn'>,
    hosts: ReadonlyMap<string, MeasuredHost>,
    request: RequestMemory,
  ): Promise<Map<string, HostMemoryView>> {
    const candidate = request.fingerprint;
    // The placed VM counts with its fingerprint only when it may merge (requestVmMemory).
    const own = request.mergeable && candidate ? candidate.sampleBits : 0;
    const stale = [...hosts]
      .filter(([id, h]) => this.entries.get(id)?.version !== h.version)
      .map(([id, h]) => ({ id, policy: 'measured' as const, risk: h.risk, guarantee: h.guarantee }));
    if (stale.length) {
      const vmsOn = await profiles.vmsOn(db, stale);
      for (const s of stale) {
        const vms = vmsOn.get(s.id) ?? [];
        const fps = vms.filter((v) => v.mergeable && v.fingerprint).map((v) => v.fingerprint!);
        let bits = 0;
        for (const f of fps) if (f.sampleBits > bits) bits = f.sampleBits;
        const version = hosts.get(s.id)!.version;
        this.entries.set(s.id, { version, vms, fps, bits, indexes: new Map(), sums: new Map() });
      }
    }
    if (this.entries.size > hosts.size)
      for (const id of this.entries.keys()) if (!hosts.has(id)) this.entries.delete(id);
    const out = new Map<string, HostMemoryView>();
    for (const [id, h] of hosts) {
      const e = this.entries.get(id)!;
      const demand = sumsOf(e, Math.max(e.bits, own));
      out.set(id, {
        risk: h.risk,
        guarantee: h.guarantee,
        vms: e.vms,
        sharing: e.fps.length ? indexOf(e, candidate) : undefined,
        demand,
      });
    }
    return out;
  }
}

/** The entry's sharing index at the coarsest sampling of its fingerprints and the candidate's. */
function indexOf(e: Entry, candidate?: PageFingerprint): SharingIndex {
  const bits = Math.max(candidate?.sampleBits ?? 0, e.bits);
  let idx = e.indexes.get(bits) ?? e.sums.get(bits)?.index;
  if (!idx) {
    idx = sharingIndex(e.fps, candidate);
    e.indexes.set(bits, idx);
  }
  return idx;
}

/** The entry's demand sums at `bits` (its sharing index reused when built at the same sampling). */
function sumsOf(e: Entry, bits: number): DemandSums {
  let s = e.sums.get(bits);
  if (!s) {
    s = demandSums(e.vms, DEFAULT_MEMORY_RISK, bits);
    e.sums.set(bits, s);
  }
  return s;
}
