/**
 * The consolidation MILP of a PackInstance, as plain arrays (no solver here: the I/O edge
 * src/drivers/highs/ hands them to HiGHS). Variables: x[v,h] binary for admissible pairs only
 * (capacity, fence/ban host sets, zone), y[h] binary host on. Minimise Σ cost_h·y[h] +
 * migrationWeight·Σ moveCostS_v·(1 − x[v,cur(v)]) subject to assignment rows, capacity rows per
 * dimension, the disaggregated linking rows x[v,h] ≤ y[h] (Martello & Toth, "Knapsack Problems",
 * 1990, ch. 8: the bin-packing MILP's LP bound is weak without them), symmetry breaking among
 * identical empty hosts, and the hard constraints of the catalog (milp-constraints.ts: rows,
 * auxiliary binaries and admissible columns). Repair mode fixes every VM that is not free to its host and can bound the
 * number of moves (Entropy: Hermenier et al., VEE 2009; BtrPlace: Hermenier et al., IEEE TDSC 2013).
 */
import { checkerFor, type Constraint } from '../../core/constraints/index.ts';
import { constraintState } from '../../core/constraints/state.ts';
import type { PackInstance } from './instance.ts';
import { catalogRules, encodeConstraint, hostConstraintKey, type ModelSink } from './milp-constraints.ts';

export { ENCODED_CONSTRAINT_TYPES } from './milp-constraints.ts';

/** How the model is built; every field is optional. */
export interface MilpModelOptions {
  /** Weight of one second of predicted migration time in the objective (default: see {@link defaultMigrationWeight}). */
  migrationWeight?: number;
  /** What a host on costs: 1 each (`hosts`, default) or its idle power over the mean idle power (`power`). */
  hostCost?: 'hosts' | 'power';
  /** Add the disaggregated linking rows x[v,h] ≤ y[h] (default true; false only to measure them). */
  linking?: boolean;
  /** Order identical empty hosts: y[h] ≥ y[h+1] (default true). */
  symmetryBreaking?: boolean;
  /** A placed VM stays in its host's zone (default true: what lets the optimizer split by zone). */
  stayInZone?: boolean;
  /** Repair mode: only these VMs may move; every other placed VM stays where it is. */
  free?: ReadonlySet<string>;
  /** Repair mode: at most this many placed VMs move. */
  maxMoves?: number;
}

/** A MILP in HiGHS's column-wise (CSC) form, plus what decoding a solution needs. */
export interface MilpModel {
  numCols: number;
  numRows: number;
  /** Constant added to the objective (the migration term's Σ weight·moveCostS). */
  offset: number;
  colCost: Float64Array;
  colLower: Float64Array;
  colUpper: Float64Array;
  /** 1: integer (all columns are binary here), 0: continuous. */
  integrality: Int32Array;
  rowLower: Float64Array;
  rowUpper: Float64Array;
  /** CSC matrix: column j's entries are starts[j]..starts[j+1]. */
  starts: Int32Array;
  indices: Int32Array;
  values: Float64Array;
  /**
   * Column of x[v,h] j < xCount: its VM index (`xVm[j]`) and host index (`xHost[j]`); y[h] is column
   * xCount + h; auxiliary binaries of the constraints follow (see `aux`).
   */
  xCount: number;
  xVm: Int32Array;
  xHost: Int32Array;
  /** Per VM, its admissible host indices (the x columns of VM v are in xStart[v]..xStart[v+1]). */
  xStart: Int32Array;
  /**
   * Auxiliary column xCount + H + k is the OR of the x columns auxCols[auxStart[k]..auxStart[k+1]]
   * (what a placement sets it to).
   */
  auxStart: Int32Array;
  auxCols: Int32Array;
  /** VMs with no admissible host (the instance is infeasible when this is not empty). */
  unplaceable: string[];
  /** Ids of the hard constraints the model does not encode (check the solution against them). */
  unencoded: string[];
  /** Rows of each kind (for measurements and the docs). */
  rows: Record<'assignment' | 'capacity' | 'linking' | 'symmetry' | 'constraint' | 'moves', number>;
  /** The migration weight used. */
  migrationWeight: number;
  /** Interchangeable empty hosts, in the order the symmetry rows impose (y[g[0]] ≥ y[g[1]] ≥ …). */
  symmetryGroups: number[][];
}

/**
 * The default migration weight: half a host over the sum of every move cost, so the objective is
 * lexicographic (fewest hosts first, then the cheapest moves) and a host is never traded for moves.
 */
export function defaultMigrationWeight(inst: PackInstance): number {
  const total = inst.vms.reduce((s, v) => s + (v.hostId !== undefined ? Math.max(0, v.moveCostS) : 0), 0);
  return 0.5 / (1 + total);
}

