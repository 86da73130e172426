/**
 * Scenario specs: serializable, validated once at the edge (zod). The same spec shape describes a
 * simulated data center and (later) a real one. `planetlab` is the built-in preset of the reference
 * study (Beloglazov & Buyya, CCPE 2012, as run by CloudSim 4.0).
 */
import { z } from 'zod';
import { checkPowerModel, POWER_MODELS, type PowerModelSpec } from '../models/power.ts';
import { memorySpecSchema } from './memory-workload.ts';

const powerModelSchema = z.union([
  z.string().refine((s) => s in POWER_MODELS, {
    message: `unknown power model; accepted: ${Object.keys(POWER_MODELS).join(', ')} or {type: specpower, wattsAt: [11 numbers]} or {type: linear, idleW, maxW}`,
  }),
  z.object({
    type: z.literal('specpower'),
    name: z.string().optional(),
    wattsAt: z.array(z.number().nonnegative()).length(11),
  }),
  z.object({ type: z.literal('linear'), idleW: z.number().nonnegative(), maxW: z.number().positive() }),
]);

const hostTypeSchema = z
  .object({
    name: z.string().min(1),
    count: z.number().int().nonnegative(),
    pes: z.number().int().positive(),
    mipsPerPe: z.number().positive(),
    ramMiB: z.number().positive(),
    bandwidthMbps: z.number().positive(),
    power: powerModelSchema,
  })
  .strict();

const vmTypeSchema = z
  .object({
    name: z.string().min(1),
    mips: z.number().positive(),
    ramMiB: z.number().positive(),
    bandwidthMbps: z.number().nonnegative().default(100),
  })
  .strict();

const workloadSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('planetlab'),
      path: z.string().optional(),
      limitVms: z.number().int().positive().optional(),
    })
    .strict(),
  z
    .object({
      type: z.literal('synthetic'),
      vms: z.number().int().positive(),
      seed: z.number().int().optional(),
      medianPercent: z.number().positive().max(100).optional(),
    })
    .strict(),
]);

export const scenarioSchema = z
  .object({
    name: z.string().min(1),
    mode: z.enum(['cloudsim', 'default']).default('default'),
    seed: z.number().int().default(1),
    stepS: z.number().positive().default(300),
    durationS: z.number().positive().default(86400),
    hostTypes: z.array(hostTypeSchema).min(1),
    /** interleave: host h has type h mod (number of types), as CloudSim; blocks: all of type 0 first. */
    hostLayout: z.enum(['interleave', 'blocks']).default('interleave'),
    vmTypes: z.array(vmTypeSchema).min(1),
    /** blocks: VM i gets type floor(i / ceil(n / types)), as CloudSim; round-robin: i mod types; random: seeded. */
    vmAssignment: z.enum(['blocks', 'round-robin', 'random']).default('blocks'),
    workload: workloadSchema,
    policies: z.array(z.string()).default([]),
    power: z
      .object({
        pue: z.number().min(1).default(1),
        powerOnS: z.number().nonnegative().default(120),
        powerOffS: z.number().nonnegative().default(30),
        transitionPowerShare: z.number().min(0).max(2).default(1),
      })
      .strict()
      .default({ pue: 1, powerOnS: 120, powerOffS: 30, transitionPowerShare: 1 }),
    migration: z
      .discriminatedUnion('type', [
        z
          .object({
            type: z.literal('ram-bandwidth'),
            bandwidthShare: z.number().positive().max(1).default(0.5),
          })
          .strict(),
        z
          .object({
            type: z.literal('precopy-model'),
            bandwidthShare: z.number().positive().max(1).default(0.5),
            /** Dirty rate of a VM at 100 % CPU, MiB/s (scaled by its utilization). */
            maxDirtyMiBps: z.number().nonnegative().default(100),
            downtimeTargetMs: z.number().positive().default(300),
          })
          .strict(),
      ])
      .default({ type: 'ram-bandwidth', bandwidthShare: 0.5 }),
    historyLength: z.number().int().min(10).max(255).default(30),
    /** Memory workload and host memory physics (docs/simulator.md, "Memory"); absent: not modelled. */
    memory: memorySpecSchema.optional(),
  })
  .strict();

