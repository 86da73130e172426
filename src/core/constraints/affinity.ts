/**
 * Server-group rules: affinity (all placed members on one host; BtrPlace `Gather`, discrete) and
 * anti-affinity (no two members on one host; BtrPlace `Spread`, continuous). Nova's
 * ServerGroupAffinityFilter/AntiAffinityFilter and their soft weighers use the same rules.
 */
import { others, type ConstraintChecker } from './checker.ts';
import {
  constraintLabel,
  type AffinityConstraint,
  type AntiAffinityConstraint,
  type ConstraintState,
  type GatherConstraint,
  type Violation,
} from './model.ts';
import { hostOf, hostsOf, names } from './state.ts';

/** Distinct placed members per host, in the constraint's member order. */
function membersByHost(c: { vms: readonly string[] }, s: ConstraintState): Map<string, string[]> {
  const by = new Map<string, string[]>();
  for (const v of new Set(c.vms))
    for (const h of hostsOf(s, v)) {
      const l = by.get(h);
      if (l) l.push(v);
      else by.set(h, [v]);
    }
  return by;
}

/** Checker of an anti-affinity constraint: no host holds two of its VMs, even during a migration. */
export function antiAffinityChecker(c: AntiAffinityConstraint): ConstraintChecker {
  const label = constraintLabel(c);
  const here = (s: ConstraintState, vmId: string, hostId: string) =>
    others(c, vmId).filter((m) => hostsOf(s, m).includes(hostId));
  return {
    constraint: c,
    continuous: true,
    check(s) {
      const out: Violation[] = [];
      for (const [h, vms] of membersByHost(c, s))
        if (vms.length > 1)
          out.push({
            constraint: c,
            vmIds: vms,
            hostId: h,
            message: `${label}: ${names(s, vms)} together on ${hostOf(s, h).name}`,
          });
      return out;
    },
    admits(s, vmId, hostId) {
      if (!c.vms.includes(vmId)) return undefined;
      const o = here(s, vmId, hostId);
      if (!o.length) return undefined;
      return {
        constraint: c,
        vmIds: [vmId, ...o],
        hostId,
        message: `${label}: ${names(s, [vmId])} may not share ${hostOf(s, hostId).name} with ${names(s, o)}`,
      };
    },
    score(s, vmId, hostId) {
      const placed = others(c, vmId).filter((m) => hostsOf(s, m).length > 0).length;
      return placed ? 1 - here(s, vmId, hostId).length / placed : 1;
    },
  };
}

/**
 * Checker of an affinity constraint (or `gather`, its BtrPlace name): all its placed VMs share one host. Discrete: members move one
 * at a time, so the group is apart while it moves and the rule holds at the end of a plan.
 */
export function affinityChecker(c: AffinityConstraint | GatherConstraint): ConstraintChecker {
  const label = constraintLabel(c);
  const where = (s: ConstraintState, vms: readonly string[]) =>
    [...membersByHost({ vms }, s)].map(([h, l]) => `${names(s, l)} on ${hostOf(s, h).name}`).join('; ');
  return {
    constraint: c,
    continuous: false,
    check(s) {
      const placed = [...new Set(c.vms)].filter((v) => hostsOf(s, v).length > 0);
      if (placed.length < 2) return [];
      const common = hostsOf(s, placed[0]!).filter((h) => placed.every((v) => hostsOf(s, v).includes(h)));
      if (common.length) return [];
      return [{ constraint: c, vmIds: placed, message: `${label}: apart (${where(s, placed)})` }];
    },
    admits(s, vmId, hostId) {
      if (!c.vms.includes(vmId)) return undefined;
      const away = others(c, vmId).filter((m) => {
        const at = hostsOf(s, m);
        return at.length > 0 && !at.includes(hostId);
      });
      if (!away.length) return undefined;
      return {
        constraint: c,
        vmIds: [vmId, ...away],
        hostId,
        message: `${label}: ${names(s, [vmId])} must run with ${where(s, away)}, not on ${hostOf(s, hostId).name}`,
      };
    },
    score(s, vmId, hostId) {
      const placed = others(c, vmId).filter((m) => hostsOf(s, m).length > 0);
      return placed.length ? placed.filter((m) => hostsOf(s, m).includes(hostId)).length / placed.length : 1;
    },
  };
}
