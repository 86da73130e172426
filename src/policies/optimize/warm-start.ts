/**
 * Warm starts for the optimizer: constraint-aware first-fit and best-fit decreasing (the order of
 * src/policies/placement/heuristics.ts: Panigrahy et al., MSR 2011), a drain of the least-loaded
 * hosts from the current placement (Beloglazov & Buyya's underload phase: few moves), and the
 * current placement itself. Each candidate keeps capacity, the admissible host sets and every hard
 * constraint (checkAll); the best by the model's objective is returned. Pure.
 */
import {
  admitsAll,
  checkAll,
  constraintsByVm,
  globalConstraints,
  type Constraint,
} from '../../core/constraints/index.ts';
import type { PackInstance } from './instance.ts';
import { packStateBase } from './pack-state.ts';

/** A candidate placement: host index per VM. */
export interface WarmStart {
  hostOfVm: Int32Array;
  /** Which heuristic found it. */
  heuristic: 'current' | 'first-fit-decreasing' | 'best-fit-decreasing' | 'drain';
}

/** Places VMs one by one, keeping capacity and the hard constraints as it goes. */
class Packer {
  readonly used: number[][];
  readonly count: number[];
  readonly where = new Map<string, string[]>();
  readonly hostOfVm: Int32Array;
  readonly state;
  private readonly byVm: Map<string, Constraint[]>;
  /** Rules about every VM (host rules, lonely, preserve): they judge VMs they do not list. */
  private readonly global: readonly Constraint[];
  constructor(
    private readonly inst: PackInstance,
    private readonly hard: readonly Constraint[],
  ) {
    this.used = inst.hosts.map(() => inst.dims.map(() => 0));
    this.count = inst.hosts.map(() => 0);
    this.hostOfVm = new Int32Array(inst.vms.length).fill(-1);
    // Origins, physical capacities and demands too: root, quarantine, preserve and overbook judge them.
    this.state = { ...packStateBase(inst), placement: this.where };
    this.global = globalConstraints(hard);
    this.byVm = constraintsByVm(hard.filter((c) => !this.global.includes(c)));
  }
  fits(v: number, h: number): boolean {
    const cap = this.inst.hosts[h]!.capacity,
      u = this.used[h]!;
    return this.inst.vms[v]!.demand.every((x, d) => u[d]! + x <= cap[d]! + 1e-9);
  }
  admits(v: number, h: number): boolean {
    const vm = this.inst.vms[v]!;
    const own = this.byVm.get(vm.id);
    const cs = own ? [...own, ...this.global] : this.global;
    return !cs.length || !admitsAll(cs, this.state, vm.id, this.inst.hosts[h]!.id);
  }
  place(v: number, h: number) {
    this.hostOfVm[v] = h;
    this.count[h]!++;
    this.inst.vms[v]!.demand.forEach((x, d) => (this.used[h]![d]! += x));
    this.where.set(this.inst.vms[v]!.id, [this.inst.hosts[h]!.id]);
  }
  remove(v: number) {
    const h = this.hostOfVm[v]!;
    if (h < 0) return;
    this.hostOfVm[v] = -1;
    this.count[h]!--;
    this.inst.vms[v]!.demand.forEach((x, d) => (this.used[h]![d]! -= x));
    this.where.delete(this.inst.vms[v]!.id);
  }
  /** Normalised free capacity of h after adding v (best fit picks the smallest). */
  freeAfter(v: number, h: number, maxCap: readonly number[]): number {
    const cap = this.inst.hosts[h]!.capacity;
    return this.inst.vms[v]!.demand.reduce(
      (s, x, d) => s + (cap[d]! - this.used[h]![d]! - x) / maxCap[d]!,
      0,
    );
  }
}

/** Whether a full placement keeps capacity and every hard constraint. */
export function placementValid(inst: PackInstance, hostOfVm: ArrayLike<number>): boolean {
  const p = new Packer(inst, []);
  for (let v = 0; v < inst.vms.length; v++) {
    const h = hostOfVm[v]!;
    if (h < 0 || h >= inst.hosts.length || !p.fits(v, h)) return false;
    p.place(v, h);
  }
  const hard = (inst.constraints ?? []).filter((c) => c.hard);
  return !hard.length || checkAll(hard, p.state).length === 0;
}

