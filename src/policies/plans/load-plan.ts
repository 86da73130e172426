/**
 * Load-aware plans for the control plane: the simulator's own Beloglazov planner (detector +
 * selection + PABFD, src/policies/consolidation/beloglazov.ts) run on the live cluster's measured
 * CPU histories, turned into a reviewable plan: power-on, migrate and power-off actions, each with
 * its reason, cost and gain. Pure: the caller passes the cluster, the options and the randomness.
 */
import { planMigration, predictMigration } from '../../models/migration.ts';
import { predictBlockMigration } from '../../models/migration-disk.ts';
import { idlePowerW, powerW, type PowerModelSpec } from '../../models/power.ts';
import type { Random } from '../../runtime/random.ts';
import { planConsolidation as beloglazov } from '../consolidation/beloglazov.ts';
import type { ClusterSnapshot } from '../consolidation/trial-cluster.ts';
import { admitsAll } from '../../core/constraints/index.ts';
import type { TrialCluster } from '../consolidation/trial-cluster.ts';
import { buildDetector, buildSelection, type PolicySpec } from '../registry.ts';
import { PlanConstraints } from './plan-constraints.ts';
import {
  offableHosts,
  summarize,
  type ConsolidationPlanOptions,
  type Plan,
  type PlanAction,
  type PlanCluster,
  type PlanHost,
  type PlanVm,
} from './plan.ts';

/** MIPS of one vCPU in the snapshot (any unit works: only ratios matter). */
const MIPS_PER_CPU = 1000;
/** History kept per VM (CloudSim keeps 30 samples). */
export const LOAD_HISTORY = 30;

export interface LoadHost extends PlanHost {
  /** Physical CPUs (cycles are not overcommitted, vCPU slots are). */
  cpus: number;
  power: PowerModelSpec;
  bandwidthMbps: number;
}
export interface LoadVm extends PlanVm {
  /** CPU utilization of the VM's vCPUs (0..1), newest first; empty when never measured. */
  history: readonly number[];
}
export interface LoadCluster extends PlanCluster {
  hosts: LoadHost[];
  vms: LoadVm[];
}

export interface LoadPlanOptions extends ConsolidationPlanOptions {
  policy: Extract<PolicySpec, { type: 'migration' }>;
  /** Seconds between samples of the histories (the regression detectors extrapolate with it). */
  stepS: number;
  /** Dirty rate of a VM at 100 % CPU, MiB/s (it scales with CPU, as in the simulator's precopy-model). */
  maxDirtyMiBps: number;
  downtimeTargetMs: number;
}

export const DEFAULT_LOAD_OPTIONS = { stepS: 300, maxDirtyMiBps: 50, downtimeTargetMs: 300 } as const;

/**
 * Plan one round of Beloglazov & Buyya's dynamic consolidation (CCPE 2012) on the live cluster:
 * relieve overloaded hosts, empty underloaded ones, switch emptied hosts off (keeping spares) and
 * switched-off hosts on when an overload needs them. Hold-down and payback apply to the emptying
 * moves; an overloaded host's VMs may move whatever their hold-down. Targets are in the VM's zone
 * and admitted by its hard constraints (through the planner's `extraFits` hook).
 */
