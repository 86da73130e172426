/**
 * The optimizer as a consolidation policy of the simulator: at each interval, the hosts that are on
 * and their VMs become a PackInstance (CPU: each VM's current demand in MIPS; memory: its type's
 * RAM), hosts that are off join as spares, the VMs of overloaded hosts and of the least-loaded hosts
 * are freed (repair mode, Entropy: Hermenier et al., VEE 2009), the rest stay, and the synchronous
 * optimizer (optimize-sync.ts) minimises the idle power of the hosts on plus the predicted
 * migration time. Its placement becomes the round's migrations. Pure: the solver is injected.
 */
import { powerW } from '../../models/power.ts';
import type { PlannedMigration } from '../consolidation/beloglazov.ts';
import type { ClusterSnapshot } from '../consolidation/trial-cluster.ts';
import type { OptimizeResult, PackHost, PackInstance, PackVm } from './instance.ts';
import { optimizeSync } from './optimize-sync.ts';
import type { MilpSolverSync } from './solver-port.ts';

/** How a round is planned. */
export interface OptimalRoundOptions {
  /** Share of a host's MIPS the plan may fill (headroom for the next interval's growth; default 0.8). */
  utilizationCap?: number;
  /** VMs freed to consolidate, taken from the least-loaded hosts first (default 30; the overloaded hosts' VMs come on top). */
  freeVms?: number;
  /** Branch-and-bound nodes per solve (deterministic limit). */
  maxNodes?: number;
  /** Wall-clock seconds per solve (not reproducible; replaces the node limit). */
  timeLimitS?: number;
  /** Predicted migration time of VM `vm` from host `host` at CPU `utilization`, seconds (the simulator's migration model). */
  moveCostS: (vm: number, host: number, utilization: number) => number;
}

/** Default share of a host's MIPS a plan may fill. */
export const DEFAULT_UTILIZATION_CAP = 0.8;
/** Default number of VMs freed to consolidate per round. */
export const DEFAULT_FREE_VMS = 30;

/** What a round did, for counters. */
export interface OptimalRound {
  migrations: PlannedMigration[];
  /** The instance solved (absent when there was nothing to free). */
  instance?: PackInstance;
  result?: OptimizeResult;
  overloadedHosts: number;
  freed: number;
}

/**
 * Plan one consolidation round with the optimizer.
 * @example planOptimalRound(snapshot, milp, { moveCostS: () => 12 })
 */
export function planOptimalRound(
  snap: ClusterSnapshot,
  solver: MilpSolverSync,
  o: OptimalRoundOptions,
): OptimalRound {
  const cap = o.utilizationCap ?? DEFAULT_UTILIZATION_CAP;
  const H = snap.hostCapacityMips.length;
  // Hosts with a VM migrating in or out stay out of the round (their VMs are counted twice meanwhile).
  const busy = new Uint8Array(H);
  for (let h = 0; h < H; h++) if (snap.hostVms[h]!.some((v) => snap.vmMigrating[v])) busy[h] = 1;
  const on: number[] = [];
  for (let h = 0; h < H; h++) if (!snap.hostOff[h] && !snap.hostBlocked[h] && !busy[h]) on.push(h);
  const load = (h: number) => snap.hostVms[h]!.reduce((s, v) => s + snap.vmDemandMips[v]!, 0);
  const ram = (h: number) => snap.hostVms[h]!.reduce((s, v) => s + snap.vmRamMiB[v]!, 0);
  const overloaded = on.filter(
    (h) => load(h) > cap * snap.hostCapacityMips[h]! + 1e-9 || ram(h) > snap.hostRamMiB[h]! + 1e-9,
  );
  // Spares: for every kind of host, as many hosts that are off as there are overloaded hosts (at least one).
  const spares: number[] = [];
  const perKind = new Map<string, number>();
  for (let h = 0; h < H; h++) {
    if (!snap.hostOff[h] || snap.hostBlocked[h] || busy[h] || snap.hostVms[h]!.length) continue;
    const kind = `${snap.hostCapacityMips[h]}/${snap.hostRamMiB[h]}/${powerW(snap.hostPower[h]!, 0)}`;
    const n = perKind.get(kind) ?? 0;
    if (n >= Math.max(1, overloaded.length)) continue;
    perKind.set(kind, n + 1);
    spares.push(h);
  }
  const hostIdx = [...on, ...spares];
  const hosts: PackHost[] = hostIdx.map((h) => ({
    id: String(h),
    name: `host ${h}`,
    capacity: [cap * snap.hostCapacityMips[h]!, snap.hostRamMiB[h]!],
    idleW: powerW(snap.hostPower[h]!, 0),
    on: !snap.hostOff[h],
  }));
  const vms: PackVm[] = [];
  for (const h of on)
    for (const v of snap.hostVms[h]!)
      vms.push({
        id: String(v),
        demand: [snap.vmDemandMips[v]!, snap.vmRamMiB[v]!],
        hostId: String(h),
        moveCostS: o.moveCostS(v, h, snap.vmDemandMips[v]! / snap.vmMips[v]!),
      });
  const free = new Set<string>();
  for (const h of overloaded) for (const v of snap.hostVms[h]!) free.add(String(v));
  // The least-loaded hosts' VMs first (the ones a consolidation would empty), in host order on ties.
  const byLoad = on
    .filter((h) => !overloaded.includes(h))
    .sort((a, b) => load(a) / snap.hostCapacityMips[a]! - load(b) / snap.hostCapacityMips[b]! || a - b);
  let budget = o.freeVms ?? DEFAULT_FREE_VMS;
  for (const h of byLoad) {
    const list = snap.hostVms[h]!;
    if (list.length > budget) break;
    for (const v of list) free.add(String(v));
    budget -= list.length;
  }
  const base = { migrations: [], overloadedHosts: overloaded.length, freed: free.size };
  if (!free.size || !vms.length) return base;
  const inst: PackInstance = { dims: ['cpu', 'memoryMiB'], hosts, vms };
  const result = optimizeSync(inst, solver, {
    free,
    hostCost: 'power',
    stayInZone: false,
    maxNodes: o.maxNodes,
    timeLimitS: o.timeLimitS,
  });
  if (!result.incumbent) return { ...base, instance: inst, result };
  const over = new Set(overloaded);
  const migrations: PlannedMigration[] = [];
  for (const v of vms) {
    const to = Number(result.incumbent.placement.get(v.id));
    const from = Number(v.hostId);
    if (to !== from)
      migrations.push({ vm: Number(v.id), from, to, phase: over.has(from) ? 'overload' : 'underload' });
  }
  return { ...base, migrations, instance: inst, result };
}
