/**
 * Horizontal autoscaling decisions (simple scaling policies in the manner of AWS Auto Scaling and
 * OpenStack Heat's ScalingPolicy): a metric above or below a threshold changes the desired size by a
 * fixed change, to an exact size, or by a percentage, within [min, max], at most once per cooldown.
 * Pure function.
 */
export interface ScalingPolicy {
  /** Scale out when the metric is above this. */
  scaleOutAbove: number;
  /** Scale in when the metric is below this. */
  scaleInBelow: number;
  adjustmentType: 'change' | 'exact' | 'percent';
  /** change: members added/removed; exact: the size out / in as [out, in]; percent: % of the current size. */
  adjustment: number;
  exactIn?: number;
  cooldownS: number;
  /**
   * Where the metric comes from: `reported` (POST .../metrics by a monitoring system) or `cpu` (the
   * members' mean CPU utilization in percent, as their agents measure it, evaluated every automation round).
   */
  metric?: 'reported' | 'cpu';
}

export interface ScalingDecision {
  desired: number;
  reason: string;
}

export function scalingDecision(
  g: { min: number; max: number; desired: number; secondsSinceLastScale: number },
  policy: ScalingPolicy,
  metric: number,
): ScalingDecision {
  if (!(policy.scaleInBelow < policy.scaleOutAbove))
    throw new RangeError(
      `scaleInBelow (${policy.scaleInBelow}) must be below scaleOutAbove (${policy.scaleOutAbove})`,
    );
  const clamp = (n: number) => Math.max(g.min, Math.min(g.max, n));
  const dir = metric > policy.scaleOutAbove ? 1 : metric < policy.scaleInBelow ? -1 : 0;
  if (dir === 0)
    return {
      desired: clamp(g.desired),
      reason: `metric ${metric} within [${policy.scaleInBelow}, ${policy.scaleOutAbove}]`,
    };
  if (g.secondsSinceLastScale < policy.cooldownS)
    return {
      desired: clamp(g.desired),
      reason: `in cooldown (${Math.round(g.secondsSinceLastScale)} of ${policy.cooldownS} s)`,
    };
  let next: number;
  if (policy.adjustmentType === 'exact') next = dir > 0 ? policy.adjustment : (policy.exactIn ?? g.min);
  else if (policy.adjustmentType === 'percent')
    next = g.desired + dir * Math.max(1, Math.ceil((g.desired * policy.adjustment) / 100));
  else next = g.desired + dir * policy.adjustment;
  const desired = clamp(next);
  return {
    desired,
    reason:
      desired === g.desired
        ? `metric ${metric} ${dir > 0 ? 'above' : 'below'} threshold, already at ${dir > 0 ? 'max' : 'min'}`
        : `metric ${metric} ${dir > 0 ? `above ${policy.scaleOutAbove}` : `below ${policy.scaleInBelow}`}: ${g.desired} → ${desired}`,
  };
}