export function planLoadAware(c: LoadCluster, o: LoadPlanOptions, random: Random): Plan {
  const hosts = c.hosts;
  const H = hosts.length;
  const hostIx = new Map(hosts.map((h, i) => [h.id, i]));
  const vms = c.vms.filter((v) => hosts[hostIx.get(v.hostId) ?? -1]?.state === 'up');
  const V = vms.length;
  const lists: number[][] = hosts.map(() => []);
  vms.forEach((v, i) => lists[hostIx.get(v.hostId)!]!.push(i));
  const cap = new Float64Array(H),
    ram = new Float64Array(H),
    bw = new Float64Array(H),
    util = new Float64Array(H),
    nowW = new Float64Array(H);
  const off = new Uint8Array(H),
    blocked = new Uint8Array(H);
  const vmMips = new Float64Array(V),
    vmRam = new Float64Array(V),
    demand = new Float64Array(V),
    held = new Uint8Array(V);
  const hist = new Float64Array(V * LOAD_HISTORY),
    histLen = new Uint8Array(V);
  vms.forEach((v, i) => {
    vmMips[i] = v.vcpus * MIPS_PER_CPU;
    vmRam[i] = v.memoryMiB;
    demand[i] = (v.history[0] ?? 0) * vmMips[i]!;
    const n = Math.min(LOAD_HISTORY, v.history.length);
    for (let k = 0; k < n; k++) hist[i * LOAD_HISTORY + k] = v.history[k]!;
    histLen[i] = n;
    held[i] = v.sinceMigrationS < o.holdDownS ? 1 : 0;
  });
  hosts.forEach((h, i) => {
    cap[i] = h.cpus * MIPS_PER_CPU;
    ram[i] = h.capacity.memoryMiB;
    bw[i] = h.bandwidthMbps;
    const d = lists[i]!.reduce((s, v) => s + demand[v]!, 0);
    util[i] = d / cap[i]!;
    // Switched-off hosts may be switched on for an overload; empty hosts that are on are treated the
    // same way, so that emptying one host never just fills another empty one.
    off[i] = h.state === 'off' || (h.state === 'up' && lists[i]!.length === 0) ? 1 : 0;
    blocked[i] = h.state === 'up' || h.state === 'off' ? 0 : 1;
    nowW[i] = h.state === 'up' ? powerW(h.power, Math.min(1, util[i]!)) : 0;
  });
  const pc = new PlanConstraints(c);
  const vmIx = new Map(vms.map((v, i) => [v.id, i]));
  // The trial cluster's placement of the VMs the constraints about v name (VMs on hosts that are not
  // up stay where they are); a VM being moved counts on its source and its target.
  const admittedInTrial = (t: TrialCluster, h: number, v: number) => {
    const cs = pc.about(vms[v]!.id);
    if (!cs.length) return true;
    // Rules about every VM (lonely, preserve, host rules) judge the whole placement.
    const members = new Set(pc.hasGlobal ? vms.map((x) => x.id) : cs.flatMap((x) => x.vms));
    const placement = new Map<string, string[]>();
    for (const m of members) {
      const start = pc.placement.get(m);
      if (start && !vmIx.has(m)) placement.set(m, [...start]);
    }
    for (let x = 0; x < H; x++)
      for (const i of t.lists[x]!) {
        const id = vms[i]!.id;
        if (!members.has(id)) continue;
        const l = placement.get(id);
        if (l) l.push(hosts[x]!.id);
        else placement.set(id, [hosts[x]!.id]);
      }
    // The trial's own placement: the plan's host index does not describe it.
    return !admitsAll(cs, { ...pc, placement, onHost: undefined }, vms[v]!.id, hosts[h]!.id);
  };
  const snap: ClusterSnapshot = {
    hostCapacityMips: cap,
    hostPeMips: cap, // a VM may use all of a host's cores, up to its own vCPUs
    hostRamMiB: ram,
    hostBandwidthMbps: bw,
    hostPower: hosts.map((h) => h.power),
    hostUtilization: util,
    hostPowerNowW: nowW,
    hostOff: off,
    hostBlocked: blocked,
    hostVms: lists,
    vmMips,
    vmRamMiB: vmRam,
    vmDemandMips: demand,
    vmMigrating: new Uint8Array(V),
    vmHistory: hist,
    vmHistoryLength: histLen,
    historyCapacity: LOAD_HISTORY,
  };
  const detector = buildDetector(o.policy, 'loess', o.stepS);
  const { migrations } = beloglazov(snap, {
    detector,
    selection: buildSelection(o.policy.selection),
    random,
    ramConstraint: true,
    excludeOverloadTargets: true,
    consolidateIdleHosts: true,
    // vCPU slots (the placement's reservation view) must hold too, or the migration would be refused;
    // and the VM stays in its zone where its hard constraints admit it.
    extraFits: (t, h, v) =>
      t.lists[h]!.reduce((s, x) => s + vms[x]!.vcpus, 0) + vms[v]!.vcpus <= hosts[h]!.capacity.vcpus &&
      pc.inZone(vms[v]!.id, hosts[h]!.id) &&
      admittedInTrial(t, h, v),
  });

  const cost = (i: number) => {
    const dirty = (demand[i]! / vmMips[i]!) * o.maxDirtyMiBps;
    const p = planMigration({
      memMiB: vmRam[i]!,
      dirtyMiBps: dirty,
      bandwidthMbps: o.bandwidthMbps,
      downtimeTargetMs: o.downtimeTargetMs,
    });
    const r = p.ok
      ? p.predicted!
      : predictMigration(
          { memMiB: vmRam[i]!, dirtyMiBps: dirty, bandwidthMbps: o.bandwidthMbps },
          { mode: 'postcopy' },
        );
    return { timeS: r.totalMs / 1000, dataMiB: r.bytes / 2 ** 20 };
  };
  const pct = (x: number) => `${(x * 100).toFixed(0)} %`;

  // Emptying moves are all-or-nothing per source host: drop a host's moves if one of its VMs is in
  // hold-down or if the energy its switch-off saves within the horizon does not pay for the moves.
  const bySource = new Map<number, typeof migrations>();
  for (const m of migrations)
    if (m.phase === 'underload') {
      let g = bySource.get(m.from);
      if (!g) bySource.set(m.from, (g = []));
      g.push(m);
    }
  const dropped = new Set<number>();
  for (const [src, g] of bySource) {
    const costJ = g.reduce((s, m) => s + cost(m.vm).dataMiB, 0) * o.migrationJPerMiB;
    const gainJ = idlePowerW(hosts[src]!.power) * o.paybackHorizonS;
    if (g.some((m) => held[m.vm]) || gainJ <= costJ) dropped.add(src);
  }

  const actions: PlanAction[] = [];
  const poweredOn = new Set<number>();
  const where = new Int32Array(V);
  for (let h = 0; h < H; h++) for (const v of lists[h]!) where[v] = h;
  const emptied = new Set<number>();
  for (const m of migrations) {
    if (m.phase === 'underload' && dropped.has(m.from)) continue;
    const to = hosts[m.to]!,
      from = hosts[m.from]!,
      v = vms[m.vm]!;
    if (to.state === 'off' && !poweredOn.has(m.to)) {
      poweredOn.add(m.to);
      actions.push({
        type: 'power-on',
        hostId: to.id,
        hostName: to.name,
        reason: `capacity for the VMs moved off ${from.name}, which is overloaded`,
        cost: { watts: idlePowerW(to.power) },
      });
    }
    const c1 = cost(m.vm);
    const vmLoad = demand[m.vm]! / cap[m.from]!;
    actions.push(
      m.phase === 'overload'
        ? {
            type: 'migrate',
            vmId: v.id,
            vmName: v.name,
            from: from.id,
            to: to.id,
            reason: `${from.name} is overloaded (CPU ${pct(util[m.from]!)}, ${o.policy.label}); ${v.name} (${pct(vmLoad)} of the host) moves to ${to.name}`,
            cost: c1,
            gain: { loadMoved: vmLoad },
          }
        : {
            type: 'migrate',
            vmId: v.id,
            vmName: v.name,
            from: from.id,
            to: to.id,
            reason: `empty ${from.name} (CPU ${pct(util[m.from]!)}, underloaded) to switch it off; ${to.name} has room`,
            cost: c1,
          },
    );
    where[m.vm] = m.to;
    if (m.phase === 'underload') emptied.add(m.from);
  }
  // Switch off the hosts left empty (emptied now or already), keeping spares on.
  const count = new Int32Array(H);
  for (let v = 0; v < V; v++) count[where[v]!]!++;
  const already: string[] = [];
  for (let h = 0; h < H; h++)
    if (hosts[h]!.state === 'up' && count[h] === 0 && !emptied.has(h) && lists[h]!.length === 0)
      already.push(hosts[h]!.id);
  const offable = offableHosts(
    hosts,
    already,
    [...emptied].filter((h) => count[h] === 0).map((h) => hosts[h]!.id),
    o.powerOffGraceS ?? 0,
  ).map((id) => hostIx.get(id)!);
  for (const h of offable.slice(Math.min(o.spareHosts, offable.length))) {
    actions.push({
      type: 'power-off',
      hostId: hosts[h]!.id,
      hostName: hosts[h]!.name,
      reason: emptied.has(h)
        ? `emptied by this plan; ${o.spareHosts} spare host(s) stay on`
        : `empty; ${o.spareHosts} spare host(s) stay on`,
      gain: { wattsSaved: idlePowerW(hosts[h]!.power) },
    });
  }
  // Power-ons first: they have no prerequisite, and hosts boot while nothing else waits on them.
  return summarize(
    [...actions.filter((a) => a.type === 'power-on'), ...actions.filter((a) => a.type !== 'power-on')],
    c,
  );
}