/** Host i's cost in the objective. */
export function hostCosts(inst: PackInstance, mode: 'hosts' | 'power' = 'hosts'): number[] {
  if (mode === 'hosts') return inst.hosts.map(() => 1);
  const mean = inst.hosts.reduce((s, h) => s + h.idleW, 0) / Math.max(1, inst.hosts.length);
  return inst.hosts.map((h) => (mean > 0 ? h.idleW / mean : 1));
}

/**
 * Whether VM `vi` may run on host `hi` at all: capacity, fence/ban, zone, repair mode, and the
 * catalog's host rules (root and quarantine fix a VM to its host; quarantine, among and splitAmong
 * refuse hosts).
 */
export function admissibility(inst: PackInstance, o: MilpModelOptions = {}): number[][] {
  const hostIndex = new Map(inst.hosts.map((h, i) => [h.id, i]));
  const state = constraintState(inst.hosts, []);
  const hard = (inst.constraints ?? []).filter((c) => c.hard);
  const hostSets = hard.filter((c) => c.type === 'fence' || c.type === 'ban');
  const byVm = new Map<string, Constraint[]>();
  for (const c of hostSets) for (const v of c.vms) byVm.set(v, [...(byVm.get(v) ?? []), c]);
  const rules = catalogRules(inst, hard);
  return inst.vms.map((v, vi) => {
    const cur = v.hostId !== undefined ? hostIndex.get(v.hostId) : undefined;
    const fixed = rules.fixed[vi];
    if (fixed !== undefined) return fixed >= 0 ? [fixed] : [];
    if (o.free && cur !== undefined && !o.free.has(v.id)) return [cur];
    const zone = cur !== undefined && o.stayInZone !== false ? inst.hosts[cur]!.zone : undefined;
    const cs = byVm.get(v.id) ?? [];
    const ok: number[] = [];
    inst.hosts.forEach((h, hi) => {
      if (zone !== undefined && h.zone !== zone) return;
      if (!v.demand.every((x, d) => x <= (h.capacity[d] ?? 0) + 1e-9)) return;
      if (cs.some((c) => checkerFor(c).admits(state, v.id, h.id))) return;
      if (rules.refuses(vi, hi)) return;
      ok.push(hi);
    });
    return ok;
  });
}

/** A signature of what makes two empty hosts interchangeable. */
function hostSignature(h: PackInstance['hosts'][number], hard: readonly Constraint[], cost: number) {
  const key = hostConstraintKey(hard, h);
  return JSON.stringify([h.capacity, h.physical, cost, h.on, h.zone, h.rack, h.tier, h.datacenter, key]);
}

/** [0, n0, n0 + n1, …] */
function prefixSums(ns: readonly number[]): Int32Array {
  const out = new Int32Array(ns.length + 1);
  ns.forEach((n, k) => (out[k + 1] = out[k]! + n));
  return out;
}

/**
 * Build the model.
 * @throws RangeError when a demand or capacity has the wrong number of dimensions
 */
