/**
 * Consolidation plans: ordered actions with why each is there, what it costs and what it gains,
 * and a checker that replays a plan and validates every intermediate state (BtrPlace's continuous
 * constraints: capacity must hold during migrations, not only at the end). Pure functions.
 */
import { predictMigration } from '../../models/migration.ts';

export interface PlanHost {
  id: string;
  name: string;
  state: 'up' | 'maintenance' | 'off' | 'failed' | 'booting';
  /** Schedulable capacity (after overcommit and reservations). */
  capacity: { vcpus: number; memoryMiB: number };
  /** Power drawn when idle and on, W (what switching it off saves). */
  idleW: number;
  /** Seconds it has been empty (0 with VMs on it; Infinity if it never had any). */
  emptyForS?: number;
}
export interface PlanVm {
  id: string;
  name: string;
  hostId: string;
  vcpus: number;
  memoryMiB: number;
  /** Seconds since its last migration (Infinity if never). */ sinceMigrationS: number;
}
export interface PlanCluster {
  hosts: PlanHost[];
  vms: PlanVm[];
}

export type PlanAction =
  | {
      type: 'migrate';
      vmId: string;
      vmName: string;
      from: string;
      to: string;
      reason: string;
      cost: { timeS: number; dataMiB: number };
      gain?: { /** Share of the source host's CPU moved off it (hot-spot relief). */ loadMoved: number };
    }
  | { type: 'power-on'; hostId: string; hostName: string; reason: string; cost: { watts: number } }
  | { type: 'power-off'; hostId: string; hostName: string; reason: string; gain: { wattsSaved: number } };

export interface Plan {
  actions: PlanAction[];
  summary: string;
  gainWatts: number;
  costTimeS: number;
  costDataMiB: number;
}

export interface ConsolidationPlanOptions {
  /** Hosts kept on (empty) as spares. */
  spareHosts: number;
  /** VMs moved less than this long ago are not moved again (anti-oscillation). */
  holdDownS: number;
  /** A host is emptied only if the energy saved pays back the migrations within this horizon. */
  paybackHorizonS: number;
  /** Energy a migration costs, J per MiB moved (network and CPU on both ends). */
  migrationJPerMiB: number;
  bandwidthMbps: number;
  /** A host is switched off only after it has been empty this long (hosts emptied by the plan itself wait for a later round when > 0). */
  powerOffGraceS?: number;
}

/** Migration energy ≈ 0.512 J per MB moved (Liu et al., "Performance and energy modeling for live migration of virtual machines", HPDC 2011). */
export const DEFAULT_PLAN_OPTIONS: ConsolidationPlanOptions = {
  spareHosts: 1,
  holdDownS: 3600,
  paybackHorizonS: 3600,
  migrationJPerMiB: 0.512,
  bandwidthMbps: 1000,
};

/**
 * Pack VMs onto fewer hosts (reservation-based consolidation, Beloglazov & Buyya's underload phase
 * on flavor sizes): least-used hosts first, each emptied only if every VM fits elsewhere (best fit,
 * fullest target first) and the gain pays back its cost; then switch emptied hosts off.
 */
