/**
 * VM placement for the control plane as a filter/scorer pipeline over an immutable snapshot
 * (OpenStack Nova's FilterScheduler; Kubernetes scheduler framework Filter/Score). Filters return a
 * verdict with a reason; scorers return a number in [0, 1] with a weight. "No host fits" is a value
 * that names, for every host, the first filter that rejected it and why. Placement constraints
 * (src/core/constraints) are judged by their own checkers, the same ones plans and planners use.
 */
import {
  admitsAll,
  concerns,
  globalConstraints,
  softScore,
  type Constraint,
  type ConstraintState,
  type HostAttributes,
} from '../../core/constraints/index.ts';
import type { PageFingerprint, SharingIndex } from '../../core/memory/fingerprint.ts';
import {
  admitsMemory,
  DEFAULT_MEMORY_RISK,
  sharedMiBWith,
  type DemandSums,
  type VmMemory,
} from '../memory-overcommit.ts';

export const HostState = { up: 'up', maintenance: 'maintenance', off: 'off', failed: 'failed' } as const;
export type HostState = (typeof HostState)[keyof typeof HostState];

export interface Resources {
  vcpus: number;
  memoryMiB: number;
  diskGiB: number;
}

export interface HostView {
  id: string;
  name: string;
  state: HostState;
  capacity: Resources;
  reserved: Resources;
  /** Overcommit ratios: schedulable = capacity × ratio − reserved. */
  cpuRatio: number;
  memoryRatio: number;
  diskRatio: number;
  /** Sum of the flavors of the VMs placed on the host. */
  used: Resources;
  /** VM ids on the host (where the constraints' VMs are, unless the request gives `placement`). */
  vmIds: readonly string[];
  tier?: string;
  zone?: string;
  rack?: string;
  datacenter?: string;
  /** A host whose memory policy is 'measured': its VMs as the memory-overcommit policy counts them. */
  memory?: HostMemoryView;
}

/** A measured host's memory (absent: the static rule, flavor × memory ratio). */
export interface HostMemoryView {
  /** Accepted probability that its VMs need more memory than it has. */
  risk: number;
  /** Share of a VM's flavor memory that is guaranteed here (never overcommitted). */
  guarantee: number;
  /** Its VMs. */
  vms: readonly VmMemory[];
  /** Its mergeable VMs' fingerprints, for the sharing-aware scorer (absent: none measured). */
  sharing?: SharingIndex;
  /** Its VMs' demand summed once (a cache of `vms`: the same verdicts, without re-adding each VM). */
  demand?: DemandSums;
}

/** The placed VM's memory as measured (a VM that moves) or predicted (same image), for measured hosts. */
export interface RequestMemory {
  workingSet?: { meanMiB: number; sdMiB: number };
  fingerprint?: PageFingerprint;
  /** False: its tenant opted out of page sharing (never counted as sharing). */
  mergeable: boolean;
}

export type GroupPolicy = 'affinity' | 'anti-affinity' | 'soft-affinity' | 'soft-anti-affinity';

export interface PlacementRequest {
  flavor: Resources;
  /** The VM being placed (a placeholder id for a VM not created yet) and its name for messages. */
  vmId?: string;
  vmName?: string;
  /** The constraints about this VM (others are ignored); hard ones filter, soft ones score. */
  constraints?: readonly Constraint[];
  /** Where each VM runs (VM id → host ids); by default read from the hosts' `vmIds`. */
  placement?: ReadonlyMap<string, readonly string[]>;
  /** VM names for messages. */
  vmNames?: ReadonlyMap<string, string>;
  /**
   * Attributes of every host the constraints' VMs may run on, when the candidates are fewer (a
   * spread needs the rack of a host that is not a candidate); by default the candidates'.
   */
  hostAttributes?: ReadonlyMap<string, HostAttributes>;
  /** Shorthand for an affinity / anti-affinity constraint over the group's members and this VM. */
  group?: { id: string; name?: string; policy: GroupPolicy; memberIds: readonly string[] };
  /** Shorthands for fences: only hosts in this availability zone / of this tier. */
  zone?: string;
  tier?: string;
  /** The VM's memory, for hosts with a measured memory policy (absent: it counts as its flavor). */
  memory?: RequestMemory;
  /** Scorer weights by name, over the preset's (e.g. `{ sharing: 2 }`). */
  weights?: Readonly<Record<string, number>>;
}

