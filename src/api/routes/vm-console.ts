/**
 * A VM's serial console: GET /v1/vms/:id/console?tail=N (the log's last N bytes, at most 1 MiB) and
 * POST /v1/vms/:id/console/tickets (a one-time ticket for the WebSocket GET
 * /v1/vms/:id/console/ws?ticket=T, served by `console-ws.ts`).
 */
import { z } from 'zod';
import { CONSOLE_LOG_MAX_BYTES } from '../../core/console.ts';
import type { RouteModule } from '../route-def.ts';
import { idParam } from '../schemas.ts';

/** The console routes of the table. */
export const vmConsoleRoutes: RouteModule = (route, { cp }) => {
  route({
    method: 'GET',
    url: '/v1/vms/:id/console',
    summary: `The end of a VM's serial console log (tail: bytes, 1..${CONSOLE_LOG_MAX_BYTES}, default 65536); its tenant and admins`,
    tag: 'vms',
    params: idParam,
    query: z.object({ tail: z.coerce.number().int().min(1).max(CONSOLE_LOG_MAX_BYTES).optional() }).strict(),
    handler: async ({ p, params, query }) => cp.console.consoleLog(p, params.id, query.tail),
  });
  route({
    method: 'POST',
    url: '/v1/vms/:id/console/tickets',
    summary:
      'A one-time ticket (30 s) that opens the interactive console: GET /v1/vms/:id/console/ws?ticket=T as a WebSocket',
    tag: 'vms',
    status: 201,
    params: idParam,
    handler: async ({ p, params }) => cp.console.createTicket(p, params.id),
  });
};
