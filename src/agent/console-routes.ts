/**
 * The agent's console routes: the tail of a guest's serial log (GET /v1/guests/:id/console?tail=N)
 * and the interactive serial port as a WebSocket (GET /v1/guests/:id/console/ws, upgraded), which
 * the control plane opens with this host's credential and relays to its user. Binary frames carry
 * the bytes both ways; text frames from the client are sent as UTF-8.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { WebSocketServer, type WebSocket } from 'ws';
import { CONSOLE_LOG_MAX_BYTES, type ConsoleStream } from '../core/console.ts';
import { DriverError, GuestState } from '../core/hypervisor.ts';
import type { QemuDriver } from '../drivers/qemu/qemu-driver.ts';
import { checkGuestId } from '../drivers/qemu/host-paths.ts';
import { openSerialConsole, readConsoleLog } from '../drivers/qemu/serial-console.ts';

const WS_PATH = /^\/v1\/guests\/([^/?]+)\/console\/ws(?:\?.*)?$/;

/** Answer an upgrade request with an HTTP error and end the connection. */
function refuse(socket: Duplex, status: number, code: string, message: string): void {
  const body = JSON.stringify({ code, message });
  socket.end(
    `HTTP/1.1 ${status} ${code}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Relay bytes between a WebSocket and a console stream until either ends. */
export function bridgeConsole(ws: WebSocket, con: ConsoleStream): void {
  con.onData((d) => {
    if (ws.readyState === ws.OPEN) ws.send(d, { binary: true });
  });
  con.onClose((reason) => {
    if (ws.readyState === ws.OPEN) ws.close(1000, (reason ?? 'console closed').slice(0, 120));
  });
  ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
    con.write(Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data));
  });
  ws.on('close', () => con.close());
  ws.on('error', () => con.close());
}

/**
 * Register the console routes on the agent's server. `authorized(header)` checks the request's
 * Authorization header (the agent's bearer token), also on WebSocket upgrades.
 */
export function registerConsoleRoutes(
  app: FastifyInstance,
  d: QemuDriver,
  authorized: (authorization: string | undefined) => boolean,
): void {
  app.get<{ Params: { id: string }; Querystring: { tail?: string } }>(
    '/v1/guests/:id/console',
    async (req) => {
      const id = req.params.id;
      const tail = req.query.tail === undefined ? undefined : Number(req.query.tail);
      if (tail !== undefined && !(Number.isInteger(tail) && tail >= 1 && tail <= CONSOLE_LOG_MAX_BYTES))
        throw new DriverError(
          'BAD_SPEC',
          `tail must be a whole number of bytes in 1..${CONSOLE_LOG_MAX_BYTES}`,
          id,
        );
      if (!(await d.get(id))) throw new DriverError('NOT_FOUND', `No guest "${id}"`, id);
      return readConsoleLog(d.dir(id), { tailBytes: tail });
    },
  );

  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 << 10 });
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const m = WS_PATH.exec(req.url ?? '');
    if (!m) return refuse(socket, 404, 'NOT_FOUND', 'No WebSocket route here');
    if (!authorized(req.headers.authorization))
      return refuse(
        socket,
        401,
        'UNAUTHENTICATED',
        'A valid "Authorization: Bearer <token>" header is required',
      );
    const id = decodeURIComponent(m[1]!);
    void (async () => {
      checkGuestId(id);
      const g = await d.get(id);
      if (!g) throw new DriverError('NOT_FOUND', `No guest "${id}"`, id);
      if (g.state !== GuestState.running && g.state !== GuestState.paused)
        throw new DriverError('INVALID_STATE', `Guest "${id}" is ${g.state}: its console is closed`, id);
      return openSerialConsole(id, d.dir(id));
    })().then(
      (con) => wss.handleUpgrade(req, socket, head, (ws) => bridgeConsole(ws, con)),
      (e: unknown) => {
        if (e instanceof DriverError) {
          const status = {
            NOT_FOUND: 404,
            ALREADY_EXISTS: 409,
            INVALID_STATE: 409,
            BAD_SPEC: 400,
            BACKEND: 502,
          }[e.code];
          return refuse(socket, status, e.code, e.message);
        }
        refuse(socket, 500, 'INTERNAL', 'Internal error; see the agent log');
      },
    );
  });
}
