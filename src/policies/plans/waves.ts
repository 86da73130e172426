/**
 * Waves: a valid plan split into groups of migrations that may run at the same time under
 * per-host and per-cluster limits, without breaking capacity or a continuous constraint. Pure.
 */
import { PlanConstraints } from './plan-constraints.ts';
import type { Plan, PlanCluster } from './plan.ts';

/** Limits on concurrent migrations. */
export interface ConcurrencyLimits {
  /** Migrations at once that touch one host (as source or target). */
  perHost: number;
  /** Migrations at once in the whole cluster. */
  perCluster: number;
}

/** Two migrations per host, eight in the cluster. */
export const DEFAULT_CONCURRENCY: ConcurrencyLimits = { perHost: 2, perCluster: 8 };

/**
 * Split a valid plan into waves that run one after another, the migrations of a wave at the same
 * time: consecutive actions join a wave while the limits hold and every target has room with all of
 * the wave's incoming VMs counted and none of its outgoing ones released yet (so any interleaving
 * inside a wave is safe), and the continuous hard constraints hold in that same worst moment (every
incoming VM already on its target, every outgoing one still on its source). Power actions run in
waves of their own. Returns action indices.
 */
export function scheduleWaves(
  c: PlanCluster,
  plan: Plan,
  limits: ConcurrencyLimits = DEFAULT_CONCURRENCY,
): number[][] {
  const cap = new Map(c.hosts.map((h) => [h.id, h.capacity]));
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
  const waves: number[][] = [];
  let wave: number[] = [];
  let leaving: { vmId: string; from: string }[] = [];
  let touching = new Map<string, number>();
  let released: { host: string; vcpus: number; memoryMiB: number }[] = [];
  const close = () => {
    if (wave.length) waves.push(wave);
    for (const r of released) {
      const u = used.get(r.host)!;
      u.vcpus -= r.vcpus;
      u.memoryMiB -= r.memoryMiB;
    }
    for (const l of leaving) pc.leave(l.vmId, l.from);
    wave = [];
    touching = new Map();
    released = [];
    leaving = [];
  };
  plan.actions.forEach((a, i) => {
    if (a.type !== 'migrate') {
      close();
      waves.push([i]);
      return;
    }
    const v = size.get(a.vmId);
    const u = used.get(a.to),
      k = cap.get(a.to);
    const fits = (x: { vcpus: number; memoryMiB: number } | undefined) =>
      !!v &&
      !!u &&
      !!k &&
      u.vcpus + (x?.vcpus ?? 0) <= k.vcpus &&
      u.memoryMiB + (x?.memoryMiB ?? 0) <= k.memoryMiB;
    const joinable =
      wave.length < limits.perCluster &&
      (touching.get(a.from) ?? 0) < limits.perHost &&
      (touching.get(a.to) ?? 0) < limits.perHost &&
      fits(v) &&
      (pc.none || !pc.refuses(a.vmId, a.to, { only: 'continuous' }));
    if (!joinable) close();
    pc.arrive(a.vmId, a.to);
    leaving.push({ vmId: a.vmId, from: a.from });
    if (v && used.has(a.to)) {
      const t = used.get(a.to)!;
      t.vcpus += v.vcpus;
      t.memoryMiB += v.memoryMiB;
    }
    if (v && used.has(a.from)) released.push({ host: a.from, vcpus: v.vcpus, memoryMiB: v.memoryMiB });
    touching.set(a.from, (touching.get(a.from) ?? 0) + 1);
    touching.set(a.to, (touching.get(a.to) ?? 0) + 1);
    wave.push(i);
  });
  close();
  return waves;
}

/**
 * When each migrated VM's action starts in a wave schedule: its wave's index (0: at once). What a
 * `noDelay` constraint judges (`ConstraintState.starts`).
 */
export function waveStarts(plan: Plan, waves: readonly (readonly number[])[]): Map<string, number> {
  const starts = new Map<string, number>();
  waves.forEach((w, i) =>
    w.forEach((ix) => {
      const a = plan.actions[ix];
      if (a?.type === 'migrate' && !starts.has(a.vmId)) starts.set(a.vmId, i);
    }),
  );
  return starts;
}
