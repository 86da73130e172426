/**
 * Counting rules: at most N of the VMs on one host (`max-per-host`), or in one rack, zone or data
 * center (`spread`; Kubernetes' topology spread and oVirt's even distribution with a hard cap). Both
 * are continuous: a migrating VM counts on its source and its target.
 */
import { others, type ConstraintChecker } from './checker.ts';
import {
  constraintLabel,
  type ConstraintState,
  type HostAttributes,
  type MaxPerHostConstraint,
  type SpreadConstraint,
  type Violation,
} from './model.ts';
import { domainOf, hostOf, hostsOf, names } from './state.ts';

/** Checker of `max-per-host`: no host holds more than `max` of the VMs. */
export function maxPerHostChecker(c: MaxPerHostConstraint): ConstraintChecker {
  if (!Number.isInteger(c.max) || c.max < 1)
    throw new RangeError(`max-per-host "${c.name ?? c.id}" needs a whole max ≥ 1, got ${c.max}`);
  return countingChecker(c, `at most ${c.max} per host`, c.max, (h) => `host ${h.name}`);
}

/** Checker of `spread`: no rack, zone or data center holds more than `maxPerDomain` (1) of the VMs. */
export function spreadChecker(c: SpreadConstraint): ConstraintChecker {
  const max = c.maxPerDomain ?? 1;
  if (!Number.isInteger(max) || max < 1)
    throw new RangeError(`spread "${c.name ?? c.id}" needs a whole maxPerDomain ≥ 1, got ${max}`);
  return countingChecker(c, `at most ${max} per ${c.over}`, max, (h) => domainOf(h, c.over));
}

/** At most `max` distinct VMs per domain, where `domain` maps a host to its domain's name. */
function countingChecker(
  c: MaxPerHostConstraint | SpreadConstraint,
  rule: string,
  max: number,
  domain: (h: HostAttributes) => string,
): ConstraintChecker {
  const label = constraintLabel(c);
  const inDomain = (s: ConstraintState, vms: readonly string[], d: string) =>
    vms.filter((m) => hostsOf(s, m).some((h) => domain(hostOf(s, h)) === d));
  return {
    constraint: c,
    continuous: true,
    check(s) {
      const by = new Map<string, { vms: string[]; hostId: string }>();
      for (const v of new Set(c.vms))
        for (const d of new Set(hostsOf(s, v).map((h) => domain(hostOf(s, h))))) {
          const e = by.get(d);
          if (e) e.vms.push(v);
          else by.set(d, { vms: [v], hostId: hostsOf(s, v).find((h) => domain(hostOf(s, h)) === d)! });
        }
      const out: Violation[] = [];
      for (const [d, e] of by)
        if (e.vms.length > max)
          out.push({
            constraint: c,
            vmIds: e.vms,
            hostId: c.type === 'max-per-host' ? e.hostId : undefined,
            message: `${label}: ${names(s, e.vms)} in ${d} (${rule})`,
          });
      return out;
    },
    admits(s, vmId, hostId) {
      if (!c.vms.includes(vmId)) return undefined;
      const d = domain(hostOf(s, hostId));
      const there = inDomain(s, [...new Set(others(c, vmId))], d);
      if (there.length < max) return undefined;
      return {
        constraint: c,
        vmIds: [vmId, ...there],
        hostId,
        message: `${label}: ${names(s, [vmId])} may not join ${names(s, there)} in ${d} (${rule})`,
      };
    },
    score(s, vmId, hostId) {
      if (!c.vms.includes(vmId)) return 1;
      const placed = [...new Set(others(c, vmId))].filter((m) => hostsOf(s, m).length > 0);
      const there = inDomain(s, placed, domain(hostOf(s, hostId))).length;
      return there < max ? 1 : placed.length ? 1 - there / placed.length : 1;
    },
  };
}
