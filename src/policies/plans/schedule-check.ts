/**
 * The schedule checker: replay a timed plan in time order and validate every instant (BtrPlace's
 * continuous constraints on a schedule, Hermenier et al., IEEE TDSC 2013). Independent of the
 * scheduler that produced it. Pure.
 */
import type { PlanCluster } from './plan.ts';
import { PlanProgress } from './plan-progress.ts';
import type { PlanViolation } from './check-plan.ts';
import type { TimedAction } from './schedule.ts';
import type { ConcurrencyLimits } from './waves.ts';

/**
 * Every violation of a timed plan: an action that starts before one it waits for (`after`) ends; a
 * migration whose VM is not on its source or already moving, whose target is not up, has no room
 * while it runs (the VM counts on both hosts until it ends) or is refused by a continuous hard
 * constraint; more migrations at once than the limits; a host switched on that is not off; a host
 * switched off with VMs on it or migrations touching it; discrete hard constraints the plan breaks at
 * its end. Actions ending at an instant end before those starting at it.
 */
export function checkTimedSchedule(
  c: PlanCluster,
  actions: readonly TimedAction[],
  limits: ConcurrencyLimits,
): PlanViolation[] {
  const out: PlanViolation[] = [];
  const progress = new PlanProgress(c);
  const { vms, cap, used, state, where, pc, moving, touching } = progress;
  const before = new Set(pc.violations({ only: 'discrete' }).map((x) => x.message));
  const applied = new Set<number>();
  const events = actions.flatMap((a, i) => [
    { t: a.startS, kind: 1, i },
    { t: a.startS + a.durationS, kind: 0, i },
  ]);
  events.sort((x, y) => x.t - y.t || x.kind - y.kind || x.i - y.i);
  for (const e of events) {
    const a = actions[e.i]!;
    const bad = (reason: string, constraint?: string) =>
      out.push({ action: e.i, reason, ...(constraint ? { constraint } : {}) });
    if (e.kind === 1) {
      const early = a.after.find((d) => {
        const x = actions[d];
        return !x || x.startS + x.durationS > a.startS;
      });
      if (early !== undefined) bad(`starts at ${a.startS} s, before action ${early + 1} ends`);
      if (a.type === 'power-on') {
        if (state.get(a.hostId) !== 'off') {
          bad(`cannot switch ${a.hostName} on: it is ${state.get(a.hostId) ?? 'unknown'}`);
          continue;
        }
        state.set(a.hostId, 'booting');
      } else if (a.type === 'power-off') {
        const on = [...where].filter(([, h]) => h === a.hostId).map(([v]) => v);
        if (on.length || touching.get(a.hostId)) {
          bad(`cannot switch ${a.hostName} off: VMs are on it or migrating to or from it`);
          continue;
        }
        state.set(a.hostId, 'off');
        pc.power(a.hostId, false);
      } else {
        const v = vms.get(a.vmId),
          u = used.get(a.to),
          k = cap.get(a.to);
        if (!v || !u || !k) {
          bad(`VM ${a.vmId} or host ${a.to} does not exist`);
          continue;
        }
        if (where.get(a.vmId) !== a.from || moving.has(a.vmId)) {
          bad(`VM ${a.vmName} is not on ${a.from} (or is already migrating) at ${a.startS} s`);
          continue;
        }
        if (state.get(a.to) !== 'up') {
          bad(`target ${a.to} is ${state.get(a.to)} at ${a.startS} s`);
          continue;
        }
        if (u.vcpus + v.vcpus > k.vcpus || u.memoryMiB + v.memoryMiB > k.memoryMiB)
          bad(`target ${a.to} has no room for ${a.vmName} at ${a.startS} s`);
        const refused = pc.refuses(a.vmId, a.to, { only: 'continuous' });
        if (refused) bad(`${a.vmName} may not migrate to ${a.to}: ${refused.message}`, refused.constraint.id);
        if (progress.migrating + 1 > limits.perCluster)
          bad(`more than ${limits.perCluster} migrations at ${a.startS} s`);
        for (const h of [a.from, a.to]) {
          if ((touching.get(h) ?? 0) + 1 > limits.perHost)
            bad(`more than ${limits.perHost} migrations on ${h} at ${a.startS} s`);
          touching.set(h, (touching.get(h) ?? 0) + 1);
        }
        u.vcpus += v.vcpus;
        u.memoryMiB += v.memoryMiB;
        pc.arrive(a.vmId, a.to);
        moving.add(a.vmId);
        progress.migrating++;
      }
      applied.add(e.i);
    } else if (applied.has(e.i)) progress.end(a);
  }
  for (const x of pc.violations({ only: 'discrete' }))
    if (!before.has(x.message))
      out.push({
        action: actions.length - 1,
        reason: `at the end: ${x.message}`,
        constraint: x.constraint.id,
      });
  return out;
}
