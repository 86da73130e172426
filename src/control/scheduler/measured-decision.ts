/**
 * The scheduler's indexed decision when some hosts have the 'measured' memory policy (issue 17 ×
 * issue 15): the host index's best static host against the measured hosts, which the pipeline judges
 * with their cached memory views (only they carry the memory filter and the sharing term); the higher
 * score wins, a tie goes to the earlier name, as in the scan of every host (whose answer this equals:
 * test/scheduler-memory-index.test.ts).
 */
import type { HostAttributes } from '../../core/constraints/index.ts';
import { concerns, globalConstraints } from '../../core/constraints/index.ts';
import type { HostIndex } from '../../policies/placement/host-index.ts';
import {
  NEW_VM_ID,
  placeVm,
  requestConstraints,
  type HostView,
  type PlacementDecision,
  type PlacementRequest,
} from '../../policies/placement/pipeline.ts';
import type { ControlPlane } from '../control-plane.ts';
import type { Db } from '../store/open-store.ts';
import type { MeasuredHost } from './host-cache.ts';
import { memoryRequest } from './memory-placement.ts';
import type { MemoryViews } from './memory-views.ts';
import type { PlaceRequest } from './scheduler.ts';

/** What the decision reads besides the request: the pipeline's request, the index, the measured hosts. */
export interface MeasuredDecisionInput {
  /** The pipeline's request for `r` (flavor, constraints, placement; no memory). */
  base: PlacementRequest;
  /** Every host's attributes, when some constraint will be checked. */
  hostAttributes?: ReadonlyMap<string, HostAttributes>;
  index: HostIndex;
  measured: ReadonlyMap<string, MeasuredHost>;
  views: MemoryViews;
  cp: Pick<ControlPlane, 'memoryProfiles'>;
  sharingWeight: number;
}

/**
 * The decision for `r` with measured hosts; null when the scan must answer: rules about every VM, or
 * no host fits (the scan gives the reasons per host).
 */
export async function decideWithMeasured(
  db: Db,
  r: PlaceRequest,
  o: MeasuredDecisionInput,
): Promise<PlacementDecision | null> {
  const { base, index, measured } = o;
  const vmId = base.vmId ?? NEW_VM_ID;
  if (globalConstraints(requestConstraints(base).filter((c) => concerns(c, vmId))).length) return null;
  const { request, weights } = await memoryRequest(o.cp, db, r, o.sharingWeight);
  const memory = await o.views.views(db, o.cp.memoryProfiles, measured, request);
  const skip = new Set(r.exclude ?? []);
  const candidates: HostView[] = [];
  for (const [id, m] of measured)
    if (
      !skip.has(id) &&
      (r.toHost === undefined || id === r.toHost) &&
      (r.driver === undefined || m.domain === r.driver)
    )
      candidates.push({ ...m.view, memory: memory.get(id)! });
  const preset = r.preset ?? 'pack';
  const req = { ...base, memory: request, weights, hostAttributes: o.hostAttributes };
  if (r.toHost !== undefined) {
    // A given target: the plain pipeline on that one host (measured, or static from the index).
    const h = index.get(r.toHost);
    const views = candidates.length
      ? candidates
      : h && !skip.has(h.id) && (r.driver === undefined || index.domainOf(h.id) === r.driver)
        ? [h]
        : [];
    return placeVm(views, req, preset);
  }
  const onMeasured = placeVm(candidates, req, preset);
  const m = onMeasured.ranked[0];
  const onStatic = index.place(base, preset, {
    domain: r.driver,
    exclude: skip.size ? skip : undefined,
    noReasons: true,
  });
  let s = onStatic.ranked[0];
  if (!s && !m) return null;
  // The scan scores static hosts with the sharing term too (0 there).
  if (s && m && 'sharing' in m.scores) s = { ...s, scores: { ...s.scores, sharing: 0 } };
  const staticWins =
    s && (!m || s.score > m.score || (s.score === m.score && byName(s.hostName, m.hostName) < 0));
  return staticWins
    ? { ...onStatic, ranked: [s!], rejected: [] }
    : { ...onMeasured, ranked: [m!], rejected: [] };
}

/** Name order as the scan's (its hosts come sorted by name; ties keep that order). */
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
