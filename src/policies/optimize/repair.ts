/**
 * Repair a placement that is no longer valid (a host overloaded after demands grew, hosts banned
 * for maintenance, a constraint broken): free only the VMs that must move (Entropy's and
 * BtrPlace's repair mode: Hermenier et al., VEE 2009 and IEEE TDSC 2013), then put each back with
 * a constraint-aware best fit (largest first), keeping every other VM where it is. Pure.
 */
import { admitsAll, checkAll, constraintsByVm, type Constraint } from '../../core/constraints/index.ts';
import type { PackInstance } from './instance.ts';

/** A repaired placement and the VMs that had to move. */
export interface Repair {
  /** Host index per VM. */
  hostOfVm: Int32Array;
  /** Indices of the VMs freed (unplaced, on a refused host, on an overloaded host, or in a broken constraint). */
  mustMove: number[];
}

/**
 * Repair the VMs' current placement (`hostId`); undefined when a freed VM fits nowhere by best fit.
 * With `stayInZone` (default true) a VM goes back to a host in its current host's zone.
 * @example repairPlacement(inst)?.mustMove.length
 */
export function repairPlacement(inst: PackInstance, o: { stayInZone?: boolean } = {}): Repair | undefined {
  const H = inst.hosts.length,
    D = inst.dims.length;
  const hostIndex = new Map(inst.hosts.map((h, i) => [h.id, i]));
  const vmIndex = new Map(inst.vms.map((v, i) => [v.id, i]));
  const hard = (inst.constraints ?? []).filter((c) => c.hard);
  const byVm = constraintsByVm(hard);
  const where = new Map<string, string[]>();
  const state = { hosts: new Map(inst.hosts.map((h) => [h.id, h])), placement: where };
  const hostOfVm = new Int32Array(inst.vms.length).fill(-1);
  const used = new Float64Array(H * D);
  const onHost: Set<number>[] = inst.hosts.map(() => new Set());
  const place = (v: number, h: number) => {
    hostOfVm[v] = h;
    onHost[h]!.add(v);
    inst.vms[v]!.demand.forEach((x, d) => (used[h * D + d]! += x));
    where.set(inst.vms[v]!.id, [inst.hosts[h]!.id]);
  };
  const remove = (v: number) => {
    const h = v < 0 ? -1 : hostOfVm[v]!;
    if (h < 0) return;
    hostOfVm[v] = -1;
    onHost[h]!.delete(v);
    inst.vms[v]!.demand.forEach((x, d) => (used[h * D + d]! -= x));
    where.delete(inst.vms[v]!.id);
  };
  const over = (h: number, v?: number) =>
    inst.hosts[h]!.capacity.some(
      (c, d) => used[h * D + d]! + (v === undefined ? 0 : inst.vms[v]!.demand[d]!) > c + 1e-9,
    );
  const hostSets = (v: number): Constraint[] =>
    (byVm.get(inst.vms[v]!.id) ?? []).filter((c) => c.type === 'fence' || c.type === 'ban');

  // Where they are, unless a host set refuses it (a banned host).
  inst.vms.forEach((v, i) => {
    const h = v.hostId !== undefined ? hostIndex.get(v.hostId) : undefined;
    if (h !== undefined && !admitsAll(hostSets(i), state, v.id, v.hostId!)) place(i, h);
  });
  const maxCap = inst.dims.map((_, d) => Math.max(1e-12, ...inst.hosts.map((h) => h.capacity[d]!)));
  const size = (v: number) => inst.vms[v]!.demand.reduce((s, x, d) => s + x / maxCap[d]!, 0);
  // Overloaded hosts: free the smallest VM that alone makes room, else the largest, until it fits.
  for (let h = 0; h < H; h++)
    while (over(h)) {
      const vs = [...onHost[h]!].sort((a, b) => size(a) - size(b) || a - b);
      const fixes = vs.find((v) => {
        remove(v);
        const ok = !over(h);
        place(v, h);
        return ok;
      });
      remove(fixes ?? vs[vs.length - 1]!);
    }
  // Broken constraints: free all but the first VM named, until none is broken.
  for (let round = 0; round < 10 && hard.length; round++) {
    const broken = checkAll(hard, state);
    if (!broken.length) break;
    for (const b of broken) for (const id of b.vmIds.slice(1)) remove(vmIndex.get(id) ?? -1);
  }

  const mustMove: number[] = [];
  hostOfVm.forEach((h, v) => h < 0 && mustMove.push(v));
  const zoneOf = (v: number) => {
    const cur = inst.vms[v]!.hostId !== undefined ? hostIndex.get(inst.vms[v]!.hostId!) : undefined;
    return cur !== undefined && o.stayInZone !== false ? inst.hosts[cur]!.zone : undefined;
  };
  // Best fit: the host left with the least normalised room, used hosts before empty ones.
  const bestFit = (v: number, except = -1): number => {
    const vm = inst.vms[v]!;
    const zone = zoneOf(v);
    const cs = byVm.get(vm.id) ?? [];
    let chosen = -1,
      best = Infinity;
    for (let h = 0; h < H; h++) {
      if (h === except || (zone !== undefined && inst.hosts[h]!.zone !== zone) || over(h, v)) continue;
      let room = 0;
      for (let d = 0; d < D; d++)
        room += (inst.hosts[h]!.capacity[d]! - used[h * D + d]! - vm.demand[d]!) / maxCap[d]!;
      const score = room + (onHost[h]!.size ? 0 : 1e6);
      if (score >= best || (cs.length && admitsAll(cs, state, vm.id, inst.hosts[h]!.id))) continue;
      best = score;
      chosen = h;
    }
    return chosen;
  };
  // No room on any admissible host: make room on one by moving its unconstrained VMs elsewhere
  // (an ejection chain of length one); they move too.
  const eject = (v: number): boolean => {
    const vm = inst.vms[v]!;
    const zone = zoneOf(v);
    const cs = byVm.get(vm.id) ?? [];
    for (let h = 0; h < H; h++) {
      if (zone !== undefined && inst.hosts[h]!.zone !== zone) continue;
      if (cs.length && admitsAll(cs, state, vm.id, inst.hosts[h]!.id)) continue;
      const out: [number, number][] = [];
      const movable = [...onHost[h]!]
        .filter((u) => !byVm.has(inst.vms[u]!.id))
        .sort((a, b) => size(a) - size(b));
      for (const u of movable) {
        if (!over(h, v)) break;
        remove(u);
        const to = bestFit(u, h);
        if (to < 0) {
          place(u, h);
          continue;
        }
        place(u, to);
        out.push([u, to]);
      }
      if (!over(h, v)) {
        place(v, h);
        for (const [u] of out) mustMove.push(u);
        return true;
      }
      for (const [u] of out) {
        remove(u);
        place(u, h);
      }
    }
    return false;
  };
  for (const v of [...mustMove].sort((a, b) => size(b) - size(a) || a - b)) {
    const h = bestFit(v);
    if (h >= 0) place(v, h);
    else if (!eject(v)) return undefined;
  }
  return { hostOfVm, mustMove };
}