/** What every filter and scorer of one placement shares: the constraints and the state they judge. */
export interface PlacementContext {
  vmId: string;
  constraints: readonly Constraint[];
  state: ConstraintState;
}

/** The id `placeVm` gives a VM that has none yet. */
export const NEW_VM_ID = '(new VM)';

/** The request's constraints with its shorthands (group, zone, tier) turned into constraints. */
export function requestConstraints(r: PlacementRequest): Constraint[] {
  const vmId = r.vmId ?? NEW_VM_ID;
  const out: Constraint[] = [...(r.constraints ?? [])];
  if (r.group) {
    const g = r.group;
    out.push({
      id: g.id,
      name: g.name,
      hard: g.policy === 'affinity' || g.policy === 'anti-affinity',
      type: g.policy.endsWith('anti-affinity') ? 'anti-affinity' : 'affinity',
      vms: [...g.memberIds.filter((m) => m !== vmId), vmId],
    });
  }
  if (r.zone)
    out.push({
      id: 'zone',
      name: 'zone pin',
      hard: true,
      type: 'fence',
      vms: [vmId],
      where: { zone: r.zone },
    });
  if (r.tier)
    out.push({
      id: 'tier',
      name: 'tier pin',
      hard: true,
      type: 'fence',
      vms: [vmId],
      where: { tier: r.tier },
    });
  return out;
}

function placementContext(hosts: readonly HostView[], r: PlacementRequest): PlacementContext {
  const vmId = r.vmId ?? NEW_VM_ID;
  const constraints = requestConstraints(r).filter((c) => concerns(c, vmId));
  const vmNames = new Map(r.vmNames ?? []);
  if (!vmNames.has(vmId)) vmNames.set(vmId, r.vmName ?? (r.vmId ? vmId : 'the new VM'));
  // Without constraints no checker runs: skip the per-host attribute copies (10,000 hosts per decision).
  if (!constraints.length)
    return { vmId, constraints, state: { hosts: new Map(), placement: new Map(), vmNames } };
  const attrs = new Map<string, HostAttributes>(r.hostAttributes ?? []);
  for (const h of hosts)
    attrs.set(h.id, {
      id: h.id,
      name: h.name,
      zone: h.zone,
      rack: h.rack,
      tier: h.tier,
      datacenter: h.datacenter,
    });
  // Rules about every VM (lonely, host rules) need every VM the hosts run, not only the request's.
  const global = globalConstraints(constraints).length > 0;
  let placement = r.placement;
  if (!placement || global) {
    const p = new Map<string, string[]>([...(placement ?? [])].map(([v, l]) => [v, [...l]]));
    for (const h of hosts)
      for (const v of h.vmIds) {
        const l = p.get(v);
        if (!l) p.set(v, [h.id]);
        else if (!l.includes(h.id)) l.push(h.id);
      }
    placement = p;
  }
  const state: ConstraintState = { hosts: attrs, placement, vmNames };
  if (!global) return { vmId, constraints, state };
  // Capacities, demands and power for preserve, overbook and maxOnline (the hosts' counters).
  return {
    vmId,
    constraints,
    state: {
      ...state,
      capacity: new Map(hosts.map((h) => [h.id, h.capacity])),
      used: new Map(hosts.map((h) => [h.id, h.used])),
      demand: new Map([[vmId, r.flavor]]),
      online: new Set(hosts.filter((h) => h.state === HostState.up).map((h) => h.id)),
    },
  };
}

