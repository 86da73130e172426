/**
 * Large-neighbourhood search with exact sub-problems (Shaw, "Using constraint programming and local
 * search methods to solve vehicle routing problems", CP 1998), as BtrPlace repairs and partitions
 * large data centers (Hermenier et al., IEEE TDSC 2013): from a valid incumbent, repeatedly pick a
 * few hosts (the least loaded, a rack, random ones with room), free the VMs on them while everything
 * else stays, solve that small MILP exactly through the MilpSolver port with a short limit, and keep
 * it when it is better (fewer hosts, then cheaper moves). Disjoint neighbourhoods solve in parallel.
 * Deterministic given the seeded Random, a round limit and a node limit. Pure.
 */
import {
  constraintsByVm,
  GLOBAL_CONSTRAINT_TYPES,
  selects,
  type Constraint,
} from '../../core/constraints/index.ts';
import type { Random } from '../../runtime/random.ts';
import type { PackInstance } from './instance.ts';
import { buildMilpModel, ENCODED_CONSTRAINT_TYPES, type MilpModelOptions } from './milp-model.ts';
import { canonicalPlacement, decodePlacement, encodePlacement, placementObjective } from './milp-solution.ts';
import type { MilpSolver } from './solver-port.ts';
import { placementValid } from './warm-start.ts';

/** How the search runs; `random` is required, every other field optional. */
export interface LnsOptions extends Pick<MilpModelOptions, 'hostCost' | 'stayInZone' | 'linking' | 'free'> {
  /** The seeded source of every random choice. */
  random: Random;
  /** The objective's weight of a second of migration (the whole instance's, see defaultMigrationWeight). */
  migrationWeight: number;
  /** Wall-clock limit, seconds (needs `now`; default 10). */
  timeLimitS?: number;
  /** Seconds now (a clock's now()); without it only `maxRounds` stops the search. */
  now?: () => number;
  /** Deterministic limit: rounds of (parallel) neighbourhoods. */
  maxRounds?: number;
  /** Deterministic limit per sub-problem: branch-and-bound nodes. */
  maxNodes?: number;
  /** Wall-clock limit per sub-problem, seconds (default 1, never past the overall limit). */
  subTimeLimitS?: number;
  /**
   * Most hosts per neighbourhood (default 8). Neighbourhoods start at 4 hosts (small MILPs that
   * solve to optimality fast) and grow by one every 8 rounds without improvement, back to 4 on one.
   */
  hosts?: number;
  /** At most this many free VMs per neighbourhood (default 250): hosts are added until it is reached. */
  maxFreeVms?: number;
  /** Neighbourhoods solved at once (default 2), on disjoint hosts. */
  parallel?: number;
  /** Stop when the objective reaches this (e.g. a proven bound). */
  target?: number;
  /** Called with every improvement (objective, hosts used, seconds since the start). */
  onImprove?: (objective: number, hostsUsed: number, elapsedS: number) => void;
  /** Cancels the search: the incumbent so far is returned. */
  signal?: AbortSignal;
}

/** What the search ends with. */
export interface LnsResult {
  hostOfVm: Int32Array;
  objective: number;
  rounds: number;
  subSolves: number;
  improvements: number;
  /** Sub-solutions the sub-instance's own check refused (the sub-MILP does not encode it exactly). */
  invalid: number;
  /** Improving sub-solutions, valid in their sub-instance, that the whole placement's check refused (0: the restriction is exact). */
  rejected: number;
}

/** A neighbourhood: its hosts (instance indices), VMs on them, and which of those may move. */
interface Neighbourhood {
  hosts: number[];
  vms: number[];
  free: Set<number>;
}

/** The incumbent and its per-host loads, kept in step. */
class State {
  readonly used: Float64Array;
  readonly onHost: Set<number>[];
  constructor(
    readonly inst: PackInstance,
    readonly hostOfVm: Int32Array,
  ) {
    const D = inst.dims.length;
    this.used = new Float64Array(inst.hosts.length * D);
    this.onHost = inst.hosts.map(() => new Set<number>());
    hostOfVm.forEach((h, v) => this.add(v, h));
  }
  private add(v: number, h: number) {
    const D = this.inst.dims.length;
    this.hostOfVm[v] = h;
    this.onHost[h]!.add(v);
    this.inst.vms[v]!.demand.forEach((x, d) => (this.used[h * D + d]! += x));
  }
  move(v: number, h: number) {
    const D = this.inst.dims.length;
    const from = this.hostOfVm[v]!;
    if (from === h) return;
    this.onHost[from]!.delete(v);
    this.inst.vms[v]!.demand.forEach((x, d) => (this.used[from * D + d]! -= x));
    this.add(v, h);
  }
  /** The host's largest used share over the dimensions. */
  load(h: number): number {
    const D = this.inst.dims.length,
      cap = this.inst.hosts[h]!.capacity;
    let m = 0;
    for (let d = 0; d < D; d++) m = Math.max(m, this.used[h * D + d]! / Math.max(1e-12, cap[d]!));
    return m;
  }
}

