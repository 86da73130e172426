/**
 * VM placement for the control plane as a filter/scorer pipeline over an immutable snapshot
 * (OpenStack Nova's FilterScheduler; Kubernetes scheduler framework Filter/Score). Filters return a
 * verdict with a reason; scorers return a number in [0, 1] with a weight. "No host fits" is a value
 * that names, for every host, the first filter that rejected it and why.
 */

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
  /** VM ids on the host (for server-group rules). */
  vmIds: readonly string[];
  tier?: string;
  zone?: string;
}

export type GroupPolicy = 'affinity' | 'anti-affinity' | 'soft-affinity' | 'soft-anti-affinity';

export interface PlacementRequest {
  flavor: Resources;
  /** The VM's server group and the VM ids already in it. */
  group?: { id: string; policy: GroupPolicy; memberIds: readonly string[] };
  /** Only hosts in this availability zone / of this tier. */
  zone?: string;
  tier?: string;
}

export interface FilterVerdict {
  pass: boolean;
  reason?: string;
}
export interface HostFilter {
  name: string;
  filter(h: HostView, r: PlacementRequest): FilterVerdict;
}
export interface HostScorer {
  name: string;
  weight: number;
  score(h: HostView, r: PlacementRequest): number;
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

/** Capacity per dimension with overcommit ratios and reserved resources (Nova's RAM/Core/Disk filters). */
const PASS: FilterVerdict = { pass: true };

export const capacityFilter: HostFilter = {
  name: 'CapacityFilter',
  filter: (h, r) => {
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

const PASS_GROUP: FilterVerdict = { pass: true };
const PASS_ZONE: FilterVerdict = { pass: true };

/** Availability zone and tier requested by the VM (Nova's AvailabilityZoneFilter / aggregate extra specs). */
export const zoneTierFilter: HostFilter = {
  name: 'ZoneTierFilter',
  filter: (h, r) => {
    if (r.zone && h.zone !== r.zone)
      return { pass: false, reason: `in zone ${h.zone ?? 'none'}, VM asks for ${r.zone}` };
    if (r.tier && h.tier !== r.tier)
      return { pass: false, reason: `tier ${h.tier ?? 'none'}, VM asks for ${r.tier}` };
    return PASS_ZONE;
  },
};

/** Hard server-group rules (Nova's ServerGroupAffinityFilter / ServerGroupAntiAffinityFilter). */
export const serverGroupFilter: HostFilter = {
  name: 'ServerGroupFilter',
  filter: (h, r) => {
    const g = r.group;
    if (!g || g.memberIds.length === 0) return PASS_GROUP;
    const here = g.memberIds.filter((m) => h.vmIds.includes(m));
    if (g.policy === 'affinity' && here.length === 0)
      return { pass: false, reason: `affinity group ${g.id}: its VMs run elsewhere` };
    if (g.policy === 'anti-affinity' && here.length > 0)
      return { pass: false, reason: `anti-affinity group ${g.id}: ${here.length} of its VMs already here` };
    return { pass: true };
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
/** Soft server-group rules (Nova's ServerGroupSoft(Anti)AffinityWeigher). */
export const softGroupScorer: HostScorer = {
  name: 'softServerGroup',
  weight: 2,
  score: (h, r) => {
    const g = r.group;
    if (!g || (g.policy !== 'soft-affinity' && g.policy !== 'soft-anti-affinity')) return 0.5;
    const here = g.memberIds.filter((m) => h.vmIds.includes(m)).length;
    const share = g.memberIds.length ? here / g.memberIds.length : 0;
    return g.policy === 'soft-affinity' ? share : 1 - share;
  },
};

/** Named presets (data, not code paths). `first-fit` scores nothing: the first host in name order wins. */
export const PLACEMENT_PRESETS: Readonly<Record<string, { filters: HostFilter[]; scorers: HostScorer[] }>> = {
  pack: {
    filters: [hostStateFilter, zoneTierFilter, capacityFilter, serverGroupFilter],
    scorers: [packScorer, softGroupScorer],
  },
  spread: {
    filters: [hostStateFilter, zoneTierFilter, capacityFilter, serverGroupFilter],
    scorers: [spreadScorer, softGroupScorer],
  },
  'first-fit': {
    filters: [hostStateFilter, zoneTierFilter, capacityFilter, serverGroupFilter],
    scorers: [softGroupScorer],
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
  const rejected: Rejection[] = [];
  const ranked: RankedHost[] = [];
  for (const h of sorted) {
    let ok = true;
    for (const f of p.filters) {
      const v = f.filter(h, req);
      if (!v.pass) {
        rejected.push({ hostId: h.id, hostName: h.name, filter: f.name, reason: v.reason ?? 'rejected' });
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    const scores: Record<string, number> = {};
    let score = 0;
    for (const s of p.scorers) {
      const x = s.score(h, req);
      scores[s.name] = x;
      score += s.weight * x;
    }
    ranked.push({ hostId: h.id, hostName: h.name, score, scores });
  }
  // Stable sort: equal scores keep name order.
  const order = ranked.slice().sort((a, b) => b.score - a.score);
  const best = order[0];
  const explanation = best
    ? `${best.hostName}: ${preset} score ${best.score.toFixed(3)} (${Object.entries(best.scores)
        .map(([k, v]) => `${k} ${v.toFixed(2)}`)
        .join(', ')}) among ${order.length} suitable of ${hosts.length} hosts`
    : hosts.length === 0
      ? 'no hosts registered'
      : `no host fits: ${rejected.map((x) => `${x.hostName} (${x.filter}: ${x.reason})`).join('; ')}`;
  return { hostId: best?.hostId ?? null, ranked: order, rejected, explanation };
}
