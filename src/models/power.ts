/**
 * Server power models: watts as a function of CPU utilization in [0, 1].
 * Pure functions; a model is serializable data with a `type` discriminator.
 */

/** SPECpower-style table: watts at 0 %, 10 %, …, 100 % load (11 points), linearly interpolated. */
export interface SpecPowerModelSpec {
  readonly type: 'specpower';
  readonly name?: string;
  readonly wattsAt: readonly number[];
}

/** Linear model from idle to peak (Fan, Weber & Barroso, ISCA 2007). */
export interface LinearPowerModelSpec {
  readonly type: 'linear';
  readonly idleW: number;
  readonly maxW: number;
}

export type PowerModelSpec = SpecPowerModelSpec | LinearPowerModelSpec;

/** HP ProLiant ML110 G4 (Xeon 3040), SPECpower_ssj2008 results, as in CloudSim. */
export const HP_PROLIANT_ML110_G4: SpecPowerModelSpec = {
  type: 'specpower',
  name: 'hp-proliant-ml110-g4',
  wattsAt: [86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117],
};

/** HP ProLiant ML110 G5 (Xeon 3075), SPECpower_ssj2008 results, as in CloudSim. */
export const HP_PROLIANT_ML110_G5: SpecPowerModelSpec = {
  type: 'specpower',
  name: 'hp-proliant-ml110-g5',
  wattsAt: [93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135],
};

/** Named power models a spec may refer to by string. */
export const POWER_MODELS: Readonly<Record<string, PowerModelSpec>> = {
  'hp-proliant-ml110-g4': HP_PROLIANT_ML110_G4,
  'hp-proliant-ml110-g5': HP_PROLIANT_ML110_G5,
};

/**
 * Power in watts at `utilization` ∈ [0, 1]. For SPECpower tables the arithmetic is CloudSim's
 * `PowerModelSpecPower#getPower` operation for operation, so results match it to the last bit.
 * @throws RangeError if utilization is outside [0, 1] or NaN.
 * @example powerW(HP_PROLIANT_ML110_G4, 0.05) // 87.7
 */
export function powerW(model: PowerModelSpec, utilization: number): number {
  if (!(utilization >= 0 && utilization <= 1)) {
    throw new RangeError(`Utilization must be in [0, 1], got ${utilization}`);
  }
  if (model.type === 'linear') return model.idleW + (model.maxW - model.idleW) * utilization;
  const t = model.wattsAt;
  if (utilization % 0.1 === 0) return t[Math.trunc(utilization * 10)]!;
  const u1 = Math.floor(utilization * 10);
  const u2 = Math.ceil(utilization * 10);
  const p1 = t[u1]!;
  const p2 = t[u2]!;
  const delta = (p2 - p1) / 10;
  return p1 + delta * (utilization - u1 / 10) * 100;
}

/** Peak power (at 100 % load), W. */
export function maxPowerW(model: PowerModelSpec): number {
  return model.type === 'linear' ? model.maxW : model.wattsAt[model.wattsAt.length - 1]!;
}

/** Idle power (at 0 % load), W. */
export function idlePowerW(model: PowerModelSpec): number {
  return model.type === 'linear' ? model.idleW : model.wattsAt[0]!;
}

/**
 * Validate a power model; returns a list of problems (empty when valid).
 */
export function checkPowerModel(model: PowerModelSpec): string[] {
  const errs: string[] = [];
  if (model.type === 'specpower') {
    if (model.wattsAt.length !== 11)
      errs.push(`wattsAt needs 11 values (0 %..100 % in steps of 10), got ${model.wattsAt.length}`);
    for (let i = 1; i < model.wattsAt.length; i++) {
      if (!(model.wattsAt[i]! >= model.wattsAt[i - 1]!)) errs.push(`wattsAt must not decrease (index ${i})`);
    }
    if (model.wattsAt.some((w) => !(w >= 0))) errs.push('wattsAt values must be >= 0');
  } else if (!(model.idleW >= 0 && model.maxW >= model.idleW)) {
    errs.push(`linear model needs 0 <= idleW <= maxW, got idleW=${model.idleW}, maxW=${model.maxW}`);
  }
  return errs;
}

/** Facility energy from IT energy with a power usage effectiveness factor (The Green Grid, 2007). */
export function facilityEnergy(itEnergy: number, pue: number): number {
  if (!(pue >= 1)) throw new RangeError(`PUE must be >= 1, got ${pue}`);
  return itEnergy * pue;
}

/**
 * A host's power now and each owner's share of it: the idle part split by vCPUs, the part above
 * idle by CPU demand (vCPUs × utilization), as in per-VM power attribution by resource share
 * (Kansal et al., "Virtual machine power metering and provisioning", SoCC 2010). An empty host's
 * power belongs to nobody (byOwner is empty).
 */
export function attributeHostPower(
  model: PowerModelSpec,
  hostCpus: number,
  vms: readonly { tenant: string; vcpus: number; cpu: number }[],
): { totalW: number; byOwner: Map<string, number> } {
  let demand = 0,
    slots = 0;
  for (const v of vms) {
    demand += v.vcpus * v.cpu;
    slots += v.vcpus;
  }
  const u = Math.min(1, demand / Math.max(1, hostCpus));
  const totalW = powerW(model, u);
  const idle = idlePowerW(model),
    dyn = totalW - idle;
  const byOwner = new Map<string, number>();
  for (const v of vms) {
    const w =
      (slots > 0 ? (idle * v.vcpus) / slots : 0) + (demand > 0 ? (dyn * v.vcpus * v.cpu) / demand : 0);
    byOwner.set(v.tenant, (byOwner.get(v.tenant) ?? 0) + w);
  }
  return { totalW, byOwner };
}
