/**
 * A small typed QMP (QEMU Machine Protocol) client over a unix socket: greeting, capability
 * negotiation, commands matched to replies by id, asynchronous events, timeouts.
 * QMP reference: qemu/docs/interop/qmp-spec.rst.
 */
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';

/** An asynchronous QMP event (`STOP`, `RESUME`, `MIGRATION`, `BALLOON_CHANGE`, …). */
export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

/** QEMU answered a command with an error, or the connection failed or timed out. */
export class QmpError extends Error {
  readonly code = 'QMP_ERROR';
  constructor(
    message: string,
    readonly qmpClass?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
  command: string;
}

export class QmpClient extends EventEmitter {
  private buf = '';
  private seq = 0;
  private readonly pending = new Map<string, Pending>();
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    readonly path: string,
  ) {
    super();
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('close', () => this.failAll(new QmpError(`QMP connection to ${path} closed`)));
    socket.on('error', (e) =>
      this.failAll(new QmpError(`QMP connection to ${path} failed: ${e.message}`, undefined, { cause: e })),
    );
  }

  /**
   * Connect, read the greeting and negotiate capabilities. Retries while the socket does not exist
   * yet (QEMU still starting) until `timeoutMs`.
   * @throws QmpError when QEMU does not answer in time
   */
  static async connect(path: string, timeoutMs = 10_000): Promise<QmpClient> {
    const deadline = Date.now() + timeoutMs;
    let lastErr: unknown;
    while (Date.now() < deadline) {
      try {
        const socket = await new Promise<Socket>((resolve, reject) => {
          const s = connect(path);
          s.once('connect', () => {
            s.off('error', reject);
            resolve(s);
          });
          s.once('error', reject);
        });
        const c = new QmpClient(socket, path);
        await c.handshake(Math.max(1000, deadline - Date.now()));
        return c;
      } catch (e) {
        lastErr = e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    throw new QmpError(
      `Cannot connect to QMP at ${path} within ${timeoutMs} ms: ${(lastErr as Error)?.message ?? 'no answer'}`,
      undefined,
      { cause: lastErr },
    );
  }

  private greeting?: (v: unknown) => void;

  private async handshake(timeoutMs: number): Promise<void> {
    await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new QmpError(`No QMP greeting from ${this.path}`)), timeoutMs);
      this.greeting = (v) => {
        clearTimeout(t);
        resolve(v);
      };
    });
    await this.execute('qmp_capabilities', undefined, timeoutMs);
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (!line) continue;
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line);
      } catch {
        continue;
      }
      if ('QMP' in msg) {
        this.greeting?.(msg);
        this.greeting = undefined;
        continue;
      }
      if ('event' in msg) {
        this.emit('event', msg as unknown as QmpEvent);
        continue;
      }
      const id = typeof msg.id === 'string' ? msg.id : undefined;
      const p = id ? this.pending.get(id) : undefined;
      if (!p || !id) continue;
      this.pending.delete(id);
      clearTimeout(p.timer);
      if ('error' in msg) {
        const err = msg.error as { class?: string; desc?: string };
        p.reject(new QmpError(`QMP ${p.command} failed: ${err.desc ?? 'unknown error'}`, err.class));
      } else p.resolve(msg.return);
    }
  }

  private failAll(e: Error): void {
    this.closed = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(e);
      this.pending.delete(id);
    }
    this.emit('close');
  }

  /**
   * Run a QMP command and resolve with its `return` value.
   * @throws QmpError with QEMU's error class and description, or on timeout / closed connection
   */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs = 10_000): Promise<T> {
    if (this.closed) return Promise.reject(new QmpError(`QMP connection to ${this.path} is closed`));
    const id = `nubis-${++this.seq}`;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new QmpError(`QMP ${command} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer, command });
      this.socket.write(
        JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id }) + '\n',
      );
    });
  }

  /** Wait for an event (optionally matching `pred`). */
  waitForEvent(
    name: string,
    timeoutMs: number,
    pred: (e: QmpEvent) => boolean = () => true,
  ): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const onEvent = (e: QmpEvent) => {
        if (e.event === name && pred(e)) {
          cleanup();
          resolve(e);
        }
      };
      const onClose = () => {
        cleanup();
        reject(new QmpError(`QMP connection closed while waiting for ${name}`));
      };
      const t = setTimeout(() => {
        cleanup();
        reject(new QmpError(`No ${name} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(t);
        this.off('event', onEvent);
        this.off('close', onClose);
      };
      this.on('event', onEvent);
      this.once('close', onClose);
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
  }
}
