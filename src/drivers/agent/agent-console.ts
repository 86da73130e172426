/**
 * The client side of an agent's interactive console: a WebSocket to
 * /v1/guests/:id/console/ws with the agent's credential (over TLS with the pinned CA when given),
 * seen as a `ConsoleStream`.
 */
import WebSocket from 'ws';
import type { ConsoleStream } from '../../core/console.ts';
import { DriverError } from '../../core/hypervisor.ts';
import type { AgentTls } from './agent-request.ts';

/** Codes an agent refuses a console with (its JSON answer to the upgrade), as driver errors. */
const CODES = ['NOT_FOUND', 'INVALID_STATE', 'BAD_SPEC'] as const;

/**
 * Open guest `id`'s console on the agent at `baseUrl`.
 * @throws DriverError NOT_FOUND / INVALID_STATE as the agent answers, BACKEND when it cannot be reached
 */
export function openAgentConsole(
  baseUrl: string,
  id: string,
  token: string | undefined,
  tls?: AgentTls,
): Promise<ConsoleStream> {
  const u = new URL(`${baseUrl.replace(/\/+$/, '')}/v1/guests/${encodeURIComponent(id)}/console/ws`);
  if (u.protocol === 'http:' && tls)
    return Promise.reject(
      new DriverError(
        'BACKEND',
        `TLS is configured for agents, refusing to send a credential to ${u.origin} over plain HTTP`,
        id,
      ),
    );
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(u, {
      headers: token ? { authorization: `Bearer ${token}` } : {},
      maxPayload: 1 << 20,
      ...(tls ? { ca: tls.ca, cert: tls.cert, key: tls.key } : {}),
    });
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let body: { code?: string; message?: string } = {};
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          /* not JSON */
        }
        const code = (CODES as readonly string[]).includes(body.code ?? '')
          ? (body.code as DriverError['code'])
          : 'BACKEND';
        reject(
          new DriverError(
            code,
            body.message ?? `agent answered ${res.statusCode} to the console upgrade`,
            id,
          ),
        );
        ws.terminate();
      });
    });
    ws.once('error', (e) =>
      reject(
        new DriverError('BACKEND', `Agent ${baseUrl} console is unreachable: ${e.message}`, id, { cause: e }),
      ),
    );
    ws.once('open', () => {
      let onClose: (r?: string) => void = () => {};
      ws.on('error', () => {});
      ws.on('close', (_code, reason) => onClose(reason.toString('utf8') || 'closed'));
      resolve({
        write: (data) => {
          if (ws.readyState === ws.OPEN)
            ws.send(typeof data === 'string' ? Buffer.from(data) : data, { binary: true });
        },
        onData: (fn) =>
          ws.on('message', (d: Buffer | ArrayBuffer | Buffer[]) =>
            fn(new Uint8Array(Buffer.isBuffer(d) ? d : Array.isArray(d) ? Buffer.concat(d) : Buffer.from(d))),
          ),
        onClose: (fn) => {
          onClose = fn;
        },
        close: () => ws.close(1000, 'closed'),
      });
    });
  });
}