export type ScenarioSpec = z.infer<typeof scenarioSchema>;

/** A scenario that failed validation; the message names each bad field and what is accepted. */
export class ScenarioError extends Error {
  readonly code = 'BAD_SCENARIO';
}

/**
 * Validate unknown data as a scenario.
 * @throws ScenarioError listing every problem as `path: message`
 */
export function parseScenario(data: unknown, source = 'scenario'): ScenarioSpec {
  const r = scenarioSchema.safeParse(data);
  if (!r.success) {
    const lines = r.error.issues.map(
      (i) => `${source}: ${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`,
    );
    throw new ScenarioError(lines.join('\n'));
  }
  const s = r.data;
  for (const [i, ht] of s.hostTypes.entries()) {
    const errs = checkPowerModel(resolvePowerModel(ht.power));
    if (errs.length) throw new ScenarioError(`${source}: hostTypes.${i}.power: ${errs.join('; ')}`);
  }
  if (s.mode === 'default' && s.power.powerOnS >= s.stepS) {
    throw new ScenarioError(
      `${source}: power.powerOnS (${s.power.powerOnS}) must be shorter than stepS (${s.stepS})`,
    );
  }
  return s;
}

export function resolvePowerModel(p: string | PowerModelSpec): PowerModelSpec {
  return typeof p === 'string' ? POWER_MODELS[p]! : p;
}

/** The reference study: 800 HP ProLiant hosts (G4/G5 alternating), four EC2-like VM types. */
export const PLANETLAB_SCENARIO: ScenarioSpec = parseScenario(
  {
    name: 'planetlab',
    mode: 'default',
    hostTypes: [
      {
        name: 'hp-ml110-g4',
        count: 400,
        pes: 2,
        mipsPerPe: 1860,
        ramMiB: 4096,
        bandwidthMbps: 1000,
        power: 'hp-proliant-ml110-g4',
      },
      {
        name: 'hp-ml110-g5',
        count: 400,
        pes: 2,
        mipsPerPe: 2660,
        ramMiB: 4096,
        bandwidthMbps: 1000,
        power: 'hp-proliant-ml110-g5',
      },
    ],
    hostLayout: 'interleave',
    vmTypes: [
      { name: 'high-cpu-medium', mips: 2500, ramMiB: 870, bandwidthMbps: 100 },
      { name: 'extra-large', mips: 2000, ramMiB: 1740, bandwidthMbps: 100 },
      { name: 'small', mips: 1000, ramMiB: 1740, bandwidthMbps: 100 },
      { name: 'micro', mips: 500, ramMiB: 613, bandwidthMbps: 100 },
    ],
    vmAssignment: 'blocks',
    workload: { type: 'planetlab' },
    policies: ['thr-mmt:0.8', 'iqr-mmt:1.5', 'mad-mmt:2.5', 'lr-mmt:1.2', 'lrr-mmt:1.2'],
  },
  'preset planetlab',
);

/** The reference data center with seeded synthetic traces instead of PlanetLab files (no data needed). */
export const SYNTHETIC_SCENARIO: ScenarioSpec = parseScenario(
  {
    ...PLANETLAB_SCENARIO,
    name: 'synthetic',
    workload: { type: 'synthetic', vms: 1052 },
    policies: ['npa', 'dvfs', 'thr-mmt:0.8', 'mad-mmt:2.5', 'lr-mmt:1.2'],
  },
  'preset synthetic',
);

/** A large synthetic data center: 20,000 hosts and 40,000 VMs. */
export const SYNTHETIC_LARGE_SCENARIO: ScenarioSpec = parseScenario(
  {
    ...SYNTHETIC_SCENARIO,
    name: 'synthetic-large',
    hostTypes: PLANETLAB_SCENARIO.hostTypes.map((t) => ({ ...t, count: 10000 })),
    workload: { type: 'synthetic', vms: 40000 },
    policies: ['lr-mmt:1.2'],
  },
  'preset synthetic-large',
);

export const SCENARIO_PRESETS: Readonly<Record<string, ScenarioSpec>> = {
  planetlab: PLANETLAB_SCENARIO,
  synthetic: SYNTHETIC_SCENARIO,
  'synthetic-large': SYNTHETIC_LARGE_SCENARIO,
};
