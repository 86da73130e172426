/**
 * Rules about VMs staying put, BtrPlace's `Root` (a VM never moves), `Quarantine` (no VM enters or
 * leaves the selected hosts) and `NoDelay` (a VM's action starts at once). All are continuous
 * (Hermenier et al., IEEE TDSC 2013; btrplace/scheduler's constraint catalog). A state is judged
 * against `origin`, where the VMs ran when the plan started; `admits` against where they run now.
 */
import { type ConstraintChecker } from './checker.ts';
import { describeSelector, selects } from './host-sets.ts';
import {
  constraintLabel,
  type NoDelayConstraint,
  type QuarantineConstraint,
  type RootConstraint,
  type Violation,
} from './model.ts';
import { hostOf, hostsOf, names } from './state.ts';

/** Checker of `root`: a placed VM runs only where it ran at the start (a new VM may go anywhere). */
export function rootChecker(c: RootConstraint): ConstraintChecker {
  const label = constraintLabel(c);
  return {
    constraint: c,
    continuous: true,
    check(s) {
      const out: Violation[] = [];
      if (!s.origin) return out;
      for (const v of new Set(c.vms)) {
        const from = s.origin.get(v);
        if (!from?.length) continue;
        for (const h of hostsOf(s, v))
          if (!from.includes(h))
            out.push({
              constraint: c,
              vmIds: [v],
              hostId: h,
              message: `${label}: ${names(s, [v])} moved to ${hostOf(s, h).name} (it stays on ${from.map((x) => hostOf(s, x).name).join(', ')})`,
            });
      }
      return out;
    },
    admits(s, vmId, hostId) {
      if (!c.vms.includes(vmId)) return undefined;
      const now = hostsOf(s, vmId);
      if (!now.length || now.includes(hostId)) return undefined;
      return {
        constraint: c,
        vmIds: [vmId],
        hostId,
        message: `${label}: ${names(s, [vmId])} stays on ${now.map((h) => hostOf(s, h).name).join(', ')}, it may not move to ${hostOf(s, hostId).name}`,
      };
    },
    score(s, vmId, hostId) {
      return this.admits(s, vmId, hostId) ? 0 : 1;
    },
  };
}

/**
 * Checker of `quarantine`: a VM on a selected host stays there, and no other VM runs on one; about
 * every VM (its `vms` are ignored).
 */
export function quarantineChecker(c: QuarantineConstraint): ConstraintChecker {
  const label = constraintLabel(c);
  const held = (s: Parameters<ConstraintChecker['check']>[0], h: string) => selects(c, hostOf(s, h));
  const where = describeSelector(c);
  return {
    constraint: c,
    continuous: true,
    check(s) {
      const out: Violation[] = [];
      if (!s.origin) return out;
      for (const [v, now] of s.placement) {
        const from = s.origin.get(v) ?? [];
        for (const h of now)
          if (held(s, h) && !from.includes(h))
            out.push({
              constraint: c,
              vmIds: [v],
              hostId: h,
              message: `${label}: ${names(s, [v])} entered ${hostOf(s, h).name} (quarantined: ${where})`,
            });
        for (const h of from)
          if (held(s, h) && (!now.includes(h) || now.some((x) => !from.includes(x))))
            out.push({
              constraint: c,
              vmIds: [v],
              hostId: h,
              message: `${label}: ${names(s, [v])} left ${hostOf(s, h).name} (quarantined: ${where})`,
            });
      }
      return out;
    },
    admits(s, vmId, hostId) {
      const now = hostsOf(s, vmId);
      if (now.includes(hostId)) return undefined;
      const leaving = now.find((h) => held(s, h));
      if (leaving)
        return {
          constraint: c,
          vmIds: [vmId],
          hostId,
          message: `${label}: ${names(s, [vmId])} may not leave ${hostOf(s, leaving).name} (quarantined: ${where})`,
        };
      if (held(s, hostId))
        return {
          constraint: c,
          vmIds: [vmId],
          hostId,
          message: `${label}: ${names(s, [vmId])} may not enter ${hostOf(s, hostId).name} (quarantined: ${where})`,
        };
      return undefined;
    },
    score(s, vmId, hostId) {
      return this.admits(s, vmId, hostId) ? 0 : 1;
    },
  };
}

/**
 * Checker of `noDelay`: with a schedule (`starts`), every listed VM's action starts at 0. Without
 * one (an unordered check, a placement) it has nothing to judge; planners read it from the list.
 */
export function noDelayChecker(c: NoDelayConstraint): ConstraintChecker {
  const label = constraintLabel(c);
  return {
    constraint: c,
    continuous: true,
    check(s) {
      const out: Violation[] = [];
      for (const v of new Set(c.vms)) {
        const t = s.starts?.get(v);
        if (t !== undefined && t > 0)
          out.push({
            constraint: c,
            vmIds: [v],
            message: `${label}: ${names(s, [v])} starts at ${t}, not 0`,
          });
      }
      return out;
    },
    admits: () => undefined,
    score: () => 1,
  };
}
