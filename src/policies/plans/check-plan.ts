/**
 * The plan checker: replay a plan and validate every intermediate state (BtrPlace's continuous
 * constraints, Hermenier et al., IEEE TDSC 2013): capacity and the continuous placement constraints
 * hold during each migration (the VM counts on both hosts until it completes), and the discrete ones
 * (affinity) at the end. Pure.
 */
import { checkAll } from '../../core/constraints/index.ts';
import { PlanConstraints } from './plan-constraints.ts';
import type { Plan, PlanCluster } from './plan.ts';
import { waveStarts } from './waves.ts';

/** A broken rule: the action (index in the plan), why, and the constraint's id when one is broken. */
export interface PlanViolation {
  action: number;
  reason: string;
  constraint?: string;
}

/**
 * Replay a plan and report every violation: a VM not where the plan thinks, a target without room
 * while the migration runs, a target that is not up, a host switched off with VMs on it, a hard
 * constraint the migration breaks (continuous ones while it runs; discrete ones at the end of the
 * plan, against the last move of one of their VMs). Migrations are replayed one after another (the
 * executor runs them in that order); a refused action is not applied. Violations that were in the
 * cluster before the plan and that it does not add to are not reported.
 */
export function checkPlan(c: PlanCluster, plan: Plan): PlanViolation[] {
  const state = new Map(c.hosts.map((h) => [h.id, h.state]));
  const cap = new Map(c.hosts.map((h) => [h.id, h.capacity]));
  const hostName = (id: string) => c.hosts.find((h) => h.id === id)?.name ?? id;
  const where = new Map(c.vms.map((v) => [v.id, v.hostId]));
  const size = new Map(c.vms.map((v) => [v.id, v]));
  const used = new Map(c.hosts.map((h) => [h.id, { vcpus: 0, memoryMiB: 0 }]));
  for (const v of c.vms) {
    const u = used.get(v.hostId);
    if (u) {
      u.vcpus += v.vcpus;
      u.memoryMiB += v.memoryMiB;
    }
  }
  const pc = new PlanConstraints(c);
  const before = new Set(pc.violations({ only: 'discrete' }).map((x) => x.message));
  const lastMove = new Map<string, number>();
  let lastPowerOn = -1;
  const out: PlanViolation[] = [];
  plan.actions.forEach((a, i) => {
    if (a.type === 'migrate') {
      const v = size.get(a.vmId);
      if (!v) return out.push({ action: i, reason: `VM ${a.vmId} does not exist` });
      if (where.get(a.vmId) !== a.from)
        return out.push({ action: i, reason: `VM ${a.vmName} is on ${where.get(a.vmId)}, not ${a.from}` });
      if (a.to === a.from)
        return out.push({ action: i, reason: `VM ${a.vmName} would migrate to the host it is on (${a.to})` });
      if (state.get(a.to) !== 'up')
        return out.push({ action: i, reason: `target ${a.to} is ${state.get(a.to) ?? 'unknown'}` });
      const u = used.get(a.to)!,
        k = cap.get(a.to)!;
      // During the migration the VM holds resources on both hosts.
      if (u.vcpus + v.vcpus > k.vcpus || u.memoryMiB + v.memoryMiB > k.memoryMiB)
        return out.push({
          action: i,
          reason: `target ${a.to} has no room for ${a.vmName} while it migrates (${u.vcpus + v.vcpus}/${k.vcpus} vCPUs, ${u.memoryMiB + v.memoryMiB}/${k.memoryMiB} MiB)`,
        });
      const bad = pc.refuses(a.vmId, a.to, { only: 'continuous' });
      if (bad)
        return out.push({
          action: i,
          reason: `${a.vmName} may not migrate to ${hostName(a.to)}: ${bad.message}`,
          constraint: bad.constraint.id,
        });
      u.vcpus += v.vcpus;
      u.memoryMiB += v.memoryMiB;
      const s = used.get(a.from)!;
      s.vcpus -= v.vcpus;
      s.memoryMiB -= v.memoryMiB;
      where.set(a.vmId, a.to);
      pc.move(a.vmId, a.to);
      lastMove.set(a.vmId, i);
    } else if (a.type === 'power-on') {
      if (state.get(a.hostId) !== 'off')
        return out.push({
          action: i,
          reason: `cannot switch ${a.hostName} on: it is ${state.get(a.hostId) ?? 'unknown'}`,
        });
      state.set(a.hostId, 'up');
      pc.power(a.hostId, true);
      lastPowerOn = i;
    } else {
      const on = [...where.entries()].filter(([, h]) => h === a.hostId).map(([id]) => size.get(id)!.name);
      if (on.length)
        return out.push({
          action: i,
          reason: `cannot switch ${a.hostName} off: ${on.join(', ')} still on it`,
        });
      state.set(a.hostId, 'off');
      pc.power(a.hostId, false);
    }
    return undefined;
  });
  // Discrete constraints hold at the end; the plan answers for those whose VMs it moved.
  for (const x of pc.violations({ only: 'discrete' })) {
    if (before.has(x.message)) continue;
    // A rule about hosts only (maxOnline) answers to the last host the plan switched on.
    const moved = x.vmIds.length ? x.vmIds.map((v) => lastMove.get(v) ?? -1) : [lastPowerOn];
    const at = Math.max(...moved);
    if (at >= 0)
      out.push({ action: at, reason: `at the end of the plan: ${x.message}`, constraint: x.constraint.id });
  }
  return out.sort((p, q) => p.action - q.action);
}

/**
 * The `noDelay` constraints a wave schedule breaks (BtrPlace `NoDelay`: the VM's action starts at
 * time 0): a listed VM whose migration is not in the first wave, against its action.
 */
export function checkSchedule(
  c: PlanCluster,
  plan: Plan,
  waves: readonly (readonly number[])[],
): PlanViolation[] {
  const noDelay = (c.constraints ?? []).filter((x) => x.hard && x.type === 'noDelay');
  if (!noDelay.length) return [];
  const starts = waveStarts(plan, waves);
  const pc = new PlanConstraints(c);
  return checkAll(noDelay, { ...pc, starts }).map((x) => ({
    action: plan.actions.findIndex((a) => a.type === 'migrate' && a.vmId === x.vmIds[0]),
    reason: `in wave ${(starts.get(x.vmIds[0]!) ?? 0) + 1}: ${x.message}`,
    constraint: x.constraint.id,
  }));
}
