/**
 * Rules about resources and host counts, BtrPlace's `Preserve` (a VM keeps at least an amount),
 * `Overbook` (per-host demand ≤ ratio × capacity), `RunningCapacity` (at most N VMs on a host set)
 * and `MaxOnline` (at most N hosts of a set on). Hermenier et al., IEEE TDSC 2013; continuous flags
 * as btrplace/scheduler's: preserve discrete, overbook continuous by default, the counts discrete
 * by default.
 */
import { type ConstraintChecker } from './checker.ts';
import { describeSelector, selects } from './host-sets.ts';
import {
  constraintLabel,
  RESOURCES,
  type ConstraintState,
  type MaxOnlineConstraint,
  type OverbookConstraint,
  type PreserveConstraint,
  type Resource,
  type RunningCapacityConstraint,
  type Violation,
} from './model.ts';
import { demandOf, hostOf, hostsOf, isOnline, loadOn, names, vmsOn } from './state.ts';

const whole = (c: { type: string; id: string; name?: string }, what: string, n: number, min: number) => {
  if (!Number.isInteger(n) || n < min)
    throw new RangeError(`${c.type} "${c.name ?? c.id}" needs a whole ${what} ≥ ${min}, got ${n}`);
};
const resource = (c: { type: string; id: string; name?: string }, r: Resource) => {
  if (!RESOURCES.includes(r))
    throw new RangeError(
      `${c.type} "${c.name ?? c.id}": resource must be one of ${RESOURCES.join(', ')}, got ${r}`,
    );
};
const capOf = (s: ConstraintState, h: string, r: Resource) => s.capacity?.get(h)?.[r];

/** Checker of `preserve`: each placed VM has at least `amount` of the resource left by its neighbours. */
export function preserveChecker(c: PreserveConstraint): ConstraintChecker {
  resource(c, c.resource);
  if (!(c.amount >= 0))
    throw new RangeError(`preserve "${c.name ?? c.id}" needs an amount ≥ 0, got ${c.amount}`);
  const label = constraintLabel(c);
  const members = new Set(c.vms);
  // What `vm` has on `h` when `extra` (a VM arriving) joins: capacity less the others' demand.
  const left = (s: ConstraintState, vm: string, h: string, extra?: string) => {
    const cap = capOf(s, h, c.resource);
    if (cap === undefined) return Infinity;
    const arriving = extra && !hostsOf(s, extra).includes(h) ? demandOf(s, extra, c.resource) : 0;
    return cap - loadOn(s, h, c.resource, [vm]) - arriving;
  };
  const short = (s: ConstraintState, vm: string, h: string, has: number) =>
    `${label}: ${names(s, [vm])} would have ${has} ${c.resource} on ${hostOf(s, h).name}, needs ${c.amount}`;
  return {
    constraint: c,
    continuous: false,
    check(s) {
      const out: Violation[] = [];
      for (const v of members)
        for (const h of hostsOf(s, v)) {
          const has = left(s, v, h);
          if (has < c.amount)
            out.push({ constraint: c, vmIds: [v], hostId: h, message: short(s, v, h, has) });
        }
      return out;
    },
    admits(s, vmId, hostId) {
      if (members.has(vmId)) {
        const has = left(s, vmId, hostId);
        return has < c.amount
          ? { constraint: c, vmIds: [vmId], hostId, message: short(s, vmId, hostId, has) }
          : undefined;
      }
      for (const m of vmsOn(s, hostId))
        if (members.has(m)) {
          const has = left(s, m, hostId, vmId);
          if (has < c.amount)
            return { constraint: c, vmIds: [vmId, m], hostId, message: short(s, m, hostId, has) };
        }
      return undefined;
    },
    score(s, vmId, hostId) {
      return this.admits(s, vmId, hostId) ? 0 : 1;
    },
  };
}

