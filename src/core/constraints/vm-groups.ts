/**
 * Rules over groups of VMs and groups of hosts, BtrPlace's `Among`, `Split`, `SplitAmong` and
 * `Lonely` (Hermenier et al., IEEE TDSC 2013; btrplace/scheduler's constraint catalog). Each is
 * discrete by default (it holds at the end of a plan) and continuous when asked (`continuous: true`).
 */
import { others, type ConstraintChecker } from './checker.ts';
import { describeSelector, selects } from './host-sets.ts';
import {
  constraintLabel,
  type AmongConstraint,
  type ConstraintState,
  type HostSelector,
  type LonelyConstraint,
  type SplitAmongConstraint,
  type SplitConstraint,
  type Violation,
} from './model.ts';
import { hostOf, hostsOf, names, vmsOn } from './state.ts';

/** The index of the first host group that selects the host, or -1. */
function groupOf(s: ConstraintState, groups: readonly HostSelector[], hostId: string): number {
  const h = hostOf(s, hostId);
  return groups.findIndex((g) => selects(g, h));
}

const groupName = (groups: readonly HostSelector[], i: number) =>
  `group ${i + 1} (${describeSelector(groups[i]!)})`;

/** VM id → index of its VM group; throws when a VM is in two groups. */
function vmGroupIndex(c: SplitConstraint | SplitAmongConstraint): Map<string, number> {
  const ix = new Map<string, number>();
  c.vmGroups.forEach((g, i) =>
    g.forEach((v) => {
      if (ix.has(v) && ix.get(v) !== i)
        throw new RangeError(`${c.type} "${c.name ?? c.id}": VM ${v} is in two VM groups`);
      ix.set(v, i);
    }),
  );
  return ix;
}

/** Checker of `among`: every placed VM on hosts of one host group. */
export function amongChecker(c: AmongConstraint): ConstraintChecker {
  if (!c.groups.length) throw new RangeError(`among "${c.name ?? c.id}" needs at least one host group`);
  const label = constraintLabel(c);
  const continuous = c.continuous ?? false;
  return {
    constraint: c,
    continuous,
    check(s) {
      const out: Violation[] = [];
      const used = new Map<number, string[]>();
      for (const v of new Set(c.vms))
        for (const h of hostsOf(s, v)) {
          const g = groupOf(s, c.groups, h);
          if (g < 0)
            out.push({
              constraint: c,
              vmIds: [v],
              hostId: h,
              message: `${label}: ${names(s, [v])} on ${hostOf(s, h).name}, in no host group`,
            });
          else used.set(g, [...(used.get(g) ?? []), v]);
        }
      if (used.size > 1)
        out.push({
          constraint: c,
          vmIds: [...new Set([...used.values()].flat())],
          message: `${label}: VMs in ${used.size} host groups (${[...used]
            .map(([g, vms]) => `${names(s, vms)} in ${groupName(c.groups, g)}`)
            .join('; ')})`,
        });
      return out;
    },
    admits(s, vmId, hostId) {
      if (!c.vms.includes(vmId)) return undefined;
      const g = groupOf(s, c.groups, hostId);
      const host = hostOf(s, hostId).name;
      if (g < 0)
        return { constraint: c, vmIds: [vmId], hostId, message: `${label}: ${host} is in no host group` };
      // Continuous: a migrating VM runs in both groups, so it may not change group either.
      const judged = continuous ? c.vms : others(c, vmId);
      const away = judged.filter((m) => hostsOf(s, m).some((h) => groupOf(s, c.groups, h) !== g));
      if (!away.length) return undefined;
      return {
        constraint: c,
        vmIds: [vmId, ...away],
        hostId,
        message: `${label}: ${names(s, [vmId])} must stay in the host group of ${names(s, away)}, not ${groupName(c.groups, g)}`,
      };
    },
    score(s, vmId, hostId) {
      return !c.vms.includes(vmId) || !this.admits(s, vmId, hostId) ? 1 : 0;
    },
  };
}

/** Checker of `split`: no host runs VMs of two different VM groups. */
export function splitChecker(c: SplitConstraint): ConstraintChecker {
  const ix = vmGroupIndex(c);
  const label = constraintLabel(c);
  return {
    constraint: c,
    continuous: c.continuous ?? false,
    check(s) {
      const byHost = new Map<string, string[]>();
      for (const v of ix.keys()) for (const h of hostsOf(s, v)) byHost.set(h, [...(byHost.get(h) ?? []), v]);
      const out: Violation[] = [];
      for (const [h, vms] of byHost)
        if (new Set(vms.map((v) => ix.get(v))).size > 1)
          out.push({
            constraint: c,
            vmIds: vms,
            hostId: h,
            message: `${label}: ${names(s, vms)} of different groups together on ${hostOf(s, h).name}`,
          });
      return out;
    },
    admits(s, vmId, hostId) {
      const g = ix.get(vmId);
      if (g === undefined) return undefined;
      const there = [...ix].filter(([v, i]) => i !== g && hostsOf(s, v).includes(hostId)).map(([v]) => v);
      if (!there.length) return undefined;
      return {
        constraint: c,
        vmIds: [vmId, ...there],
        hostId,
        message: `${label}: ${names(s, [vmId])} may not share ${hostOf(s, hostId).name} with ${names(s, there)} of another group`,
      };
    },
    score(s, vmId, hostId) {
      return this.admits(s, vmId, hostId) ? 0 : 1;
    },
  };
}