export interface FilterVerdict {
  pass: boolean;
  reason?: string;
}
export interface HostFilter {
  name: string;
  filter(h: HostView, r: PlacementRequest, ctx: PlacementContext): FilterVerdict;
}
export interface HostScorer {
  name: string;
  weight: number;
  score(h: HostView, r: PlacementRequest, ctx: PlacementContext): number;
}

const free = (h: HostView) => ({
  vcpus: h.capacity.vcpus * h.cpuRatio - h.reserved.vcpus - h.used.vcpus,
  memoryMiB: h.capacity.memoryMiB * h.memoryRatio - h.reserved.memoryMiB - h.used.memoryMiB,
  diskGiB: h.capacity.diskGiB * h.diskRatio - h.reserved.diskGiB - h.used.diskGiB,
});

const r1 = (x: number) => Math.round(x * 10) / 10;

/** Only hosts that are up take new VMs. */
export const hostStateFilter: HostFilter = {
  name: 'HostStateFilter',
  filter: (h) => (h.state === HostState.up ? PASS_STATE : { pass: false, reason: `host is ${h.state}` }),
};
const PASS_STATE: FilterVerdict = { pass: true };
const PASS: FilterVerdict = { pass: true };

/** Capacity per dimension with overcommit ratios and reserved resources (Nova's RAM/Core/Disk filters). */
export const capacityFilter: HostFilter = {
  name: 'CapacityFilter',
  filter: (h, r) => {
    if (h.memory) return measuredCapacity(h, h.memory, r);
    const v = h.capacity.vcpus * h.cpuRatio - h.reserved.vcpus - h.used.vcpus;
    const m = h.capacity.memoryMiB * h.memoryRatio - h.reserved.memoryMiB - h.used.memoryMiB;
    const d = h.capacity.diskGiB * h.diskRatio - h.reserved.diskGiB - h.used.diskGiB;
    if (v >= r.flavor.vcpus && m >= r.flavor.memoryMiB && d >= r.flavor.diskGiB) return PASS;
    const f = free(h);
    if (f.vcpus < r.flavor.vcpus)
      return {
        pass: false,
        reason: `needs ${r.flavor.vcpus} vCPUs, ${r1(f.vcpus)} free (×${h.cpuRatio} overcommit)`,
      };
    if (f.memoryMiB < r.flavor.memoryMiB)
      return {
        pass: false,
        reason: `needs ${r.flavor.memoryMiB} MiB memory, ${r1(f.memoryMiB)} MiB free (×${h.memoryRatio} overcommit)`,
      };
    return { pass: false, reason: `needs ${r.flavor.diskGiB} GiB disk, ${r1(f.diskGiB)} GiB free` };
  },
};

/** The placed VM as the memory policy counts it on a host with `guarantee`. */
export function requestVmMemory(r: PlacementRequest, guarantee: number): VmMemory {
  const m = r.memory;
  return {
    id: r.vmId ?? NEW_VM_ID,
    memoryMiB: r.flavor.memoryMiB,
    guaranteedMiB: r.flavor.memoryMiB * guarantee,
    ...(m?.workingSet ? { workingSet: m.workingSet } : {}),
    ...(m?.mergeable && m.fingerprint ? { fingerprint: m.fingerprint } : {}),
    mergeable: m?.mergeable ?? true,
  };
}

/**
 * A measured host: vCPUs and disk as the static rule; memory as guarantee outright (the same
 * condition as the store's conditional claim: Σ flavor memory × guarantee ≤ memory − reserved) and
 * demand at the host's risk (admitsMemory: Urgaonkar et al., OSDI 2002; sharing credit: Memory Buddies).
 */
