/**
 * An incremental index of hosts for placement: hosts that the pipeline cannot tell apart (same state,
 * capacity, ratios, reserved, counters and domain: driver kind, ...) share one class, so a decision
 * scores each class once instead of each host, and runs the per-host constraint checkers lazily, in
 * score order, only until a host passes (soft constraints, which score each host, bound each class's
 * score from above: branch and bound). Same decisions as `placeVm` over the same hosts (ties by name);
 * rules about every VM (lonely, preserve, ...) fall back to the plain pipeline.
 * (Equivalence classes of interchangeable nodes: Kubernetes' equivalence cache, Nova's host-state
 * aggregation; the lazy filter order follows Kubernetes' percentageOfNodesToScore idea, minus sampling.)
 */
import {
  concerns,
  globalConstraints,
  type Constraint,
  type ConstraintState,
  type HostAttributes,
} from '../../core/constraints/index.ts';
import {
  NEW_VM_ID,
  PLACEMENT_PRESETS,
  placeVm,
  requestConstraints,
  softConstraintScorer,
  type HostView,
  type PlacementContext,
  type PlacementDecision,
  type HostScorer,
  type PlacementRequest,
  type RankedHost,
} from './pipeline.ts';

/** Hosts the pipeline cannot tell apart: one score, one capacity verdict. Members sorted by name. */
interface HostClass {
  key: string;
  domain: string;
  rep: HostView;
  members: HostView[];
}

/** Where to look: one domain (driver kind, ...) and hosts to leave out (the VM's current host). */
export interface HostIndexQuery {
  domain?: string;
  exclude?: ReadonlySet<string>;
  /**
   * When no host fits, answer "none" at once instead of re-running the plain pipeline for the reasons
   * per host (a caller that asks others too, and the scan for the reasons only if none of them fits).
   */
  noReasons?: boolean;
}

const byName = (a: HostView, b: HostView) =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

const classKey = (h: HostView, domain: string) =>
  [
    domain,
    h.state,
    h.capacity.vcpus,
    h.capacity.memoryMiB,
    h.capacity.diskGiB,
    h.reserved.vcpus,
    h.reserved.memoryMiB,
    h.reserved.diskGiB,
    h.cpuRatio,
    h.memoryRatio,
    h.diskRatio,
    h.used.vcpus,
    h.used.memoryMiB,
    h.used.diskGiB,
  ].join('|');

const attributes = (h: HostView): HostAttributes => ({
  id: h.id,
  name: h.name,
  zone: h.zone,
  rack: h.rack,
  tier: h.tier,
  datacenter: h.datacenter,
});

/** An incremental placement index over host views; `place` answers as `placeVm` would. */
export class HostIndex {
  private readonly hosts = new Map<string, { view: HostView; cls: HostClass }>();
  private readonly classes = new Map<string, HostClass>();
  private readonly attrs = new Map<string, HostAttributes>();

  constructor(hosts: Iterable<HostView> = [], domainOf: (h: HostView) => string = () => '') {
    for (const h of hosts) this.upsert(h, domainOf(h));
  }

  get size(): number {
    return this.hosts.size;
  }

  /** Distinct classes (a decision costs one score per class). */
  get classCount(): number {
    return this.classes.size;
  }

  get(id: string): HostView | undefined {
    return this.hosts.get(id)?.view;
  }

  /** The domain a host was indexed under. */
  domainOf(id: string): string | undefined {
    return this.hosts.get(id)?.cls.domain;
  }