/** Checker of `splitAmong`: each VM group in one host group, distinct VM groups in distinct host groups. */
export function splitAmongChecker(c: SplitAmongConstraint): ConstraintChecker {
  if (!c.groups.length) throw new RangeError(`splitAmong "${c.name ?? c.id}" needs at least one host group`);
  const ix = vmGroupIndex(c);
  const label = constraintLabel(c);
  const continuous = c.continuous ?? false;
  return {
    constraint: c,
    continuous,
    check(s) {
      const out: Violation[] = [];
      // host group → VM groups in it; VM group → host groups it uses
      const hostGroupUsers = new Map<number, Set<number>>();
      const vmGroupHosts = new Map<number, Set<number>>();
      for (const [v, i] of ix)
        for (const h of hostsOf(s, v)) {
          const g = groupOf(s, c.groups, h);
          if (g < 0) {
            out.push({
              constraint: c,
              vmIds: [v],
              hostId: h,
              message: `${label}: ${names(s, [v])} on ${hostOf(s, h).name}, in no host group`,
            });
            continue;
          }
          hostGroupUsers.set(g, (hostGroupUsers.get(g) ?? new Set()).add(i));
          vmGroupHosts.set(i, (vmGroupHosts.get(i) ?? new Set()).add(g));
        }
      const members = (i: number) => c.vmGroups[i]!.filter((v) => hostsOf(s, v).length);
      for (const [i, gs] of vmGroupHosts)
        if (gs.size > 1)
          out.push({
            constraint: c,
            vmIds: members(i),
            message: `${label}: VM group ${i + 1} (${names(s, members(i))}) spans ${gs.size} host groups`,
          });
      for (const [g, is] of hostGroupUsers)
        if (is.size > 1)
          out.push({
            constraint: c,
            vmIds: [...is].flatMap(members),
            message: `${label}: VM groups ${[...is].map((i) => i + 1).join(', ')} share ${groupName(c.groups, g)}`,
          });
      return out;
    },
    admits(s, vmId, hostId) {
      const i = ix.get(vmId);
      if (i === undefined) return undefined;
      const g = groupOf(s, c.groups, hostId);
      const host = hostOf(s, hostId).name;
      if (g < 0)
        return { constraint: c, vmIds: [vmId], hostId, message: `${label}: ${host} is in no host group` };
      const bad = [...ix]
        .filter(
          // Continuous: a migrating VM runs in both host groups, so it may not change group either.
          ([v, j]) =>
            (v !== vmId || continuous) &&
            hostsOf(s, v).some((h) => (groupOf(s, c.groups, h) === g) !== (j === i)),
        )
        .map(([v]) => v);
      if (!bad.length) return undefined;
      return {
        constraint: c,
        vmIds: [vmId, ...bad],
        hostId,
        message: `${label}: ${names(s, [vmId])} on ${host} (${groupName(c.groups, g)}) would split its group or share a host group with another (${names(s, bad)})`,
      };
    },
    score(s, vmId, hostId) {
      return this.admits(s, vmId, hostId) ? 0 : 1;
    },
  };
}

/** Checker of `lonely`: the hosts of the VMs run no VM outside them. */
export function lonelyChecker(c: LonelyConstraint): ConstraintChecker {
  const label = constraintLabel(c);
  const members = new Set(c.vms);
  return {
    constraint: c,
    continuous: c.continuous ?? false,
    check(s) {
      const out: Violation[] = [];
      const hosts = new Set([...members].flatMap((v) => hostsOf(s, v)));
      for (const h of hosts) {
        const on = vmsOn(s, h);
        const strangers = on.filter((v) => !members.has(v));
        if (strangers.length)
          out.push({
            constraint: c,
            vmIds: [...on.filter((v) => members.has(v)), ...strangers],
            hostId: h,
            message: `${label}: ${names(s, strangers)} on ${hostOf(s, h).name} beside ${names(
              s,
              on.filter((v) => members.has(v)),
            )}`,
          });
      }
      return out;
    },
    admits(s, vmId, hostId) {
      const on = vmsOn(s, hostId).filter((v) => v !== vmId);
      const bad = members.has(vmId) ? on.filter((v) => !members.has(v)) : on.filter((v) => members.has(v));
      if (!bad.length) return undefined;
      return {
        constraint: c,
        vmIds: [vmId, ...bad],
        hostId,
        message: members.has(vmId)
          ? `${label}: ${names(s, [vmId])} must be alone on its host; ${hostOf(s, hostId).name} runs ${names(s, bad)}`
          : `${label}: ${hostOf(s, hostId).name} is reserved for ${names(s, bad)}`,
      };
    },
    score(s, vmId, hostId) {
      return this.admits(s, vmId, hostId) ? 0 : 1;
    },
  };
}
