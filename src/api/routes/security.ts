/** The security event log (admins). */
import { z } from 'zod';
import { listSecurityEvents, SECURITY_EVENT_KINDS } from '../../control/security/security-log.ts';
import type { RouteModule } from '../route-def.ts';

/** GET /v1/security-events. */
export const securityRoutes: RouteModule = (route, { cp }) => {
  route({
    method: 'GET',
    url: '/v1/security-events',
    summary:
      'The security event log: failed logins, denied actions, tokens created, revoked or used from a new address, enrollments (admin)',
    tag: 'security',
    query: z
      .object({
        after: z.coerce.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional(),
        kind: z.enum(SECURITY_EVENT_KINDS).optional(),
        limit: z.coerce.number().int().positive().max(10000).optional(),
      })
      .strict(),
    handler: async ({ p, query }) => listSecurityEvents(cp.ctx, p, query),
  });
};