function measuredCapacity(h: HostView, mem: HostMemoryView, r: PlacementRequest): FilterVerdict {
  const f = free(h);
  if (f.vcpus < r.flavor.vcpus)
    return {
      pass: false,
      reason: `needs ${r.flavor.vcpus} vCPUs, ${r1(f.vcpus)} free (×${h.cpuRatio} overcommit)`,
    };
  if (f.diskGiB < r.flavor.diskGiB)
    return { pass: false, reason: `needs ${r.flavor.diskGiB} GiB disk, ${r1(f.diskGiB)} GiB free` };
  const cap = h.capacity.memoryMiB - h.reserved.memoryMiB;
  const g = (h.used.memoryMiB + r.flavor.memoryMiB) * mem.guarantee;
  if (g > cap)
    return {
      pass: false,
      reason: `memory: guaranteed memory ${Math.round(g)} MiB would exceed the host's ${Math.round(cap)} MiB`,
    };
  const a = admitsMemory(cap, mem.demand ?? mem.vms, requestVmMemory(r, mem.guarantee), {
    ...DEFAULT_MEMORY_RISK,
    risk: mem.risk,
  });
  return a.ok ? PASS : { pass: false, reason: `memory: ${a.reason}` };
}

/**
 * Hard placement constraints (server groups, zone and tier pins, fences, bans, max per host,
 * spread), judged by their checkers; the reason names the constraint and the VMs.
 */
export const constraintFilter: HostFilter = {
  name: 'ConstraintFilter',
  filter: (h, _r, ctx) => {
    if (!ctx.constraints.length) return PASS;
    const v = admitsAll(ctx.constraints, ctx.state, ctx.vmId, h.id);
    return v ? { pass: false, reason: v.message } : PASS;
  },
};

const utilization = (h: HostView, add?: Resources) => {
  const cap = {
    v: h.capacity.vcpus * h.cpuRatio - h.reserved.vcpus,
    m: h.capacity.memoryMiB * h.memoryRatio - h.reserved.memoryMiB,
  };
  const v = (h.used.vcpus + (add?.vcpus ?? 0)) / Math.max(cap.v, 1e-9);
  const m = (h.used.memoryMiB + (add?.memoryMiB ?? 0)) / Math.max(cap.m, 1e-9);
  return Math.min(1, Math.max(v, m));
};

/** Prefer the fullest host after placement (best fit; fewer hosts on). */
export const packScorer: HostScorer = { name: 'pack', weight: 1, score: (h, r) => utilization(h, r.flavor) };
/** Prefer the emptiest host (worst fit; less interference). */
export const spreadScorer: HostScorer = {
  name: 'spread',
  weight: 1,
  score: (h, r) => 1 - utilization(h, r.flavor),
};
/** Soft constraints (soft server groups, ...): the mean of their scores, 0.5 without any. */
export const softConstraintScorer: HostScorer = {
  name: 'softConstraints',
  weight: 2,
  score: (h, _r, ctx) =>
    ctx.constraints.length ? softScore(ctx.constraints, ctx.state, ctx.vmId, h.id) : 0.5,
};

/**
 * Prefer hosts whose VMs share the most pages with the VM (Memory Buddies, Wood et al., VEE 2009):
 * the MiB it would share, as a share of its memory. 0 where nothing is known or it may not merge.
 * Added to every preset's scorers when the request has a fingerprint and some host is measured.
 */
export const sharingScorer: HostScorer = {
  name: 'sharing',
  weight: 1,
  score: (h, r) => Math.min(1, sharedMiB(h, r) / Math.max(r.flavor.memoryMiB, 1)),
};

/** MiB the request's VM would share with the host's mergeable VMs. */
function sharedMiB(h: HostView, r: PlacementRequest): number {
  const idx = h.memory?.sharing;
  return idx && r.memory ? sharedMiBWith(idx, requestVmMemory(r, h.memory!.guarantee)) : 0;
}