/**
 * Every warm-start candidate that is complete and valid, restricted to the admissible host sets
 * `adm` (VM index → host indices, see admissibility()).
 */
export function warmStarts(inst: PackInstance, adm: readonly (readonly number[])[]): WarmStart[] {
  const hard = (inst.constraints ?? []).filter((c) => c.hard);
  const D = inst.dims.length;
  const maxCap = Array.from({ length: D }, (_, d) =>
    Math.max(1e-12, ...inst.hosts.map((h) => h.capacity[d]!)),
  );
  const size = (v: number) => inst.vms[v]!.demand.reduce((s, x, d) => s + x / maxCap[d]!, 0);
  const decreasing = inst.vms.map((_, i) => i).sort((a, b) => size(b) - size(a) || a - b);
  const hostIndex = new Map(inst.hosts.map((h, i) => [h.id, i]));
  const out: WarmStart[] = [];
  const keep = (p: Packer, heuristic: WarmStart['heuristic']) => {
    if (p.hostOfVm.every((h) => h >= 0) && placementValid(inst, p.hostOfVm))
      out.push({ hostOfVm: p.hostOfVm, heuristic });
  };

  // The current placement, when every VM has an admissible host.
  const cur = new Packer(inst, hard);
  inst.vms.forEach((v, i) => {
    const h = v.hostId !== undefined ? hostIndex.get(v.hostId) : undefined;
    if (h !== undefined && adm[i]!.includes(h)) cur.place(i, h);
  });
  keep(cur, 'current');

  // First fit and best fit decreasing, hosts already on first.
  const hostOrder = inst.hosts
    .map((_, i) => i)
    .sort((a, b) => Number(inst.hosts[b]!.on) - Number(inst.hosts[a]!.on) || a - b);
  const rank = new Int32Array(inst.hosts.length);
  hostOrder.forEach((h, k) => (rank[h] = k));
  for (const heuristic of ['first-fit-decreasing', 'best-fit-decreasing'] as const) {
    const p = new Packer(inst, hard);
    for (const v of decreasing) {
      let chosen = -1,
        best = Infinity;
      for (const h of adm[v]!) {
        if (!p.fits(v, h) || !p.admits(v, h)) continue;
        const score =
          heuristic === 'first-fit-decreasing'
            ? rank[h]!
            : p.freeAfter(v, h, maxCap) + (p.count[h] ? 0 : 1e6);
        if (score < best) {
          best = score;
          chosen = h;
        }
      }
      if (chosen < 0) break;
      p.place(v, chosen);
    }
    keep(p, heuristic);
  }

  // Drain: from the current placement, empty the least-loaded hosts into the hosts that stay used.
  if (out[0]?.heuristic === 'current') {
    const p = new Packer(inst, hard);
    out[0].hostOfVm.forEach((h, v) => p.place(v, h));
    const load = (h: number) =>
      Math.max(...inst.dims.map((_, d) => p.used[h]![d]! / Math.max(1e-12, inst.hosts[h]!.capacity[d]!)));
    const sources = inst.hosts
      .map((_, i) => i)
      .filter((h) => p.count[h]! > 0)
      .sort((a, b) => load(a) - load(b) || a - b);
    const emptied = new Set<number>();
    for (const src of sources) {
      const vms = [...p.hostOfVm.keys()]
        .filter((v) => p.hostOfVm[v] === src)
        .sort((a, b) => size(b) - size(a));
      const moved: number[] = [];
      let ok = true;
      for (const v of vms) {
        p.remove(v);
        let chosen = -1,
          best = Infinity;
        for (const h of adm[v]!) {
          if (h === src || emptied.has(h) || p.count[h] === 0 || !p.fits(v, h) || !p.admits(v, h)) continue;
          const f = p.freeAfter(v, h, maxCap);
          if (f < best) {
            best = f;
            chosen = h;
          }
        }
        if (chosen < 0) {
          p.place(v, src);
          ok = false;
          break;
        }
        p.place(v, chosen);
        moved.push(v);
      }
      if (ok) emptied.add(src);
      else
        for (const v of moved) {
          p.remove(v);
          p.place(v, src);
        }
    }
    keep(p, 'drain');
  }
  return out;
}