export function buildMilpModel(inst: PackInstance, o: MilpModelOptions = {}): MilpModel {
  const D = inst.dims.length;
  for (const x of [...inst.hosts.map((h) => h.capacity), ...inst.vms.map((v) => v.demand)])
    if (x.length !== D)
      throw new RangeError(`A vector has ${x.length} dimensions, expected ${D} (${inst.dims})`);
  const V = inst.vms.length,
    H = inst.hosts.length;
  const w = o.migrationWeight ?? defaultMigrationWeight(inst);
  const cost = hostCosts(inst, o.hostCost);
  const adm = admissibility(inst, o);
  const hostIndex = new Map(inst.hosts.map((h, i) => [h.id, i]));
  const vmIndex = new Map(inst.vms.map((v, i) => [v.id, i]));

  // Columns: x[v,h] for admissible pairs (VM-major), then y[h].
  const xStart = new Int32Array(V + 1);
  let n = 0;
  adm.forEach((hs, v) => {
    xStart[v] = n;
    n += hs.length;
  });
  xStart[V] = n;
  const xCount = n;
  const xVm = new Int32Array(xCount),
    xHost = new Int32Array(xCount);
  const col = new Map<number, number>(); // v * H + h → column
  adm.forEach((hs, v) =>
    hs.forEach((h, k) => {
      const j = xStart[v]! + k;
      xVm[j] = v;
      xHost[j] = h;
      col.set(v * H + h, j);
    }),
  );
  const colCost: number[] = new Array<number>(xCount + H).fill(0);
  let offset = 0;
  inst.vms.forEach((v, vi) => {
    const cur = v.hostId !== undefined ? hostIndex.get(v.hostId) : undefined;
    if (cur === undefined || !(v.moveCostS > 0)) return;
    offset += w * v.moveCostS;
    const j = col.get(vi * H + cur);
    if (j !== undefined) colCost[j] = -w * v.moveCostS;
  });
  for (let h = 0; h < H; h++) colCost[xCount + h] = cost[h]!;

  // Rows as triplets, converted to CSC at the end.
  const rr: number[] = [],
    rc: number[] = [],
    rv: number[] = [],
    lo: number[] = [],
    up: number[] = [];
  const rows = { assignment: 0, capacity: 0, linking: 0, symmetry: 0, constraint: 0, moves: 0 };
  const row = (kind: keyof typeof rows, entries: [number, number][], l: number, u: number) => {
    const r = lo.length;
    for (const [c, v] of entries) {
      rr.push(r);
      rc.push(c);
      rv.push(v);
    }
    lo.push(l);
    up.push(u);
    rows[kind]++;
  };
  const y = (h: number) => xCount + h;

  for (let v = 0; v < V; v++) {
    const e: [number, number][] = [];
    for (let j = xStart[v]!; j < xStart[v + 1]!; j++) e.push([j, 1]);
    if (e.length) row('assignment', e, 1, 1);
  }
  const onHost: number[][] = Array.from({ length: H }, () => []);
  for (let j = 0; j < xCount; j++) onHost[xHost[j]!]!.push(j);
  for (let h = 0; h < H; h++) {
    const cap = inst.hosts[h]!.capacity;
    for (let d = 0; d < D; d++) {
      const e: [number, number][] = [];
      for (const j of onHost[h]!) {
        const dem = inst.vms[xVm[j]!]!.demand[d]!;
        if (dem > 0) e.push([j, dem]);
      }
      if (!e.length) continue;
      e.push([y(h), -cap[d]!]);
      row('capacity', e, -Infinity, 0);
    }
    if (o.linking !== false)
      for (const j of onHost[h]!)
        row(
          'linking',
          [
            [j, 1],
            [y(h), -1],
          ],
          -Infinity,
          0,
        );
  }

  const hard = (inst.constraints ?? []).filter((c) => c.hard);
  const symmetryGroups: number[][] = [];
  if (o.symmetryBreaking !== false) {
    const occupied = new Set(inst.vms.map((v) => v.hostId));
    const groups = new Map<string, number[]>();
    inst.hosts.forEach((h, i) => {
      if (occupied.has(h.id)) return;
      const s = hostSignature(h, hard, cost[i]!);
      groups.set(s, [...(groups.get(s) ?? []), i]);
    });
    for (const g of groups.values()) if (g.length > 1) symmetryGroups.push(g);
    for (const g of groups.values())
      for (let k = 0; k + 1 < g.length; k++)
        row(
          'symmetry',
          [
            [y(g[k]!), 1],
            [y(g[k + 1]!), -1],
          ],
          0,
          Infinity,
        );
  }

  const unencoded: string[] = [];
  const auxOf: number[][] = [];
  const sink: ModelSink = {
    inst,
    vmIndex,
    col: (v, h) => col.get(v * H + h),
    y,
    onHost,
    xVm,
    linked: o.linking !== false,
    row: (e, l, u) => row('constraint', e, l, u),
    aux(of) {
      auxOf.push([...of]);
      colCost.push(0);
      return colCost.length - 1;
    },
  };
  for (const c of hard) if (!encodeConstraint(c, sink)) unencoded.push(c.id);

  if (o.maxMoves !== undefined) {
    // Σ over placed VMs of x[v,cur] ≥ placed − maxMoves (a VM whose current host is not admissible always moves).
    const e: [number, number][] = [];
    let placed = 0;
    inst.vms.forEach((v, vi) => {
      const cur = v.hostId !== undefined ? hostIndex.get(v.hostId) : undefined;
      if (cur === undefined) return;
      placed++;
      const j = col.get(vi * H + cur);
      if (j !== undefined) e.push([j, 1]);
    });
    row('moves', e, placed - o.maxMoves, Infinity);
  }

  // Triplets → CSC.
  const numCols = colCost.length;
  const numRows = lo.length;
  const starts = new Int32Array(numCols + 1);
  for (const c of rc) starts[c + 1]!++;
  for (let j = 0; j < numCols; j++) starts[j + 1]! += starts[j]!;
  const fill = starts.slice(0, numCols);
  const indices = new Int32Array(rc.length),
    values = new Float64Array(rc.length);
  for (let k = 0; k < rc.length; k++) {
    const p = fill[rc[k]!]!++;
    indices[p] = rr[k]!;
    values[p] = rv[k]!;
  }
  return {
    numCols,
    numRows,
    offset,
    colCost: Float64Array.from(colCost),
    colLower: new Float64Array(numCols),
    colUpper: new Float64Array(numCols).fill(1),
    integrality: new Int32Array(numCols).fill(1),
    rowLower: Float64Array.from(lo),
    rowUpper: Float64Array.from(up),
    starts,
    indices,
    values,
    xCount,
    xVm,
    xHost,
    xStart,
    auxStart: prefixSums(auxOf.map((a) => a.length)),
    auxCols: Int32Array.from(auxOf.flat()),
    unplaceable: inst.vms.filter((_, i) => adm[i]!.length === 0).map((v) => v.id),
    symmetryGroups,
    unencoded,
    rows,
    migrationWeight: w,
  };
}