export function planConsolidation(c: PlanCluster, o: ConsolidationPlanOptions = DEFAULT_PLAN_OPTIONS): Plan {
  const up = c.hosts.filter((h) => h.state === 'up');
  const used = new Map(up.map((h) => [h.id, { vcpus: 0, memoryMiB: 0 }]));
  const vmsOn = new Map<string, PlanVm[]>(up.map((h) => [h.id, []]));
  for (const v of c.vms) {
    const u = used.get(v.hostId);
    if (!u) continue;
    u.vcpus += v.vcpus;
    u.memoryMiB += v.memoryMiB;
    vmsOn.get(v.hostId)!.push(v);
  }
  const share = (h: PlanHost) =>
    Math.max(used.get(h.id)!.vcpus / h.capacity.vcpus, used.get(h.id)!.memoryMiB / h.capacity.memoryMiB);
  const actions: PlanAction[] = [];
  const emptied = new Set<string>();
  const alreadyEmpty = up.filter((h) => vmsOn.get(h.id)!.length === 0).map((h) => h.id);
  const candidates = up
    .filter((h) => vmsOn.get(h.id)!.length > 0)
    .sort((a, b) => share(a) - share(b) || (a.name < b.name ? -1 : 1));
  for (const src of candidates) {
    const vms = vmsOn.get(src.id)!;
    if (vms.some((v) => v.sinceMigrationS < o.holdDownS)) continue;
    const moves: { v: PlanVm; to: PlanHost }[] = [];
    const trial = new Map([...used].map(([k, x]) => [k, { ...x }]));
    let ok = true;
    for (const v of vms.slice().sort((a, b) => b.memoryMiB - a.memoryMiB || b.vcpus - a.vcpus)) {
      // Only hosts that keep running VMs take more (filling an empty host would not free anything).
      const targets = up.filter((h) => h.id !== src.id && !emptied.has(h.id) && vmsOn.get(h.id)!.length > 0);
      let best: PlanHost | undefined;
      let bestShare = -1;
      for (const h of targets) {
        const u = trial.get(h.id)!;
        if (u.vcpus + v.vcpus > h.capacity.vcpus || u.memoryMiB + v.memoryMiB > h.capacity.memoryMiB)
          continue;
        const s = Math.max(
          (u.vcpus + v.vcpus) / h.capacity.vcpus,
          (u.memoryMiB + v.memoryMiB) / h.capacity.memoryMiB,
        );
        if (s > bestShare) {
          bestShare = s;
          best = h;
        }
      }
      if (!best) {
        ok = false;
        break;
      }
      const u = trial.get(best.id)!;
      u.vcpus += v.vcpus;
      u.memoryMiB += v.memoryMiB;
      moves.push({ v, to: best });
    }
    if (!ok) continue;
    const costs = moves.map((m) =>
      predictMigration(
        { memMiB: m.v.memoryMiB, dirtyMiBps: 0, bandwidthMbps: o.bandwidthMbps },
        { mode: 'precopy' },
      ),
    );
    const dataMiB = costs.reduce((s, r) => s + r.bytes / 2 ** 20, 0);
    const costJ = dataMiB * o.migrationJPerMiB;
    const gainJ = src.idleW * o.paybackHorizonS;
    if (gainJ <= costJ) continue;
    for (const [i, m] of moves.entries()) {
      actions.push({
        type: 'migrate',
        vmId: m.v.id,
        vmName: m.v.name,
        from: src.id,
        to: m.to.id,
        reason: `empty ${src.name} (${(share(src) * 100).toFixed(0)} % used) to switch it off; ${m.to.name} has room`,
        cost: { timeS: costs[i]!.totalMs / 1000, dataMiB: costs[i]!.bytes / 2 ** 20 },
      });
      const su = used.get(src.id)!,
        tu = used.get(m.to.id)!;
      su.vcpus -= m.v.vcpus;
      su.memoryMiB -= m.v.memoryMiB;
      tu.vcpus += m.v.vcpus;
      tu.memoryMiB += m.v.memoryMiB;
      vmsOn.get(m.to.id)!.push(m.v);
    }
    vmsOn.set(src.id, []);
    emptied.add(src.id);
  }
  // Switch off emptied hosts (and already empty ones), keeping spares on.
  const offable = offableHosts(up, alreadyEmpty, [...emptied], o.powerOffGraceS ?? 0);
  const keep = Math.min(o.spareHosts, offable.length);
  for (const id of offable.slice(keep)) {
    const h = up.find((x) => x.id === id)!;
    actions.push({
      type: 'power-off',
      hostId: id,
      hostName: h.name,
      reason: emptied.has(id)
        ? `emptied by this plan; ${o.spareHosts} spare host(s) stay on`
        : `empty; ${o.spareHosts} spare host(s) stay on`,
      gain: { wattsSaved: h.idleW },
    });
  }
  return summarize(actions);
}