/** Picks neighbourhoods: least-loaded, rack and random, rotating, on hosts not taken this round. */
function pickNeighbourhood(
  s: State,
  r: Random,
  taken: Set<number>,
  o: LnsOptions,
  byVm: Map<string, Constraint[]>,
  vmIndex: Map<string, number>,
  hostIndex: Map<string, number>,
  size: number,
): Neighbourhood | undefined {
  const inst = s.inst;
  const maxCap = inst.dims.map((_, d) => Math.max(1e-12, ...inst.hosts.map((h) => h.capacity[d]!)));
  const k = size;
  const maxFree = o.maxFreeVms ?? 250;
  const usedHosts = inst.hosts.map((_, h) => h).filter((h) => !taken.has(h) && s.onHost[h]!.size > 0);
  if (!usedHosts.length) return undefined;
  const seed = usedHosts[r.int(usedHosts.length)]!;
  const zone = o.stayInZone !== false ? inst.hosts[seed]!.zone : undefined;
  const pool = usedHosts.filter((h) => inst.hosts[h]!.zone === zone);
  const kind = r.int(3);
  let order: number[];
  if (kind === 0) {
    // The least loaded: a random half of the 3k least loaded, then random hosts with room.
    const sorted = [...pool].sort((a, b) => s.load(a) - s.load(b) || a - b);
    const low = sorted.slice(0, 3 * k);
    shuffle(low, r);
    const rest = sorted.slice(3 * k).filter((h) => s.load(h) < 0.9);
    shuffle(rest, r);
    order = [...low.slice(0, Math.ceil(k / 2)), ...rest, ...low.slice(Math.ceil(k / 2))];
  } else if (kind === 1 && inst.hosts[seed]!.rack !== undefined) {
    const rack = inst.hosts[seed]!.rack;
    order = pool.filter((h) => inst.hosts[h]!.rack === rack);
    shuffle(order, r);
    order.unshift(seed);
  } else {
    order = [...pool];
    shuffle(order, r);
    order.unshift(seed);
  }
  const hosts: number[] = [];
  const vms: number[] = [];
  for (const h of order) {
    if (hosts.length >= k || hosts.includes(h)) continue;
    if (hosts.length >= 2 && vms.length + s.onHost[h]!.size > maxFree) continue;
    hosts.push(h);
    vms.push(...s.onHost[h]!);
  }
  // Empty hosts too, half the time: room to rearrange (repair, unequal hosts).
  const empty = inst.hosts.map((_, h) => h).filter((h) => !taken.has(h) && s.onHost[h]!.size === 0);
  // Preferably one of the largest: emptying two small hosts into a large one saves a host.
  const emptyZone = empty.filter((h) => inst.hosts[h]!.zone === zone);
  if (emptyZone.length && r.next() < 0.5) {
    const size = (h: number) => inst.hosts[h]!.capacity.reduce((a, c, d) => a + c / maxCap[d]!, 0);
    const top = Math.max(...emptyZone.map(size));
    const largest = emptyZone.filter((h) => size(h) >= top - 1e-9);
    shuffle(largest, r);
    hosts.push(...largest.slice(0, 1 + r.int(Math.ceil(k / 4))));
  }
  // Free a VM only when every hard constraint about it is decided inside the neighbourhood. Rules
  // about hosts or every VM are, restricted to its hosts (subInstance); so are the per-host ones.
  const inside = new Set(vms);
  const local = (c: Constraint) =>
    GLOBAL_CONSTRAINT_TYPES.includes(c.type) ||
    c.type === 'fence' ||
    c.type === 'ban' ||
    c.type === 'anti-affinity' ||
    c.type === 'max-per-host' ||
    c.type === 'affinity' ||
    c.vms.every((id) => {
      const i = vmIndex.get(id);
      return i === undefined || inside.has(i);
    });
  const free = new Set(
    vms.filter((v) => {
      const vm = inst.vms[v]!;
      if (o.free && vm.hostId !== undefined && !o.free.has(vm.id)) return false;
      if (zone !== undefined && o.stayInZone !== false && vm.hostId !== undefined) {
        const orig = hostIndex.get(vm.hostId);
        if (orig !== undefined && inst.hosts[orig]!.zone !== zone) return false;
      }
      return (byVm.get(vm.id) ?? []).every((c) => ENCODED_CONSTRAINT_TYPES.has(c.type) && local(c));
    }),
  );
  return { hosts, vms, free };
}

