/**
 * Memory overcommit policies, pure: ballooning in the spirit of oVirt's MoM (Memory Overcommitment
 * Manager) "balloon" rule, and turning KSM page sharing on under pressure.
 */

export interface BalloonGuest {
  id: string;
  /** Configured memory (the balloon's ceiling), MiB. */
  memoryMiB: number;
  /** Current balloon target / actual memory, MiB. */
  balloonMiB: number;
  /** Guaranteed minimum, MiB. */
  minMiB: number;
  /** Memory the guest uses (total − available, from its balloon statistics), MiB; undefined if unknown. */
  usedMiB?: number;
  /**
   * The target the control plane set (its memory-aware placement's balloon target), MiB: memory given
   * back when the host is relaxed stops there instead of at `memoryMiB`. Undefined: no target.
   */
  ceilingMiB?: number;
}

export interface BalloonPolicyOptions {
  /** Below this share of host memory free, reclaim. */
  pressureFreeShare: number;
  /** Above this share free, give memory back. */
  relaxedFreeShare: number;
  /** Share of a guest's slack taken (or given back) per round. */
  step: number;
  /** Headroom kept above a guest's used memory, MiB. */
  headroomMiB: number;
}

export const DEFAULT_BALLOON_POLICY: BalloonPolicyOptions = {
  pressureFreeShare: 0.2,
  relaxedFreeShare: 0.4,
  step: 0.25,
  headroomMiB: 64,
};

export interface BalloonDecision {
  id: string;
  fromMiB: number;
  toMiB: number;
  reason: string;
}

/**
 * One round of the balloon rule. Under pressure, each guest gives up `step` of its slack above
 * max(guarantee, used + headroom), most slack first, until the shortfall is covered; when relaxed,
 * each guest gets back `step` of what it is missing up to its ceiling (the control plane's target). Between the thresholds nothing changes.
 * @returns the changes to make (guests not listed keep their target)
 */
export function balloonRound(
  host: { totalMiB: number; freeMiB: number },
  guests: readonly BalloonGuest[],
  o: BalloonPolicyOptions = DEFAULT_BALLOON_POLICY,
): BalloonDecision[] {
  if (!(o.pressureFreeShare < o.relaxedFreeShare))
    throw new RangeError(
      `pressureFreeShare (${o.pressureFreeShare}) must be below relaxedFreeShare (${o.relaxedFreeShare})`,
    );
  const free = host.freeMiB / host.totalMiB;
  const out: BalloonDecision[] = [];
  if (free < o.pressureFreeShare) {
    let shortfall = o.pressureFreeShare * host.totalMiB - host.freeMiB;
    const floor = (g: BalloonGuest) =>
      Math.min(
        g.memoryMiB,
        Math.max(g.minMiB, g.usedMiB !== undefined ? g.usedMiB + o.headroomMiB : g.minMiB),
      );
    const bySlack = guests
      .map((g) => ({ g, slack: g.balloonMiB - floor(g) }))
      .filter((x) => x.slack > 1)
      .sort((a, b) => b.slack - a.slack || (a.g.id < b.g.id ? -1 : 1));
    for (const { g, slack } of bySlack) {
      if (shortfall <= 0) break;
      const take = Math.min(shortfall, Math.max(1, Math.round(slack * o.step)));
      out.push({
        id: g.id,
        fromMiB: g.balloonMiB,
        toMiB: g.balloonMiB - take,
        reason: `host free ${(free * 100).toFixed(0)} % < ${(o.pressureFreeShare * 100).toFixed(0)} %: reclaim ${take} MiB of ${Math.round(slack)} MiB slack`,
      });
      shortfall -= take;
    }
  } else if (free > o.relaxedFreeShare) {
    for (const g of guests) {
      const top = Math.min(g.memoryMiB, g.ceilingMiB ?? g.memoryMiB);
      const missing = top - g.balloonMiB;
      if (missing < 1) continue;
      const give = Math.max(1, Math.round(missing * o.step));
      out.push({
        id: g.id,
        fromMiB: g.balloonMiB,
        toMiB: Math.min(top, g.balloonMiB + give),
        reason: `host free ${(free * 100).toFixed(0)} % > ${(o.relaxedFreeShare * 100).toFixed(0)} %: give back ${give} MiB${top < g.memoryMiB ? ` (up to the control plane's target ${Math.round(top)} MiB)` : ''}`,
      });
    }
  }
  return out;
}

/** KSM on when free memory is below `onBelowShare`, off above `offAboveShare` (hysteresis). */
export function ksmDecision(
  host: { totalMiB: number; freeMiB: number },
  ksmOn: boolean,
  o = { onBelowShare: 0.3, offAboveShare: 0.5 },
): { run: boolean; reason: string } {
  const free = host.freeMiB / host.totalMiB;
  if (!ksmOn && free < o.onBelowShare)
    return {
      run: true,
      reason: `host free ${(free * 100).toFixed(0)} % < ${o.onBelowShare * 100} %: start merging pages`,
    };
  if (ksmOn && free > o.offAboveShare)
    return {
      run: false,
      reason: `host free ${(free * 100).toFixed(0)} % > ${o.offAboveShare * 100} %: stop merging (it costs CPU)`,
    };
  return { run: ksmOn, reason: 'no change' };
}