/** Totals and a one-line summary of a list of actions. */
export function summarize(actions: PlanAction[]): Plan {
  const gainWatts = actions.reduce(
    (s, a) => s + (a.type === 'power-off' ? a.gain.wattsSaved : a.type === 'power-on' ? -a.cost.watts : 0),
    0,
  );
  const costTimeS = actions.reduce((s, a) => s + (a.type === 'migrate' ? a.cost.timeS : 0), 0);
  const costDataMiB = actions.reduce((s, a) => s + (a.type === 'migrate' ? a.cost.dataMiB : 0), 0);
  const n = (t: PlanAction['type']) => actions.filter((a) => a.type === t).length;
  const moves = n('migrate'),
    offs = n('power-off'),
    ons = n('power-on');
  const relieved = new Set(
    actions.flatMap((a) => (a.type === 'migrate' && a.gain?.loadMoved !== undefined ? [a.from] : [])),
  ).size;
  const parts = [`${moves} migration(s) (${costDataMiB.toFixed(0)} MiB, ${costTimeS.toFixed(1)} s)`];
  if (relieved) parts.push(`relieve ${relieved} overloaded host(s)`);
  if (ons) parts.push(`switch on ${ons} host(s)`);
  if (offs) parts.push(`switch off ${offs} host(s)`);
  return {
    actions,
    gainWatts,
    costTimeS,
    costDataMiB,
    summary:
      actions.length === 0
        ? 'nothing to do: no host is overloaded and none can be emptied worth its cost'
        : `${parts.join(', ')}; net ${gainWatts >= 0 ? 'saving' : 'adding'} ${Math.abs(gainWatts).toFixed(0)} W`,
  };
}

export interface PlanViolation {
  action: number;
  reason: string;
}

/**
 * Replay a plan and report every violation: a VM not where the plan thinks, a target without room
 * while the migration runs (the VM counts on both hosts until it completes), a target that is not up,
 * a host switched off with VMs on it. Migrations are replayed one after another (the executor runs
 * them in that order).
 */
export function checkPlan(c: PlanCluster, plan: Plan): PlanViolation[] {
  const state = new Map(c.hosts.map((h) => [h.id, h.state]));
  const cap = new Map(c.hosts.map((h) => [h.id, h.capacity]));
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
      u.vcpus += v.vcpus;
      u.memoryMiB += v.memoryMiB;
      const s = used.get(a.from)!;
      s.vcpus -= v.vcpus;
      s.memoryMiB -= v.memoryMiB;
      where.set(a.vmId, a.to);
    } else if (a.type === 'power-on') {
      if (state.get(a.hostId) !== 'off')
        return out.push({
          action: i,
          reason: `cannot switch ${a.hostName} on: it is ${state.get(a.hostId) ?? 'unknown'}`,
        });
      state.set(a.hostId, 'up');
    } else {
      const on = [...where.entries()].filter(([, h]) => h === a.hostId).map(([id]) => size.get(id)!.name);
      if (on.length)
        return out.push({
          action: i,
          reason: `cannot switch ${a.hostName} off: ${on.join(', ')} still on it`,
        });
      state.set(a.hostId, 'off');
    }
    return undefined;
  });
  return out;
}

export interface ConcurrencyLimits {
  /** Migrations at once that touch one host (as source or target). */
  perHost: number;
  /** Migrations at once in the whole cluster. */
  perCluster: number;
}

export const DEFAULT_CONCURRENCY: ConcurrencyLimits = { perHost: 2, perCluster: 8 };

/**
 * Split a valid plan into waves that run one after another, the migrations of a wave at the same
 * time: consecutive actions join a wave while the limits hold and every target has room with all of
 * the wave's incoming VMs counted and none of its outgoing ones released yet (so any interleaving
 * inside a wave is safe). Power actions run in waves of their own. Returns action indices.
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
  const waves: number[][] = [];
  let wave: number[] = [];
  let touching = new Map<string, number>();
  let released: { host: string; vcpus: number; memoryMiB: number }[] = [];
  const close = () => {
    if (wave.length) waves.push(wave);
    for (const r of released) {
      const u = used.get(r.host)!;
      u.vcpus -= r.vcpus;
      u.memoryMiB -= r.memoryMiB;
    }
    wave = [];
    touching = new Map();
    released = [];
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
      fits(v);
    if (!joinable) close();
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

/** A move an operator asks for: VM to host. */
export interface RequestedMove {
  vmId: string;
  to: string;
}

/**
 * Order requested moves so that every intermediate state has room (Entropy's cycle breaking,
 * Hermenier et al., VEE 2009): run any move whose target has room; when none has (the moves form a
 * cycle, e.g. a swap on two full hosts), route one VM of the cycle through a host with room and
 * finish its move later. Throws when a cycle has no such host.
 */
