/**
 * Host agents: enrollment with a one-time join token, and heartbeats authenticated by the host
 * credential received at enrollment (both open to user tokens' absence: they carry their own secret).
 */
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { STORAGE_ID_PATTERN } from '../../core/storage/host-storage.ts';
import { checkMemoryProfile } from '../../core/memory/profile.ts';
import { ControlError } from '../../control/errors.ts';
import type { RouteModule } from '../route-def.ts';

/** Largest heartbeat body: a full host's guests with their page fingerprints (~100 KB each). */
export const HEARTBEAT_BODY_LIMIT = 64 << 20;

/** The bearer token of a request, if any. */
const bearer = (req: FastifyRequest) => {
  const h = req.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice(7).trim() : undefined;
};

const agentUrl = z
  .string()
  .url()
  .max(2048)
  .refine((u) => /^https?:\/\//.test(u), 'must be an http:// or https:// URL');

/** The storage pools an agent reports (they define the pools its host sees). */
const reportedPools = z
  .array(
    z
      .object({
        name: z.string().regex(STORAGE_ID_PATTERN, "1-63 letters, digits, '.', '_' or '-'"),
        kind: z.enum(['local', 'shared']),
      })
      .strict(),
  )
  .max(100)
  .optional();

/** POST /v1/hosts/join-tokens, /v1/agents/enroll, /v1/agents/heartbeat. */
export const agentRoutes: RouteModule = (route, { cp }) => {
  route({
    method: 'POST',
    url: '/v1/hosts/join-tokens',
    summary: 'Create a one-time join token that enrolls one host; shown once, kept hashed (admin)',
    tag: 'hosts',
    status: 201,
    body: z
      .object({
        name: z.string().min(1).max(100).optional(),
        expiresInS: z
          .number()
          .int()
          .positive()
          .max(7 * 86_400),
      })
      .strict(),
    handler: async ({ p, body }) => cp.enrollment.createJoinToken(p, body),
  });
  route({
    method: 'POST',
    url: '/v1/agents/enroll',
    summary:
      'An agent enrolls its host with a join token: the host is bound to agentUrl and gets a credential for itself only (no user token; the join token authenticates)',
    tag: 'hosts',
    status: 201,
    open: true,
    body: z
      .object({
        joinToken: z.string().min(1).max(200),
        hostname: z
          .string()
          .min(1)
          .max(253)
          .regex(
            /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/,
            'letters, digits, ".", "_" or "-", starting with a letter or digit',
          ),
        agentUrl,
        cpus: z.number().int().positive().max(100_000),
        memoryMiB: z
          .number()
          .positive()
          .max(2 ** 40),
        accel: z.string().max(100).optional(),
        pools: reportedPools,
        agentCredential: z.string().min(24).max(200).optional(),
      })
      .strict(),
    handler: async ({ body }) => cp.enrollment.enroll({ ...body, memoryMiB: Math.floor(body.memoryMiB) }),
  });
  route({
    method: 'POST',
    url: '/v1/agents/heartbeat',
    summary:
      'A host agent reports its host (Authorization: Bearer with the host credential from enrollment; user tokens are refused)',
    tag: 'hosts',
    open: true,
    body: z
      .object({
        agentUrl: agentUrl.optional(),
        hostname: z.string().min(1).optional(),
        cpus: z.number().int().positive().optional(),
        memoryMiB: z.number().positive().optional(),
        accel: z.string().optional(),
        health: z.object({ status: z.enum(['ok', 'degraded']), reason: z.string().optional() }).optional(),
        pools: reportedPools,
        /** The guests it runs and the CPU utilization it measured for each (0..1 per vCPU). */
        guests: z
          .array(
            z
              .object({
                id: z.string().min(1).max(200),
                cpu: z.number().min(0).max(1000).optional(),
                /** The guest's GuestMemoryProfile (src/core/memory/profile.ts), checked below. */
                memory: z.unknown().optional(),
              })
              .passthrough(),
          )
          .max(100_000)
          .optional(),
      })
      .passthrough(),
    // A guest's page fingerprint can be ~100 KB: a heartbeat of a full host is larger than other bodies.
    bodyLimit: HEARTBEAT_BODY_LIMIT,
    handler: async ({ req, body }) => {
      ((body.guests ?? []) as { memory?: unknown }[]).forEach((g, i) => {
        if (g.memory === undefined) return;
        const e = checkMemoryProfile(g.memory);
        if (e.length)
          throw new ControlError('BAD_REQUEST', `guests[${i}].memory: ${e.join('; ')}`, {
            field: `guests[${i}].memory`,
          });
      });
      return cp.heartbeat(bearer(req), body as Parameters<typeof cp.heartbeat>[1]);
    },
  });
};