function shuffle<T>(a: T[], r: Random) {
  for (let i = a.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
}

/**
 * The budgets of the host-set counts (maxOnline: hosts on, runningCapacity: VMs running) per
 * neighbourhood of a round, so that whatever each sub-solution does within its budget, the whole
 * keeps the rule: a neighbourhood may use what its hosts use now, and the first also the slack
 * (max − what the whole uses now). The hosts outside every neighbourhood do not change.
 */
function countBudgets(s: State, picks: readonly Neighbourhood[], globals: readonly Constraint[]) {
  const out = picks.map(() => new Map<string, number>());
  for (const c of globals) {
    if (c.type !== 'maxOnline' && c.type !== 'runningCapacity') continue;
    const count = (h: number) =>
      !selects(c, s.inst.hosts[h]!)
        ? 0
        : c.type === 'maxOnline'
          ? Math.min(1, s.onHost[h]!.size)
          : s.onHost[h]!.size;
    let total = 0;
    for (let h = 0; h < s.inst.hosts.length; h++) total += count(h);
    const slack = Math.max(0, c.max - total);
    picks.forEach((n, i) =>
      out[i]!.set(
        c.id,
        n.hosts.reduce((a, h) => a + count(h), i === 0 ? slack : 0),
      ),
    );
  }
  return out;
}

/**
 * The sub-instance of a neighbourhood: its hosts, its VMs (the pinned ones fenced to their host),
 * the constraints restricted to them. The VMs on its hosts are all in it, so the per-host rules
 * (overbook, preserve, lonely, quarantine) judge the same loads and neighbours as on the whole;
 * the host-set counts get the neighbourhood's budget (countBudgets).
 */
function subInstance(
  s: State,
  n: Neighbourhood,
  byVm: Map<string, Constraint[]>,
  globals: readonly Constraint[],
  budget: ReadonlyMap<string, number>,
): PackInstance {
  const inst = s.inst;
  const ids = new Set(n.vms.map((v) => inst.vms[v]!.id));
  const cs = new Map<string, Constraint>();
  for (const v of n.vms) for (const c of byVm.get(inst.vms[v]!.id) ?? []) if (!cs.has(c.id)) cs.set(c.id, c);
  for (const c of globals) cs.set(c.id, c);
  const constraints: Constraint[] = [...cs.values()].map((c) => {
    const r = { ...c, vms: c.vms.filter((v) => ids.has(v)) };
    if ((r.type === 'maxOnline' || r.type === 'runningCapacity') && budget.has(r.id))
      r.max = budget.get(r.id)!;
    return r;
  });
  for (const v of n.vms)
    if (!n.free.has(v))
      constraints.push({
        id: `lns-pin-${inst.vms[v]!.id}`,
        type: 'fence',
        hard: true,
        vms: [inst.vms[v]!.id],
        hosts: [inst.hosts[s.hostOfVm[v]!]!.id],
      });
  return {
    dims: inst.dims,
    hosts: n.hosts.map((h) => inst.hosts[h]!),
    vms: n.vms.map((v) => inst.vms[v]!),
    constraints,
  };
}

/**
 * Improve a valid placement `start` (host index per VM) by large-neighbourhood search; never returns
 * a placement worse than or less valid than the start (every accepted sub-solution is verified).
 * @example await lns(inst, start, highsSolver(), { random: seededRandom(1), migrationWeight: w, timeLimitS: 10, now })
 */
export async function lns(
  inst: PackInstance,
  start: ArrayLike<number>,
  solver: MilpSolver,
  o: LnsOptions,
): Promise<LnsResult> {
  const t0 = o.now?.() ?? 0;
  const elapsed = () => (o.now ? o.now() - t0 : 0);
  const limit = o.timeLimitS ?? 10;
  const s = new State(inst, Int32Array.from(start));
  const w = { migrationWeight: o.migrationWeight };
  const hard = (inst.constraints ?? []).filter((c) => c.hard);
  const byVm = constraintsByVm(hard);
  const globals = hard.filter((c) => GLOBAL_CONSTRAINT_TYPES.includes(c.type));
  const vmIndex = new Map(inst.vms.map((v, i) => [v.id, i]));
  const hostIndex = new Map(inst.hosts.map((h, i) => [h.id, i]));
  let objective = placementObjective(inst, w, s.hostOfVm, o);
  let rounds = 0,
    subSolves = 0,
    improvements = 0,
    invalid = 0,
    rejected = 0,
    stale = 0;
  const over = () =>
    o.signal?.aborted ||
    (o.maxRounds !== undefined && rounds >= o.maxRounds) ||
    (o.now !== undefined && elapsed() >= limit) ||
    (o.target !== undefined && objective <= o.target + 1e-9) ||
    (o.now === undefined && o.maxRounds === undefined && rounds >= 100) ||
    stale >= 200;
  while (!over()) {
    rounds++;
    const taken = new Set<number>();
    const picks: Neighbourhood[] = [];
    for (let p = 0; p < Math.max(1, o.parallel ?? 2); p++) {
      const size = Math.min(o.hosts ?? 8, 4 + Math.floor(stale / 8));
      const n = pickNeighbourhood(s, o.random, taken, o, byVm, vmIndex, hostIndex, size);
      if (!n || !n.free.size) continue;
      n.hosts.forEach((h) => taken.add(h));
      picks.push(n);
    }
    if (!picks.length) {
      stale++;
      continue;
    }
    const subLimit = Math.max(0.05, Math.min(o.subTimeLimitS ?? 1, o.now ? limit - elapsed() : Infinity));
    const budgets = countBudgets(s, picks, globals);
    const results = await Promise.all(
      picks.map(async (n, i) => {
        const sub = subInstance(s, n, byVm, globals, budgets[i]!);
        const model = buildMilpModel(sub, { ...o, ...w, symmetryBreaking: true });
        const local = Int32Array.from(n.vms, (v) => n.hosts.indexOf(s.hostOfVm[v]!));
        const canonical = canonicalPlacement(model, local);
        const warmStart = encodePlacement(model, placementValid(sub, canonical) ? canonical : local);
        if (model.unplaceable.length) return undefined;
        subSolves++;
        const r = await solver.solve(model, {
          timeLimitS: o.maxNodes !== undefined && o.now === undefined ? 60 : subLimit,
          maxNodes: o.maxNodes,
          // Below one host in a sub-problem of a few hosts: the host count is proven, moves nearly.
          mipRelGap: 1e-3,
          warmStart,
          signal: o.signal,
        });
        if (!r.colValue) return undefined;
        const dec = decodePlacement(model, r.colValue);
        if (!dec.every((h) => h >= 0) || !placementValid(sub, dec)) {
          invalid++;
          return undefined;
        }
        return dec.some((h, i) => h !== local[i]) ? { n, dec } : undefined;
      }),
    );
    let improved = false;
    for (const res of results) {
      if (!res) continue;
      const undo = res.n.vms.map((v) => [v, s.hostOfVm[v]!] as const);
      res.n.vms.forEach((v, i) => s.move(v, res.n.hosts[res.dec[i]!]!));
      // Kept only if the whole placement is better (the instance's host costs) and still valid: the
      // restriction makes it so by construction; checked anyway (the whole check costs seconds at
      // 30,000 VMs, so only for an improvement), a refusal counted.
      const next = placementObjective(inst, w, s.hostOfVm, o);
      const valid = next < objective - 1e-9 && (!hard.length || placementValid(inst, s.hostOfVm));
      if (!valid && next < objective - 1e-9) rejected++;
      if (!valid) {
        for (const [v, h] of undo) s.move(v, h);
        continue;
      }
      objective = next;
      improved = true;
    }
    if (improved) {
      improvements++;
      stale = 0;
      o.onImprove?.(objective, new Set(s.hostOfVm).size, elapsed());
    } else stale++;
  }
  return { hostOfVm: s.hostOfVm, objective, rounds, subSolves, improvements, invalid, rejected };
}