export function orderMoves(
  c: PlanCluster,
  moves: RequestedMove[],
  o: { bandwidthMbps: number } = DEFAULT_PLAN_OPTIONS,
): PlanAction[] {
  const hosts = new Map(c.hosts.map((h) => [h.id, h]));
  const vms = new Map(c.vms.map((v) => [v.id, v]));
  const used = new Map(c.hosts.map((h) => [h.id, { vcpus: 0, memoryMiB: 0 }]));
  const where = new Map(c.vms.map((v) => [v.id, v.hostId]));
  for (const v of c.vms) {
    const u = used.get(v.hostId);
    if (u) {
      u.vcpus += v.vcpus;
      u.memoryMiB += v.memoryMiB;
    }
  }
  const room = (h: string, v: PlanVm) => {
    const x = hosts.get(h)!,
      u = used.get(h)!;
    return (
      x.state === 'up' &&
      u.vcpus + v.vcpus <= x.capacity.vcpus &&
      u.memoryMiB + v.memoryMiB <= x.capacity.memoryMiB
    );
  };
  const pending: RequestedMove[] = [];
  for (const m of moves) {
    const v = vms.get(m.vmId);
    if (!v) throw new RangeError(`VM ${m.vmId} does not exist`);
    if (!hosts.has(m.to)) throw new RangeError(`host ${m.to} does not exist`);
    if (hosts.get(m.to)!.state !== 'up')
      throw new RangeError(
        `host ${hosts.get(m.to)!.name} is ${hosts.get(m.to)!.state}; moves go to hosts that are up`,
      );
    if (pending.some((p) => p.vmId === m.vmId)) throw new RangeError(`VM ${v.name} is moved twice`);
    if (v.hostId !== m.to) pending.push(m);
  }
  const actions: PlanAction[] = [];
  const move = (v: PlanVm, to: string, reason: string) => {
    const from = where.get(v.id)!;
    const p = predictMigration(
      { memMiB: v.memoryMiB, dirtyMiBps: 0, bandwidthMbps: o.bandwidthMbps },
      { mode: 'precopy' },
    );
    actions.push({
      type: 'migrate',
      vmId: v.id,
      vmName: v.name,
      from,
      to,
      reason,
      cost: { timeS: p.totalMs / 1000, dataMiB: p.bytes / 2 ** 20 },
    });
    const s = used.get(from)!,
      t = used.get(to)!;
    s.vcpus -= v.vcpus;
    s.memoryMiB -= v.memoryMiB;
    t.vcpus += v.vcpus;
    t.memoryMiB += v.memoryMiB;
    where.set(v.id, to);
  };
  const routed = new Set<string>();
  while (pending.length) {
    const k = pending.findIndex((m) => room(m.to, vms.get(m.vmId)!));
    if (k >= 0) {
      const [m] = pending.splice(k, 1);
      move(vms.get(m!.vmId)!, m!.to, 'requested by an operator');
      continue;
    }
    // Deadlock. If some target waits for room that no pending move frees, nothing will help.
    const stuck = pending.find((p) => !pending.some((q) => where.get(q.vmId) === p.to));
    if (stuck)
      throw new RangeError(
        `${hosts.get(stuck.to)!.name} has no room for ${vms.get(stuck.vmId)!.name} and none of the requested moves frees any`,
      );
    // Otherwise the moves form cycles (each target is the source of another pending move): route
    // one VM that has not been routed yet through a host with room.
    const m = pending.find((p) => !routed.has(p.vmId));
    if (!m)
      throw new RangeError(
        `moves ${pending.map((p) => vms.get(p.vmId)!.name).join(', ')} still wait on each other after routing each once`,
      );
    const v = vms.get(m.vmId)!;
    routed.add(v.id);
    const pivot = c.hosts.find((h) => h.id !== where.get(v.id) && h.id !== m.to && room(h.id, v));
    if (!pivot)
      throw new RangeError(
        `moves ${pending.map((p) => vms.get(p.vmId)!.name).join(', ')} wait on each other's room and no other host can hold ${v.name} in between`,
      );
    move(v, pivot.id, `through ${pivot.name} to break a cycle of moves (no target had room)`);
  }
  return actions;
}

/**
 * Hosts that may be switched off, in order: those already empty for at least the grace period,
 * then (only without a grace period) those emptied by the plan itself.
 */
export function offableHosts(
  hosts: readonly PlanHost[],
  alreadyEmpty: readonly string[],
  emptiedNow: readonly string[],
  graceS: number,
): string[] {
  const byId = new Map(hosts.map((h) => [h.id, h]));
  return [
    ...alreadyEmpty.filter((id) => (byId.get(id)?.emptyForS ?? Infinity) >= graceS),
    ...(graceS > 0 ? [] : emptiedNow),
  ];
}