  /** Add a host or replace its view (state, counters, members, attributes changed). */
  upsert(h: HostView, domain = ''): void {
    this.remove(h.id);
    const key = classKey(h, domain);
    let cls = this.classes.get(key);
    if (!cls) {
      cls = { key, domain, rep: h, members: [] };
      this.classes.set(key, cls);
    }
    const m = cls.members;
    let lo = 0,
      hi = m.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (byName(m[mid]!, h) < 0) lo = mid + 1;
      else hi = mid;
    }
    m.splice(lo, 0, h);
    this.hosts.set(h.id, { view: h, cls });
    this.attrs.set(h.id, attributes(h));
  }

  /**
   * Keep a host's attributes for the constraint checkers (where its VMs run: its zone, rack, ...)
   * without making it a candidate (a host placed by another path, such as a measured memory host).
   */
  aside(h: HostView): void {
    this.remove(h.id);
    this.attrs.set(h.id, attributes(h));
  }

  /** Every host's attributes, candidates and hosts set aside (what the constraint checkers read). */
  attributes(): ReadonlyMap<string, HostAttributes> {
    return this.attrs;
  }

  remove(id: string): void {
    this.attrs.delete(id);
    const e = this.hosts.get(id);
    if (!e) return;
    const m = e.cls.members;
    m.splice(m.indexOf(e.view), 1);
    if (!m.length) this.classes.delete(e.cls.key);
    else if (e.cls.rep === e.view) e.cls.rep = m[0]!;
    this.hosts.delete(id);
  }

  /** Every host of the query, in name order (what the plain pipeline gets). */
  views(q: HostIndexQuery = {}): HostView[] {
    const out: HostView[] = [];
    for (const { view, cls } of this.hosts.values())
      if ((q.domain === undefined || cls.domain === q.domain) && !q.exclude?.has(view.id)) out.push(view);
    return out.sort(byName);
  }

  /**
   * The pipeline's choice among the query's hosts. `ranked` holds only the winner and `rejected` is
   * empty (a decision that finds no host re-runs the plain pipeline for the reasons per host). The
   * explanation is `placeVm`'s; with hard constraints it counts the hosts with room (the checkers
   * ran only until a host passed).
   * @throws RangeError for an unknown preset
   */
  place(req: PlacementRequest, preset = 'pack', q: HostIndexQuery = {}): PlacementDecision {
    const p = PLACEMENT_PRESETS[preset];
    if (!p)
      throw new RangeError(
        `Unknown placement preset "${preset}"; accepted: ${Object.keys(PLACEMENT_PRESETS).join(', ')}`,
      );
    const vmId = req.vmId ?? NEW_VM_ID;
    const constraints = requestConstraints(req).filter((c) => concerns(c, vmId));
    const plain = () => placeVm(this.views(q), { ...req, hostAttributes: this.attrs }, preset);
    if (globalConstraints(constraints).length) return plain();
    const ctx = this.context(req, vmId, constraints, q);
    const constraintFilter = p.filters.find((f) => f.name === 'ConstraintFilter');
    const classFilters = p.filters.filter((f) => f !== constraintFilter);
    // Soft constraints score each host (in [0, 1]); every other scorer is the same for a whole class.
    const soft = constraints.some((c) => !c.hard);
    const perHost = (s: HostScorer) => soft && s.name === softConstraintScorer.name;
    // Score every class that passes the host-independent filters (state, capacity); a class's bound
    // takes 1 for each per-host score (float sums are monotone, so no host of it scores above it).
    let total = 0,
      fitting = 0;
    const scored: { cls: HostClass; bound: number }[] = [];
    for (const cls of this.classes.values()) {
      if (q.domain !== undefined && cls.domain !== q.domain) continue;
      let n = cls.members.length;
      if (q.exclude) for (const m of cls.members) if (q.exclude.has(m.id)) n--;
      if (!n) continue;
      total += n;
      if (!classFilters.every((f) => f.filter(cls.rep, req, ctx).pass)) continue;
      let bound = 0;
      for (const s of p.scorers) bound += s.weight * (perHost(s) ? 1 : s.score(cls.rep, req, ctx));
      fitting += n;
      scored.push({ cls, bound });
    }
    const none = (): PlacementDecision => ({
      hostId: null,
      ranked: [],
      rejected: [],
      explanation: 'no host fits',
    });
    if (!scored.length) return q.noReasons ? none() : plain();
    // Highest bound first; stop at a class whose bound is below the best score found. Within a class,
    // members in name order: the first that passes wins unless a later one scores higher.
    // Equal bounds: the class with the lowest name first (the likely winner of a tie, which prunes the rest).
    scored.sort((a, b) => b.bound - a.bound || byName(a.cls.members[0]!, b.cls.members[0]!));
    let winner: { h: HostView; score: number; scores: Record<string, number> } | undefined;
    for (const { cls, bound } of scored) {
      if (winner && bound < winner.score) break;
      for (const h of cls.members) {
        // Here bound ≥ the best score: a later name can at most tie it, and a tie goes to the earlier name.
        if (winner && bound <= winner.score && byName(h, winner.h) > 0) break;
        if (q.exclude?.has(h.id) || (constraintFilter && !constraintFilter.filter(h, req, ctx).pass))
          continue;
        const scores: Record<string, number> = {};
        let score = 0;
        for (const s of p.scorers) {
          const x = s.score(perHost(s) ? h : cls.rep, req, ctx);
          if (x > 1) return plain();
          scores[s.name] = x;
          score += s.weight * x;
        }
        if (!winner || score > winner.score || (score === winner.score && byName(h, winner.h) < 0))
          winner = { h, score, scores };
        // No later member scores above the bound; at the bound only an earlier name would win.
        if (score === bound || !soft) break;
      }
    }
    if (!winner) return q.noReasons ? none() : plain();
    const ranked: RankedHost[] = [
      { hostId: winner.h.id, hostName: winner.h.name, score: winner.score, scores: winner.scores },
    ];
    const among = constraints.some((c) => c.hard) ? `the ${fitting} hosts with room` : `${fitting} suitable`;
    const explanation = `${winner.h.name}: ${preset} score ${winner.score.toFixed(3)} (${Object.entries(
      winner.scores,
    )
      .map(([k, v]) => `${k} ${v.toFixed(2)}`)
      .join(', ')}) among ${among} of ${total} hosts`;
    return { hostId: winner.h.id, ranked, rejected: [], explanation };
  }

  /** The constraint state over every indexed host's attributes, without a copy per decision. */
  private context(
    req: PlacementRequest,
    vmId: string,
    constraints: Constraint[],
    q: HostIndexQuery,
  ): PlacementContext {
    const vmNames = new Map(req.vmNames ?? []);
    if (!vmNames.has(vmId)) vmNames.set(vmId, req.vmName ?? (req.vmId ? vmId : 'the new VM'));
    if (!constraints.length)
      return { vmId, constraints, state: { hosts: new Map(), placement: new Map(), vmNames } };
    let placement = req.placement;
    if (!placement) {
      const p = new Map<string, string[]>();
      for (const h of this.views(q))
        for (const v of h.vmIds) {
          const l = p.get(v);
          if (!l) p.set(v, [h.id]);
          else if (!l.includes(h.id)) l.push(h.id);
        }
      placement = p;
    }
    const state: ConstraintState = { hosts: this.attrs, placement, vmNames };
    return { vmId, constraints, state };
  }
}
