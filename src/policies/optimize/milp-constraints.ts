/**
 * The hard constraints of BtrPlace's catalog (src/core/constraints/) as MILP rows over the
 * consolidation model's x[v,h] (VM v on host h) and y[h] (host on), plus auxiliary binaries that
 * are each the OR of a set of x columns (so a placement determines them: the warm start sets them).
 * Host-set rules (fence, ban, root, quarantine, the host groups of among and splitAmong) restrict
 * the admissible columns instead (`catalogRules`). Each type cites its counterpart in BtrPlace's
 * CP model (Hermenier et al., IEEE TDSC 2013; btrplace/scheduler `choco/constraint/C*.java`). Pure.
 */
import {
  domainOf,
  selects,
  type Constraint,
  type HostAttributes,
  type HostSelector,
} from '../../core/constraints/index.ts';
import type { PackInstance } from './instance.ts';
import { resourceCapacity, resourceDemand } from './pack-state.ts';

/** Every type the model honours: as rows, as admissible columns, or (noDelay) with nothing to encode. */
export const ENCODED_CONSTRAINT_TYPES: ReadonlySet<string> = new Set([
  'affinity',
  'gather',
  'anti-affinity',
  'fence',
  'ban',
  'max-per-host',
  'spread',
  'among',
  'split',
  'splitAmong',
  'lonely',
  'root',
  'quarantine',
  'preserve',
  'overbook',
  'runningCapacity',
  'maxOnline',
  // About the schedule (actions start at 0), not the placement: nothing in this model.
  'noDelay',
]);

type Entry = [col: number, coef: number];

/** What the encoders write into: the model under construction. */
export interface ModelSink {
  inst: PackInstance;
  /** VM id → index in the instance. */
  vmIndex: ReadonlyMap<string, number>;
  /** Column of x[v,h], undefined when the pair is not admissible. */
  col(v: number, h: number): number | undefined;
  /** Column of y[h]. */
  y(h: number): number;
  /** The x columns on each host. */
  onHost: readonly (readonly number[])[];
  /** The VM index of each x column. */
  xVm: Int32Array;
  /** Whether the linking rows x[v,h] ≤ y[h] are in the model. */
  linked: boolean;
  row(entries: Entry[], lo: number, up: number): void;
  /** A new binary column equal to the OR of x columns `of` (rows must make it ≥ each of them). */
  aux(of: readonly number[]): number;
}

/** The index of the first host group that selects the host, or −1 (a host counts in the first). */
export function hostGroupOf(groups: readonly HostSelector[], h: HostAttributes): number {
  return groups.findIndex((g) => selects(g, h));
}

const isSelector = (c: Constraint): c is Constraint & HostSelector =>
  c.type === 'fence' ||
  c.type === 'ban' ||
  c.type === 'quarantine' ||
  c.type === 'maxOnline' ||
  c.type === 'runningCapacity' ||
  c.type === 'overbook';

/**
 * How a host looks to the hard constraints (for symmetry breaking: hosts that look the same are
 * interchangeable): which selectors pick it and which host group of each among/splitAmong it is in.
 */
export function hostConstraintKey(hard: readonly Constraint[], h: HostAttributes): string {
  return hard
    .map((c) =>
      isSelector(c)
        ? selects(c, h)
          ? 1
          : 0
        : c.type === 'among' || c.type === 'splitAmong'
          ? hostGroupOf(c.groups, h)
          : '',
    )
    .join(',');
}

/**
 * Per VM: the host it must stay on (root: BtrPlace CRoot fixes the VM's host variable; quarantine:
 * CQuarantine fixes the VMs of a quarantined host), −1 when it has nowhere to stay, or undefined;
 * and whether a host is refused (quarantine: no VM enters; among and splitAmong: a host in no group).
 */
export function catalogRules(
  inst: PackInstance,
  hard: readonly Constraint[],
): { fixed: (number | undefined)[]; refuses: (v: number, h: number) => boolean } {
  const hostIndex = new Map(inst.hosts.map((h, i) => [h.id, i]));
  const vmIndex = new Map(inst.vms.map((v, i) => [v.id, i]));
  const fixed: (number | undefined)[] = inst.vms.map(() => undefined);
  const stay = (v: number) => {
    const id = inst.vms[v]!.hostId;
    fixed[v] = id === undefined ? undefined : (hostIndex.get(id) ?? -1);
  };
  const quarantined = new Set<number>();
  const grouped: { vms: Set<number>; groups: readonly HostSelector[] }[] = [];
  for (const c of hard) {
    if (c.type === 'root') {
      for (const id of c.vms) if (vmIndex.has(id)) stay(vmIndex.get(id)!);
    } else if (c.type === 'quarantine') {
      inst.hosts.forEach((h, i) => {
        if (selects(c, h)) quarantined.add(i);
      });
    } else if (c.type === 'among' || c.type === 'splitAmong') {
      const ids = c.type === 'among' ? c.vms : c.vmGroups.flat();
      grouped.push({
        vms: new Set(ids.flatMap((id) => (vmIndex.has(id) ? [vmIndex.get(id)!] : []))),
        groups: c.groups,
      });
    }
  }
  inst.vms.forEach((v, i) => {
    const h = v.hostId !== undefined ? hostIndex.get(v.hostId) : undefined;
    if (h !== undefined && quarantined.has(h)) stay(i);
  });
  return {
    fixed,
    refuses: (v, h) =>
      quarantined.has(h) || grouped.some((g) => g.vms.has(v) && hostGroupOf(g.groups, inst.hosts[h]!) < 0),
  };
}

