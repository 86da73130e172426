/**
 * Between placements (host index per VM) and the model's column vectors: the warm start's columns,
 * the placement a solution encodes, the symmetry rows' order, and a placement's objective. Pure.
 */
import type { PackInstance } from './instance.ts';
import { hostCosts, type MilpModel, type MilpModelOptions } from './milp-model.ts';

/** The column vector of a placement (VM index → host index), or undefined if a pair is not a column. */
export function encodePlacement(m: MilpModel, hostOfVm: ArrayLike<number>): Float64Array | undefined {
  const x = new Float64Array(m.numCols);
  for (let v = 0; v + 1 < m.xStart.length; v++) {
    let found = false;
    for (let j = m.xStart[v]!; j < m.xStart[v + 1]!; j++)
      if (m.xHost[j] === hostOfVm[v]) {
        x[j] = 1;
        x[m.xCount + hostOfVm[v]!] = 1;
        found = true;
      }
    if (!found) return undefined;
  }
  // The constraints' auxiliary binaries: each the OR of its x columns.
  const aux = m.auxStart.length - 1;
  const first = m.numCols - aux;
  for (let k = 0; k < aux; k++)
    for (let p = m.auxStart[k]!; p < m.auxStart[k + 1]!; p++) if (x[m.auxCols[p]!]) x[first + k] = 1;
  return x;
}

/**
 * A placement with the symmetry rows' order: in each group of interchangeable empty hosts, the
 * hosts it uses are renamed to the group's first ones (same loads, so the same objective and
 * capacity; a warm start that broke the order would be refused by the solver).
 */
export function canonicalPlacement(m: MilpModel, hostOfVm: ArrayLike<number>): Int32Array {
  const out = Int32Array.from(hostOfVm as ArrayLike<number>);
  for (const g of m.symmetryGroups) {
    const used = g.filter((h) => out.includes(h));
    const rename = new Map(used.map((h, k) => [h, g[k]!]));
    out.forEach((h, v) => {
      const to = rename.get(h);
      if (to !== undefined) out[v] = to;
    });
  }
  return out;
}

/** The placement (VM index → host index, −1 if none) of a column vector. */
export function decodePlacement(m: MilpModel, colValue: ArrayLike<number>): Int32Array {
  const V = m.xStart.length - 1;
  const out = new Int32Array(V).fill(-1);
  for (let v = 0; v < V; v++) {
    let best = 0.5;
    for (let j = m.xStart[v]!; j < m.xStart[v + 1]!; j++)
      if (colValue[j]! > best) {
        best = colValue[j]!;
        out[v] = m.xHost[j]!;
      }
  }
  return out;
}

/** The objective of a placement under the model (host costs of used hosts + weighted move cost). */
export function placementObjective(
  inst: PackInstance,
  m: Pick<MilpModel, 'migrationWeight'>,
  hostOfVm: ArrayLike<number>,
  o: MilpModelOptions = {},
): number {
  const cost = hostCosts(inst, o.hostCost);
  const used = new Set<number>();
  let obj = 0;
  inst.vms.forEach((v, i) => {
    const h = hostOfVm[i]!;
    used.add(h);
    if (v.hostId !== undefined && inst.hosts[h]?.id !== v.hostId)
      obj += m.migrationWeight * Math.max(0, v.moveCostS);
  });
  for (const h of used) if (h >= 0) obj += cost[h]!;
  return obj;
}