/**
 * Spread rebalancing (the load-balancing mode of VMware DRS / oVirt's "evenly distributed" policy):
 * while the busiest and the idlest host that are on differ by more than `gap` in CPU utilization,
 * move the VM off the busiest host that best evens the pair, if it fits the idlest (vCPU slots and
 * RAM), its hard constraints admit it there, and it narrows the gap. The idlest host is taken in the
 * busiest one's zone (plans keep VMs in their zone). VMs in hold-down stay. At most `maxMoves` moves.
 */
export function planSpread(
  c: LoadCluster,
  o: { gap: number; holdDownS: number; bandwidthMbps: number; maxMoves?: number },
): Plan {
  const up = c.hosts.filter((h) => h.state === 'up');
  const on = new Map(up.map((h) => [h.id, c.vms.filter((v) => v.hostId === h.id)]));
  const demand = (v: LoadVm) => (v.history[0] ?? 0) * v.vcpus;
  const util = (h: LoadHost) => on.get(h.id)!.reduce((s, v) => s + demand(v), 0) / h.cpus;
  const slots = (h: LoadHost) => on.get(h.id)!.reduce((s, v) => s + v.vcpus, 0);
  const ram = (h: LoadHost) => on.get(h.id)!.reduce((s, v) => s + v.memoryMiB, 0);
  const actions: PlanAction[] = [];
  const pct = (x: number) => `${(x * 100).toFixed(0)} %`;
  const pc = new PlanConstraints(c);
  for (let k = 0; k < (o.maxMoves ?? 20) && up.length > 1; k++) {
    const byUtil = up.slice().sort((a, b) => util(b) - util(a) || (a.name < b.name ? -1 : 1));
    const hot = byUtil[0]!;
    const peers = byUtil.filter((h) => h !== hot && h.zone === hot.zone);
    const cold = peers[peers.length - 1];
    if (!cold) break;
    const uh = util(hot),
      uc = util(cold);
    if (uh - uc <= o.gap) break;
    let best: LoadVm | undefined,
      bestGap = uh - uc;
    for (const v of on.get(hot.id)!) {
      if (v.sinceMigrationS < o.holdDownS) continue;
      if (slots(cold) + v.vcpus > cold.capacity.vcpus || ram(cold) + v.memoryMiB > cold.capacity.memoryMiB)
        continue;
      if (!pc.none && pc.refuses(v.id, cold.id)) continue;
      const after = Math.abs(uh - demand(v) / hot.cpus - (uc + demand(v) / cold.cpus));
      if (after < bestGap - 1e-9) {
        bestGap = after;
        best = v;
      }
    }
    if (!best) break;
    const p = predictBlockMigration(
      {
        memMiB: best.memoryMiB,
        dirtyMiBps: 0,
        bandwidthMbps: o.bandwidthMbps,
        diskBytes: (best.localDiskGiB ?? 0) * 2 ** 30,
        writeMiBps: 0,
      },
      { mode: 'precopy' },
    );
    actions.push({
      type: 'migrate',
      vmId: best.id,
      vmName: best.name,
      from: hot.id,
      to: cold.id,
      reason: `rebalance: ${hot.name} at CPU ${pct(uh)}, ${cold.name} at ${pct(uc)} (gap ${pct(uh - uc)} > ${pct(o.gap)})`,
      cost: { timeS: p.totalMs / 1000, dataMiB: p.bytes / 2 ** 20 },
      gain: { loadMoved: demand(best) / hot.cpus },
    });
    on.set(
      hot.id,
      on.get(hot.id)!.filter((v) => v !== best),
    );
    on.get(cold.id)!.push({ ...best, hostId: cold.id });
    pc.move(best.id, cold.id);
  }
  const plan = summarize(actions, c);
  return actions.length
    ? {
        ...plan,
        summary: plan.summary.replace(
          /relieve \d+ overloaded host\(s\)/,
          `rebalance ${new Set(actions.map((a) => (a.type === 'migrate' ? a.from : ''))).size} busy host(s)`,
        ),
      }
    : {
        ...plan,
        summary: plan.summary.replace(
          /^[^;]*/,
          `nothing to do: hosts are within ${pct(o.gap)} of each other`,
        ),
      };
}