/** Checker of `overbook`: on each selected host, demand ≤ ratio × capacity. About every VM. */
export function overbookChecker(c: OverbookConstraint): ConstraintChecker {
  resource(c, c.resource);
  if (!(c.ratio > 0)) throw new RangeError(`overbook "${c.name ?? c.id}" needs a ratio > 0, got ${c.ratio}`);
  const label = constraintLabel(c);
  const limit = (s: ConstraintState, h: string) => {
    const cap = capOf(s, h, c.resource);
    return cap === undefined || !selects(c, hostOf(s, h)) ? Infinity : cap * c.ratio;
  };
  const msg = (s: ConstraintState, h: string, load: number) =>
    `${label}: ${load} ${c.resource} on ${hostOf(s, h).name}, above ${limit(s, h)} (${c.ratio} × capacity)`;
  return {
    constraint: c,
    continuous: c.continuous ?? true,
    check(s) {
      const out: Violation[] = [];
      for (const h of s.hosts.keys()) {
        const load = loadOn(s, h, c.resource);
        if (load > limit(s, h))
          out.push({ constraint: c, vmIds: vmsOn(s, h), hostId: h, message: msg(s, h, load) });
      }
      return out;
    },
    admits(s, vmId, hostId) {
      const load = loadOn(s, hostId, c.resource, [vmId]) + demandOf(s, vmId, c.resource);
      return load > limit(s, hostId)
        ? { constraint: c, vmIds: [vmId], hostId, message: msg(s, hostId, load) }
        : undefined;
    },
    score(s, vmId, hostId) {
      return this.admits(s, vmId, hostId) ? 0 : 1;
    },
  };
}

/** Checker of `runningCapacity`: at most `max` VMs on the selected hosts together. About every VM. */
export function runningCapacityChecker(c: RunningCapacityConstraint): ConstraintChecker {
  whole(c, 'max', c.max, 0);
  const label = constraintLabel(c);
  const inSet = (s: ConstraintState, h: string) => selects(c, hostOf(s, h));
  const running = (s: ConstraintState) => {
    if (!s.onHost) return [...s.placement].filter(([, hs]) => hs.some((h) => inSet(s, h))).map(([v]) => v);
    const vms = new Set<string>();
    for (const h of s.hosts.keys()) if (inSet(s, h)) for (const v of s.onHost.get(h) ?? []) vms.add(v);
    return [...vms];
  };
  const where = describeSelector(c);
  return {
    constraint: c,
    continuous: c.continuous ?? false,
    check(s) {
      const vms = running(s);
      return vms.length > c.max
        ? [
            {
              constraint: c,
              vmIds: vms,
              message: `${label}: ${vms.length} VMs on ${where}, at most ${c.max}`,
            },
          ]
        : [];
    },
    admits(s, vmId, hostId) {
      if (!inSet(s, hostId) || hostsOf(s, vmId).some((h) => inSet(s, h))) return undefined;
      const n = running(s).length;
      return n + 1 > c.max
        ? {
            constraint: c,
            vmIds: [vmId],
            hostId,
            message: `${label}: ${where} already run ${n} VMs (at most ${c.max}), ${names(s, [vmId])} may not join`,
          }
        : undefined;
    },
    score(s, vmId, hostId) {
      return this.admits(s, vmId, hostId) ? 0 : 1;
    },
  };
}

/**
 * Checker of `maxOnline`: at most `max` of the selected hosts on. Placing a VM on a host that is off
 * switches it on. About every VM.
 */
export function maxOnlineChecker(c: MaxOnlineConstraint): ConstraintChecker {
  whole(c, 'max', c.max, 0);
  const label = constraintLabel(c);
  const where = describeSelector(c);
  const continuous = c.continuous ?? false;
  const on = (s: ConstraintState, without?: string) =>
    [...s.hosts.values()].filter((h) => selects(c, h) && isOnline(s, h.id, without)).map((h) => h.id);
  return {
    constraint: c,
    continuous,
    check(s) {
      const hs = on(s);
      return hs.length > c.max
        ? [
            {
              constraint: c,
              vmIds: [],
              message: `${label}: ${hs.length} hosts on (${hs.map((h) => hostOf(s, h).name).join(', ')}) of ${where}, at most ${c.max}`,
            },
          ]
        : [];
    },
    admits(s, vmId, hostId) {
      if (!selects(c, hostOf(s, hostId))) return undefined;
      // A discrete rule judges the end: the VM has left where it ran (its host may go off).
      const hs = on(s, continuous ? undefined : vmId);
      if (hs.includes(hostId) || hs.length < c.max) return undefined;
      return {
        constraint: c,
        vmIds: [vmId],
        hostId,
        message: `${label}: ${hostOf(s, hostId).name} would be host ${hs.length + 1} on of ${where} (at most ${c.max})`,
      };
    },
    score(s, vmId, hostId) {
      return this.admits(s, vmId, hostId) ? 0 : 1;
    },
  };
}