/** Named presets (data, not code paths). `first-fit` scores nothing: the first host in name order wins. */
export const PLACEMENT_PRESETS: Readonly<Record<string, { filters: HostFilter[]; scorers: HostScorer[] }>> = {
  pack: {
    filters: [hostStateFilter, constraintFilter, capacityFilter],
    scorers: [packScorer, softConstraintScorer],
  },
  spread: {
    filters: [hostStateFilter, constraintFilter, capacityFilter],
    scorers: [spreadScorer, softConstraintScorer],
  },
  'first-fit': {
    filters: [hostStateFilter, constraintFilter, capacityFilter],
    scorers: [softConstraintScorer],
  },
};

export interface Rejection {
  hostId: string;
  hostName: string;
  filter: string;
  reason: string;
}
export interface RankedHost {
  hostId: string;
  hostName: string;
  score: number;
  scores: Record<string, number>;
}
export interface PlacementDecision {
  hostId: string | null;
  ranked: RankedHost[];
  rejected: Rejection[];
  /** One line a person can read: where and why, or why nowhere. */
  explanation: string;
}

/**
 * Run the pipeline. Hosts are considered in name order; ties in score keep that order.
 * @throws RangeError for an unknown preset (names the accepted ones)
 */
export function placeVm(
  hosts: readonly HostView[],
  req: PlacementRequest,
  preset = 'pack',
): PlacementDecision {
  const p = PLACEMENT_PRESETS[preset];
  if (!p)
    throw new RangeError(
      `Unknown placement preset "${preset}"; accepted: ${Object.keys(PLACEMENT_PRESETS).join(', ')}`,
    );
  // Name order decides ties; hosts usually come sorted already, so check before sorting.
  let isSorted = true;
  for (let i = 1; i < hosts.length && isSorted; i++)
    if (hosts[i - 1]!.name > hosts[i]!.name) isSorted = false;
  const sorted = isSorted
    ? hosts
    : hosts.slice().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const ctx = placementContext(hosts, req);
  // The sharing-aware scorer, when it can tell hosts apart (a fingerprint and a measured host).
  const scorers =
    req.memory?.mergeable && req.memory.fingerprint && hosts.some((h) => h.memory?.sharing)
      ? [...p.scorers, sharingScorer]
      : p.scorers;
  const rejected: Rejection[] = [];
  const ranked: RankedHost[] = [];
  for (const h of sorted) {
    let ok = true;
    for (const f of p.filters) {
      const v = f.filter(h, req, ctx);
      if (!v.pass) {
        rejected.push({ hostId: h.id, hostName: h.name, filter: f.name, reason: v.reason ?? 'rejected' });
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    const scores: Record<string, number> = {};
    let score = 0;
    for (const s of scorers) {
      const x = s.score(h, req, ctx);
      scores[s.name] = x;
      score += (req.weights?.[s.name] ?? s.weight) * x;
    }
    ranked.push({ hostId: h.id, hostName: h.name, score, scores });
  }
  // Stable sort: equal scores keep name order.
  const order = ranked.slice().sort((a, b) => b.score - a.score);
  const best = order[0];
  const explanation = best
    ? `${best.hostName}: ${preset} score ${best.score.toFixed(3)} (${Object.entries(best.scores)
        .map(([k, v]) => `${k} ${v.toFixed(2)}`)
        .join(
          ', ',
        )}) among ${order.length} suitable of ${hosts.length} hosts${sharingNote(sorted, best, req)}`
    : hosts.length === 0
      ? 'no hosts registered'
      : `no host fits: ${rejected.map((x) => `${x.hostName} (${x.filter}: ${x.reason})`).join('; ')}`;
  return { hostId: best?.hostId ?? null, ranked: order, rejected, explanation };
}

/** The explanation's sharing line for the chosen host, when it shares anything. */
function sharingNote(hosts: readonly HostView[], best: RankedHost, r: PlacementRequest): string {
  if (!best.scores.sharing) return '';
  const h = hosts.find((x) => x.id === best.hostId);
  const mib = h ? sharedMiB(h, r) : 0;
  return mib >= 1 ? `; shares ~${Math.round(mib)} MiB with the host's VMs` : '';
}