/**
 * Add the rows of one hard constraint. Returns false for a type this file does not know (the
 * caller lists it as unencoded and the solution is checked against it afterwards).
 */
export function encodeConstraint(c: Constraint, k: ModelSink): boolean {
  if (!ENCODED_CONSTRAINT_TYPES.has(c.type)) return false;
  const { inst } = k;
  const H = inst.hosts.length;
  const indices = (ids: readonly string[]) =>
    [...new Set(ids)].flatMap((id) => (k.vmIndex.has(id) ? [k.vmIndex.get(id)!] : []));
  const members = indices(c.vms);
  const colsOf = (vms: readonly number[], hosts: Iterable<number>) => {
    const out: number[] = [];
    for (const h of hosts)
      for (const v of vms) {
        const j = k.col(v, h);
        if (j !== undefined) out.push(j);
      }
    return out;
  };
  const ones = (cols: readonly number[]): Entry[] => cols.map((j) => [j, 1]);
  const selected = (sel: HostSelector) => inst.hosts.flatMap((h, i) => (selects(sel, h) ? [i] : []));
  const groupHosts = (groups: readonly HostSelector[]) => {
    const out: number[][] = groups.map(() => []);
    inst.hosts.forEach((h, i) => {
      const g = hostGroupOf(groups, h);
      if (g >= 0) out[g]!.push(i);
    });
    return out;
  };
  switch (c.type) {
    case 'affinity':
    case 'gather': {
      // CGather: all members' host variables equal; here x[v0,h] = x[w,h] for every member w, host h.
      const [v0, ...rest] = members;
      if (v0 === undefined) break;
      for (const w of rest)
        for (let h = 0; h < H; h++) {
          const a = k.col(v0, h),
            b = k.col(w, h);
          if (a === undefined && b === undefined) continue;
          const e: Entry[] = [];
          if (a !== undefined) e.push([a, 1]);
          if (b !== undefined) e.push([b, -1]);
          k.row(e, 0, 0);
        }
      break;
    }
    case 'anti-affinity':
    case 'max-per-host': {
      // CSpread (allDifferent on the hosts) / a per-host count: Σ_members x[v,h] ≤ max·y[h].
      const max = c.type === 'anti-affinity' ? 1 : c.max;
      for (let h = 0; h < H; h++) {
        const cs = colsOf(members, [h]);
        if (cs.length > max) k.row([...ones(cs), [k.y(h), -max]], -Infinity, 0);
      }
      break;
    }
    case 'spread': {
      const max = c.maxPerDomain ?? 1;
      const byDomain = new Map<string, number[]>();
      inst.hosts.forEach((h, i) => {
        const d = domainOf(h, c.over);
        byDomain.set(d, [...(byDomain.get(d) ?? []), i]);
      });
      for (const hs of byDomain.values()) {
        const cs = colsOf(members, hs);
        if (cs.length > max) k.row(ones(cs), -Infinity, max);
      }
      break;
    }
    case 'among': {
      // CAmong: a group variable g, every member's host in group g. Here s[g] ≥ Σ_{h∈g} x[v,h], Σ s ≤ 1.
      const gh = groupHosts(c.groups);
      const reach = gh.map((hs) => colsOf(members, hs));
      // With columns in one group only, the admissible columns already keep it.
      if (reach.filter((cs) => cs.length).length < 2) break;
      const s = reach.map((cs) => (cs.length ? k.aux(cs) : undefined));
      gh.forEach((hs, g) => {
        if (s[g] === undefined) return;
        for (const v of members) {
          const cs = colsOf([v], hs);
          if (cs.length) k.row([...ones(cs), [s[g]!, -1]], -Infinity, 0);
        }
      });
      k.row(ones(s.filter((x) => x !== undefined)), -Infinity, 1);
      break;
    }
    case 'split': {
      // CSplit: the groups' sets of hosts are disjoint. Here u[i,h] ≥ x[v,h] for v in group i, Σ_i u[i,h] ≤ 1.
      const groups = c.vmGroups.map(indices);
      for (let h = 0; h < H; h++) {
        const used = groups.map((g) => colsOf(g, [h])).filter((cs) => cs.length);
        if (used.length < 2) continue;
        const us = used.map((cs) => {
          const u = k.aux(cs);
          for (const j of cs)
            k.row(
              [
                [j, 1],
                [u, -1],
              ],
              -Infinity,
              0,
            );
          return u;
        });
        k.row(ones(us), -Infinity, 1);
      }
      break;
    }
    case 'splitAmong': {
      // CSplitAmong: an among per VM group, their group variables all different. Here a[i,g] ≥ Σ_{h∈g} x[v,h]
      // for v in VM group i, Σ_g a[i,g] ≤ 1 (one host group per VM group), Σ_i a[i,g] ≤ 1 (distinct).
      const gh = groupHosts(c.groups);
      const byHostGroup: number[][] = gh.map(() => []);
      for (const vg of c.vmGroups.map(indices)) {
        const mine: number[] = [];
        gh.forEach((hs, g) => {
          const cs = colsOf(vg, hs);
          if (!cs.length) return;
          const a = k.aux(cs);
          for (const v of vg) {
            const vcs = colsOf([v], hs);
            if (vcs.length) k.row([...ones(vcs), [a, -1]], -Infinity, 0);
          }
          mine.push(a);
          byHostGroup[g]!.push(a);
        });
        if (mine.length > 1) k.row(ones(mine), -Infinity, 1);
      }
      for (const as of byHostGroup) if (as.length > 1) k.row(ones(as), -Infinity, 1);
      break;
    }
    case 'lonely': {
      // CLonely: the members' hosts and the others' are disjoint. Here z[h] ≥ x[v,h] for members,
      // x[w,h] ≤ 1 − z[h] for every other VM.
      const inGroup = new Set(members);
      for (let h = 0; h < H; h++) {
        const mine = colsOf(members, [h]);
        const others = k.onHost[h]!.filter((j) => !inGroup.has(k.xVm[j]!));
        if (!mine.length || !others.length) continue;
        const z = k.aux(mine);
        for (const j of mine)
          k.row(
            [
              [j, 1],
              [z, -1],
            ],
            -Infinity,
            0,
          );
        for (const j of others)
          k.row(
            [
              [j, 1],
              [z, 1],
            ],
            -Infinity,
            1,
          );
      }
      break;
    }
    case 'preserve': {
      // CPreserve: the VM's host keeps `amount` (BtrPlace raises the VM's resource usage to it). The
      // catalog judges physical capacity less the neighbours' demand, so per member v and host h:
      // Σ_{w≠v} d_w·x[w,h] + (amount + M)·x[v,h] ≤ cap + M, with M = max(0, Σ_{w≠v} d_w − cap) (off when x[v,h] = 0).
      for (const v of members)
        for (let h = 0; h < H; h++) {
          const jv = k.col(v, h);
          const cap = resourceCapacity(inst, h, c.resource);
          if (jv === undefined || cap === undefined) continue;
          const e: Entry[] = k.onHost[h]!.flatMap((j): Entry[] => {
            const d = k.xVm[j] === v ? 0 : resourceDemand(inst, k.xVm[j]!, c.resource);
            return d > 0 ? [[j, d]] : [];
          });
          const load = e.reduce((s, [, d]) => s + d, 0);
          if (load + c.amount <= cap + 1e-9) continue;
          const m = Math.max(0, load - cap);
          k.row([...e, [jv, c.amount + m]], -Infinity, cap + m);
        }
      break;
    }
    case 'overbook': {
      // COverbook: the host's usage of the resource ≤ ratio × its capacity, on the selected hosts.
      for (const h of selected(c)) {
        const cap = resourceCapacity(inst, h, c.resource);
        if (cap === undefined) continue;
        const e: Entry[] = k.onHost[h]!.flatMap((j): Entry[] => {
          const d = resourceDemand(inst, k.xVm[j]!, c.resource);
          return d > 0 ? [[j, d]] : [];
        });
        if (e.reduce((s, [, d]) => s + d, 0) <= c.ratio * cap + 1e-9) continue;
        k.row([...e, [k.y(h), -c.ratio * cap]], -Infinity, 0);
      }
      break;
    }
    case 'runningCapacity': {
      // CRunningCapacity: the number of VMs running on the host set ≤ max.
      const cs = selected(c).flatMap((h) => k.onHost[h]!);
      if (cs.length > c.max) k.row(ones(cs), -Infinity, c.max);
      break;
    }
    case 'maxOnline': {
      // CMaxOnline: Σ of the selected hosts' state variables ≤ max; y[h] ≥ x[v,h] makes a used host count.
      const hs = selected(c);
      if (hs.length <= c.max) break;
      if (!k.linked)
        for (const h of hs)
          for (const j of k.onHost[h]!)
            k.row(
              [
                [j, 1],
                [k.y(h), -1],
              ],
              -Infinity,
              0,
            );
      k.row(
        hs.map((h): Entry => [k.y(h), 1]),
        -Infinity,
        c.max,
      );
      break;
    }
    default:
      // fence, ban, root and quarantine restrict the admissible columns; noDelay is about the schedule.
      break;
  }
  return true;
}
