/**
 * Operations scenarios: a data center run by the control plane's own automation (audits, plans,
 * power management, HA) under a workload trace and injected host failures. Validated once at the
 * edge (zod), like the consolidation scenarios.
 */
import { z } from 'zod';
import { POWER_MODELS } from '../models/power.ts';
import { ScenarioError } from './scenario.ts';

const power = z.union([
  z.string().refine((s) => s in POWER_MODELS, {
    message: `unknown power model; accepted: ${Object.keys(POWER_MODELS).join(', ')} or {type: linear, idleW, maxW} or {type: specpower, wattsAt: [11 numbers]}`,
  }),
  z
    .object({ type: z.literal('linear'), idleW: z.number().nonnegative(), maxW: z.number().positive() })
    .strict(),
  z
    .object({
      type: z.literal('specpower'),
      name: z.string().optional(),
      wattsAt: z.array(z.number().nonnegative()).length(11),
    })
    .strict(),
]);

export const opsScenarioSchema = z
  .object({
    name: z.string().min(1),
    seed: z.number().int().default(1),
    /** Seconds between metric reports (and trace samples). */
    stepS: z.number().int().positive().default(300),
    durationS: z.number().positive().default(86400),
    hosts: z
      .array(
        z
          .object({
            count: z.number().int().positive(),
            vcpus: z.number().int().positive(),
            memoryMiB: z.number().int().positive(),
            cpuRatio: z.number().positive().default(2),
            zone: z.string().min(1).default('zone-1'),
            power: power.default({ type: 'linear', idleW: 100, maxW: 250 }),
          })
          .strict(),
      )
      .min(1),
    flavors: z
      .array(
        z
          .object({
            name: z.string().min(1),
            vcpus: z.number().int().positive(),
            memoryMiB: z.number().int().positive(),
          })
          .strict(),
      )
      .min(1)
      .default([
        { name: 'small', vcpus: 1, memoryMiB: 2048 },
        { name: 'medium', vcpus: 2, memoryMiB: 4096 },
        { name: 'large', vcpus: 4, memoryMiB: 8192 },
      ]),
    workload: z.discriminatedUnion('type', [
      z
        .object({
          type: z.literal('planetlab'),
          path: z.string(),
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
      /** Every VM at the same load, changing at given times (a load step, for what-ifs and tests). */
      z
        .object({
          type: z.literal('steps'),
          vms: z.number().int().positive(),
          steps: z
            .array(z.object({ atS: z.number().nonnegative(), percent: z.number().min(0).max(100) }).strict())
            .min(1),
        })
        .strict(),
    ]),
    /** Share of VMs created with HA (restarted elsewhere when their host fails), by VM index. */
    haShare: z.number().min(0).max(1).default(0.25),
    automation: z
      .object({
        level: z.enum(['manual', 'partial', 'full']).default('full'),
        policy: z.string().default('lr-mmt:1.2'),
        intervalS: z.number().int().positive().default(300),
        spareHosts: z.number().int().nonnegative().default(1),
        powerOffGraceS: z.number().nonnegative().default(600),
        maxMigrationsPerHost: z.number().int().positive().default(2),
        maxMigrationsPerCluster: z.number().int().positive().default(8),
      })
      .strict()
      .default({
        level: 'full',
        policy: 'lr-mmt:1.2',
        intervalS: 300,
        spareHosts: 1,
        powerOffGraceS: 600,
        maxMigrationsPerHost: 2,
        maxMigrationsPerCluster: 8,
      }),
    /** Simulated hosts take this long to switch on (drawing peak power meanwhile); plans that switch one on wait for it. */
    power: z
      .object({ bootS: z.number().nonnegative().default(0) })
      .strict()
      .default({ bootS: 0 }),
    /** Host failures: exponential times to failure (MTBF) and to repair (MTTR), seeded. */
    failures: z
      .object({
        mtbfHours: z.number().positive().optional(),
        mttrHours: z.number().positive().optional(),
        /** Failures at given times: host by index (1-based, in name order), down for downS. */
        events: z
          .array(
            z
              .object({
                host: z.number().int().positive(),
                atS: z.number().nonnegative(),
                downS: z.number().positive(),
              })
              .strict(),
          )
          .optional(),
      })
      .strict()
      .refine(
        (f) => (f.mtbfHours === undefined) === (f.mttrHours === undefined),
        'give both mtbfHours and mttrHours, or neither',
      )
      .optional(),
  })
  .strict();

export type OpsScenario = z.infer<typeof opsScenarioSchema>;

export function parseOpsScenario(data: unknown, where = 'scenario'): OpsScenario {
  const r = opsScenarioSchema.safeParse(data);
  if (!r.success)
    throw new ScenarioError(
      `${where}: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  return r.data;
}

/** Built-in: a small day that consolidates, loses a host and gets it back. */
export const OPS_PRESETS: Record<string, OpsScenario> = {
  'ops-demo': parseOpsScenario({
    name: 'ops-demo',
    hosts: [{ count: 12, vcpus: 16, memoryMiB: 65536 }],
    workload: { type: 'synthetic', vms: 60, seed: 7, medianPercent: 20 },
    power: { bootS: 120 },
    failures: { mtbfHours: 100, mttrHours: 2 },
  }),
};
