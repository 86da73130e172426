/** Host agents register and report through heartbeats. */
import { z } from 'zod';
import type { RouteModule } from '../route-def.ts';

/** POST /v1/agents/heartbeat. */
export const agentRoutes: RouteModule = (route, { cp }) => {
  route({
    method: 'POST',
    url: '/v1/agents/heartbeat',
    summary: 'A host agent registers and reports (operator token)',
    tag: 'hosts',
    body: z
      .object({
        agentUrl: z.string().url(),
        hostname: z.string().min(1),
        cpus: z.number().int().positive(),
        memoryMiB: z.number().positive(),
        accel: z.string().optional(),
        health: z.object({ status: z.enum(['ok', 'degraded']), reason: z.string().optional() }).optional(),
        /** The guests it runs and the CPU utilization it measured for each (0..1 per vCPU). */
        guests: z
          .array(
            z
              .object({ id: z.string().min(1).max(200), cpu: z.number().min(0).max(1000).optional() })
              .passthrough(),
          )
          .max(100_000)
          .optional(),
      })
      .passthrough(),
    handler: async ({ p, body }) => cp.heartbeat(p, { ...body, memoryMiB: Math.floor(body.memoryMiB) }),
  });
};
