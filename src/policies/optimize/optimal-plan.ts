/**
 * The control plane's `optimal` policy: the plan cluster as a PackInstance (vCPUs and memory;
 * predicted migration time as the move cost, local disks included), the optimizer's placement as
 * plan actions (moves ordered by orderMoves so every intermediate state fits and keeps the
 * continuous constraints, then power-off of emptied hosts as the reservation planner does), and
 * incumbent, bound and gap in the summary. Pure, through the injected solver.
 */
import { predictBlockMigration } from '../../models/migration-disk.ts';
import {
  offableHosts,
  orderMoves,
  summarize,
  type ConsolidationPlanOptions,
  type Plan,
  type PlanAction,
  type PlanCluster,
  type PlanHost,
  type PlanVm,
} from '../plans/plan.ts';
import type { Constraint } from '../../core/constraints/index.ts';
import type { OptimizeResult, PackInstance } from './instance.ts';
import { optimize, type OptimizeOptions } from './optimize.ts';
import type { MilpSolver } from './solver-port.ts';

/**
 * The cluster as a packing instance: the up hosts, and hosts not up that still hold VMs (those VMs
 * stay, and a ban keeps every other VM off them, so the constraints see where they are). VMs moved
 * within `holdDownS` are not free.
 */
export function planInstance(
  c: PlanCluster,
  o: Pick<ConsolidationPlanOptions, 'bandwidthMbps' | 'holdDownS'>,
): { instance: PackInstance; free: Set<string>; pinnedHosts: string[] } {
  const occupied = new Set(c.vms.map((v) => v.hostId));
  const hosts = c.hosts.filter((h) => h.state === 'up' || occupied.has(h.id));
  const pinnedHosts = hosts.filter((h) => h.state !== 'up').map((h) => h.id);
  const pinned = new Set(pinnedHosts);
  const ids = new Set(hosts.map((h) => h.id));
  const vms = c.vms.filter((v) => ids.has(v.hostId));
  const free = new Set(
    vms.filter((v) => !pinned.has(v.hostId) && !(v.sinceMigrationS < o.holdDownS)).map((v) => v.id),
  );
  const bans: Constraint[] = pinnedHosts.map((h) => ({
    id: `optimizer:not-up:${h}`,
    type: 'ban',
    hard: true,
    vms: vms.filter((v) => v.hostId !== h).map((v) => v.id),
    hosts: [h],
  }));
  return {
    pinnedHosts,
    instance: {
      dims: ['vcpus', 'memoryMiB'],
      hosts: hosts.map((h) => ({
        id: h.id,
        name: h.name,
        zone: h.zone,
        rack: h.rack,
        tier: h.tier,
        datacenter: h.datacenter,
        capacity: [h.capacity.vcpus, h.capacity.memoryMiB],
        // What overbook and preserve judge (the plan checker's capacity: physical, else schedulable).
        physical: h.physical ?? h.capacity,
        idleW: h.idleW,
        on: h.state === 'up',
      })),
      vms: vms.map((v) => ({
        id: v.id,
        name: v.name,
        demand: [v.vcpus, v.memoryMiB],
        hostId: v.hostId,
        moveCostS: moveCost(v, o.bandwidthMbps).timeS,
      })),
      constraints: [...(c.constraints ?? []), ...bans],
    },
    free,
  };
}

/** Predicted time and data of moving a VM (memory pre-copy, plus its local disks). */
function moveCost(v: PlanVm, bandwidthMbps: number) {
  const r = predictBlockMigration(
    {
      memMiB: v.memoryMiB,
      dirtyMiBps: 0,
      bandwidthMbps,
      diskBytes: (v.localDiskGiB ?? 0) * 2 ** 30,
      writeMiBps: 0,
    },
    { mode: 'precopy' },
  );
  return { timeS: r.totalMs / 1000, dataMiB: r.bytes / 2 ** 20 };
}

/** `3 host(s) used, bound 2.50, gap 4.2 % (time-limit, from the solver)` */
export function describeOptimum(r: OptimizeResult): string {
  if (!r.incumbent)
    return `optimizer: no placement (${r.status}${r.notes?.length ? `: ${r.notes.join('; ')}` : ''})`;
  return (
    `optimizer: ${r.incumbent.hostsUsed} host(s) used, objective ${r.objective!.toFixed(3)}, ` +
    `bound ${r.bound.toFixed(3)}, gap ${(r.gap * 100).toFixed(1)} % (${r.status}, from the ${r.source})`
  );
}

/**
 * Plan with the optimizer: VMs move to the optimal (or best found) placement within the limits,
 * then emptied hosts are switched off (spares kept on).
 * @throws RangeError (from orderMoves) when the moves cannot be ordered so every step fits
 */
export async function planOptimal(
  c: PlanCluster,
  o: ConsolidationPlanOptions,
  solver: MilpSolver,
  oo: OptimizeOptions = {},
): Promise<{ plan: Plan; result: OptimizeResult }> {
  const { instance, free, pinnedHosts } = planInstance(c, o);
  const result = await optimize(instance, solver, { free, ...oo });
  const actions: PlanAction[] = [];
  if (result.incumbent) {
    const moves = instance.vms.flatMap((v) => {
      const to = result.incumbent!.placement.get(v.id)!;
      return to !== v.hostId ? [{ vmId: v.id, to }] : [];
    });
    const ordered = moves.length ? orderMoves(c, moves, o) : [];
    // orderMoves says "requested by an operator" for a direct move; a routed one says through which host.
    for (const a of ordered)
      actions.push(
        a.type === 'migrate'
          ? {
              ...a,
              reason: a.reason.startsWith('through') ? `optimal placement, ${a.reason}` : 'optimal placement',
            }
          : a,
      );
    const up = c.hosts.filter((h) => h.state === 'up');
    const before = new Set(instance.vms.map((v) => v.hostId));
    const after = new Set(result.incumbent.placement.values());
    const alreadyEmpty = up.filter((h) => !before.has(h.id) && !after.has(h.id)).map((h) => h.id);
    const emptied = up.filter((h) => before.has(h.id) && !after.has(h.id)).map((h) => h.id);
    const offable = offableHosts(up, alreadyEmpty, emptied, o.powerOffGraceS ?? 0);
    const byId = new Map<string, PlanHost>(up.map((h) => [h.id, h]));
    for (const id of offable.slice(Math.min(o.spareHosts, offable.length))) {
      const h = byId.get(id)!;
      actions.push({
        type: 'power-off',
        hostId: id,
        hostName: h.name,
        reason: emptied.includes(id)
          ? `emptied by the optimal placement; ${o.spareHosts} spare host(s) stay on`
          : `empty; ${o.spareHosts} spare host(s) stay on`,
        gain: { wattsSaved: h.idleW },
      });
    }
  }
  const plan = summarize(actions);
  const pinnedNote = pinnedHosts.length
    ? ` (${pinnedHosts.length} host(s) not up keep their VMs and count as used)`
    : '';
  return { plan: { ...plan, summary: `${plan.summary}; ${describeOptimum(result)}${pinnedNote}` }, result };
}
