/**
 * A QEMU guest's serial console on the host: the tail of STATE/guests/ID/serial.log (QEMU's chardev
 * log) and an interactive stream over STATE/guests/ID/console.sock (the chardev's Unix socket).
 * QEMU's socket chardev serves one client at a time, so a new session ends the previous one.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import {
  consoleTailBytes,
  type ConsoleLog,
  type ConsoleLogOptions,
  type ConsoleStream,
} from '../../core/console.ts';
import { DriverError } from '../../core/hypervisor.ts';

/**
 * The end of a guest's serial log (`dir` is the guest's folder). An existing guest that has not
 * written anything yet has an empty log.
 */
export function readConsoleLog(dir: string, options: ConsoleLogOptions = {}): ConsoleLog {
  const tail = consoleTailBytes(options);
  let fd: number;
  try {
    fd = openSync(join(dir, 'serial.log'), 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { text: '', sizeBytes: 0, truncated: false };
    throw e;
  }
  try {
    const size = fstatSync(fd).size;
    const n = Math.min(size, tail);
    const buf = Buffer.alloc(n);
    let got = 0;
    while (got < n) {
      const r = readSync(fd, buf, got, n - got, size - n + got);
      if (r === 0) break;
      got += r;
    }
    return { text: buf.subarray(0, got).toString('utf8'), sizeBytes: size, truncated: n < size };
  } finally {
    closeSync(fd);
  }
}

/** The session each guest's console socket serves (one at a time). */
const sessions = new Map<string, Socket>();

/**
 * Open a guest's serial port interactively through its chardev socket (`dir` is the guest's
 * folder); a session already open on it is closed ("taken over by another session").
 * @throws DriverError INVALID_STATE when the socket does not answer (the guest is not running)
 */
export function openSerialConsole(id: string, dir: string): Promise<ConsoleStream> {
  const path = join(dir, 'console.sock');
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    sock.once('error', (e) =>
      reject(
        new DriverError(
          'INVALID_STATE',
          `The console of guest "${id}" is not reachable: is it running? (${(e as NodeJS.ErrnoException).code ?? e.message})`,
          id,
        ),
      ),
    );
    sock.once('connect', () => {
      sessions.get(path)?.destroy(new Error('taken over by another console session'));
      sessions.set(path, sock);
      let closed = false;
      let reason: string | undefined;
      let onClose: (r?: string) => void = () => {};
      sock.removeAllListeners('error');
      sock.on('error', (e) => {
        reason = e.message;
      });
      sock.on('close', () => {
        if (sessions.get(path) === sock) sessions.delete(path);
        if (closed) return;
        closed = true;
        onClose(reason ?? 'the guest closed its console');
      });
      resolve({
        write: (data) => {
          if (!closed) sock.write(data);
        },
        onData: (fn) => sock.on('data', (d: Buffer) => fn(new Uint8Array(d))),
        onClose: (fn) => {
          onClose = fn;
        },
        close: () => {
          reason ??= 'closed';
          sock.destroy();
        },
      });
    });
  });
}
