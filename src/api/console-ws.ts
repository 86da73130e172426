/**
 * The interactive console's WebSocket: GET /v1/vms/:id/console/ws?ticket=T, upgraded. A browser
 * cannot send a bearer token on a WebSocket, so the caller first gets a one-time ticket (POST
 * /v1/vms/:id/console/tickets, authenticated) and presents it here; the control plane then opens
 * the console on the VM's host (through its agent) and relays bytes both ways. Binary frames carry
 * the bytes; text frames from the client are sent as UTF-8.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { WebSocketServer } from 'ws';
import type { ControlPlane } from '../control/control-plane.ts';
import { ControlError } from '../control/errors.ts';
import { redactor } from './host-privacy.ts';

const WS_PATH = /^\/v1\/vms\/([^/?]+)\/console\/ws$/;

/** Answer an upgrade with an HTTP error (the API's JSON error shape) and end the connection. */
function refuse(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ code, message });
  socket.end(
    `HTTP/1.1 ${status} ${code}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * Serve console WebSockets on the API's server. `statusOf` is the API's one table of error statuses.
 */
export function registerConsoleWebSocket(
  app: FastifyInstance,
  cp: ControlPlane,
  statusOf: (code: ControlError['code']) => number,
): void {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 << 10 });
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const m = WS_PATH.exec(u.pathname);
    if (!m) return refuse(socket, 404, 'NOT_FOUND', `No WebSocket route ${u.pathname}`);
    const ticket = u.searchParams.get('ticket') ?? '';
    let id: string;
    try {
      id = decodeURIComponent(m[1]!);
    } catch {
      return refuse(socket, 400, 'BAD_REQUEST', 'Bad VM id in the path');
    }
    cp.console.open(ticket, id, req.socket.remoteAddress).then(
      (con) =>
        wss.handleUpgrade(req, socket, head, (ws) => {
          con.onData((d) => {
            if (ws.readyState === ws.OPEN) ws.send(d, { binary: true });
          });
          con.onClose((reason) => {
            if (ws.readyState === ws.OPEN) ws.close(1000, (reason ?? 'console closed').slice(0, 120));
          });
          ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) =>
            con.write(
              Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data),
            ),
          );
          ws.on('close', () => con.close());
          ws.on('error', () => con.close());
        }),
      async (e: unknown) => {
        if (!(e instanceof ControlError)) {
          refuse(socket, 500, 'INTERNAL', 'Internal error; the server logged it');
          process.stderr.write(`nubis api: console WebSocket for VM ${id} failed: ${(e as Error).stack}\n`);
          return;
        }
        const status = statusOf(e.code);
        if (status >= 500) process.stderr.write(`nubis api: console WebSocket for VM ${id}: ${e.message}\n`);
        // The caller may be a member: no host's name, id, URL or address in the answer.
        const hosts = await cp.ctx.db
          .selectFrom('hosts')
          .select(['id', 'name'])
          .execute()
          .catch(() => []);
        refuse(socket, status, e.code, redactor(hosts)(e.message));
      },
    );
  });
}
