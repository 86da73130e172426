/**
 * An incremental index of hosts for placement: hosts that the pipeline cannot tell apart (same state,
 * capacity, ratios, reserved, counters and domain: driver kind, ...) share one class, so a decision
 * scores each class once instead of each host, and runs the per-host constraint checkers lazily, in
 * score order, only until a host passes. Same decisions as `placeVm` over the same hosts (ties by name);
 * rules about every VM (lonely, preserve, ...) and soft constraints fall back to the plain pipeline.
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
  type HostView,
  type PlacementContext,
  type PlacementDecision,
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

  remove(id: string): void {
    const e = this.hosts.get(id);
    if (!e) return;
    const m = e.cls.members;
    m.splice(m.indexOf(e.view), 1);
    if (!m.length) this.classes.delete(e.cls.key);
    else if (e.cls.rep === e.view) e.cls.rep = m[0]!;
    this.hosts.delete(id);
    this.attrs.delete(id);
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
    if (globalConstraints(constraints).length || constraints.some((c) => !c.hard)) return plain();
    const ctx = this.context(req, vmId, constraints, q);
    const constraintFilter = p.filters.find((f) => f.name === 'ConstraintFilter');
    const classFilters = p.filters.filter((f) => f !== constraintFilter);
    // Score every class that passes the host-independent filters (state, capacity).
    let total = 0,
      fitting = 0;
    const scored: { cls: HostClass; score: number; scores: Record<string, number>; n: number }[] = [];
    for (const cls of this.classes.values()) {
      if (q.domain !== undefined && cls.domain !== q.domain) continue;
      let n = cls.members.length;
      if (q.exclude) for (const m of cls.members) if (q.exclude.has(m.id)) n--;
      if (!n) continue;
      total += n;
      if (!classFilters.every((f) => f.filter(cls.rep, req, ctx).pass)) continue;
      const scores: Record<string, number> = {};
      let score = 0;
      for (const s of p.scorers) {
        const x = s.score(cls.rep, req, ctx);
        scores[s.name] = x;
        score += s.weight * x;
      }
      fitting += n;
      scored.push({ cls, score, scores, n });
    }
    if (!scored.length) return plain();
    const ok = (h: HostView) =>
      !q.exclude?.has(h.id) && (!constraintFilter || constraintFilter.filter(h, req, ctx).pass);
    // Highest score first; within one score the lowest name wins (placeVm's stable sort by name).
    scored.sort((a, b) => b.score - a.score);
    let winner: { h: HostView; score: number; scores: Record<string, number> } | undefined;
    for (let i = 0; i < scored.length && !winner;) {
      let j = i;
      while (j < scored.length && scored[j]!.score === scored[i]!.score) j++;
      const tier = scored.slice(i, j);
      // Walk the tied classes' members in name order (a k-way merge of sorted lists).
      const pos = tier.map(() => 0);
      for (;;) {
        let best = -1;
        for (let k = 0; k < tier.length; k++) {
          const h = tier[k]!.cls.members[pos[k]!];
          if (h && (best < 0 || byName(h, tier[best]!.cls.members[pos[best]!]!) < 0)) best = k;
        }
        if (best < 0) break;
        const h = tier[best]!.cls.members[pos[best]!++]!;
        if (ok(h)) {
          winner = { h, score: tier[best]!.score, scores: { ...tier[best]!.scores } };
          break;
        }
      }
      i = j;
    }
    if (!winner) return plain();
    const ranked: RankedHost[] = [
      { hostId: winner.h.id, hostName: winner.h.name, score: winner.score, scores: winner.scores },
    ];
    const among = constraints.length ? `the ${fitting} hosts with room` : `${fitting} suitable`;
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
