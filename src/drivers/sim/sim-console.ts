/**
 * The serial console of a simulated guest: a boot log written from its spec, ending like the tiny
 * guest's with `nubis-ready` (it never names the host: members may not learn it), and an
 * interactive console that is a tiny shell: it echoes what is typed and answers `echo TEXT`,
 * `hostname` and `uname`; the session's output is appended to the log.
 */
import {
  consoleTailBytes,
  type ConsoleLog,
  type ConsoleLogOptions,
  type ConsoleStream,
} from '../../core/console.ts';
import type { GuestSpec } from '../../core/hypervisor.ts';

const PROMPT = '/ # ';
const enc = new TextEncoder();

/** The boot log of a simulated guest. */
export function simBootLog(spec: GuestSpec): string {
  return [
    `SeaBIOS (simulated) booting guest ${spec.id}`,
    `[    0.000000] Linux version 6.1.0-nubis-sim (simulated kernel)`,
    `[    0.000000] Command line: console=ttyS0 quiet panic=-1`,
    `[    0.010000] Memory: ${spec.memoryMiB} MiB, ${spec.vcpus} CPU(s)`,
    `[    0.200000] Serial: 8250/16550 driver, 1 ports: ttyS0 at I/O 0x3f8`,
    `nubis-ready MemTotal: ${spec.memoryMiB * 1024} kB`,
    '',
  ].join('\r\n');
}

/** What the tiny shell answers to one command line. */
function answer(line: string, id: string): string {
  const [cmd = '', ...args] = line.trim().split(/\s+/);
  if (cmd === '') return '';
  if (cmd === 'echo') return args.join(' ') + '\r\n';
  if (cmd === 'hostname') return id + '\r\n';
  if (cmd === 'uname') return 'Linux\r\n';
  return `sh: ${cmd}: not found (simulated console)\r\n`;
}

/** Consoles of the simulated guests of one simulated hypervisor: the session transcripts. */
export class SimConsoles {
  private readonly transcripts = new Map<string, string>();

  /** The end of a guest's console log (its boot log, then what its console sessions showed). */
  log(spec: GuestSpec, options: ConsoleLogOptions = {}): ConsoleLog {
    const all = enc.encode(simBootLog(spec) + (this.transcripts.get(spec.id) ?? ''));
    const n = Math.min(all.length, consoleTailBytes(options));
    return {
      text: new TextDecoder().decode(all.subarray(all.length - n)),
      sizeBytes: all.length,
      truncated: n < all.length,
    };
  }

  /** Forget a deleted guest's transcript. */
  forget(id: string): void {
    this.transcripts.delete(id);
  }

  /** An interactive session on a guest's console (a prompt first). */
  open(id: string): ConsoleStream {
    let onData: ((d: Uint8Array) => void) | undefined;
    let onClose: (r?: string) => void = () => {};
    let closed = false;
    let line = '';
    /** Output written before a listener is there (the first prompt), delivered when one comes. */
    let pending = '';
    /** Hand output to the listener after the caller's current turn, as bytes from a real port would be. */
    const deliver = (s: string) => {
      const fn = onData;
      if (!s) return;
      if (!fn) pending += s;
      else
        queueMicrotask(() => {
          if (!closed) fn(enc.encode(s));
        });
    };
    const out = (s: string) => {
      this.transcripts.set(id, (this.transcripts.get(id) ?? '') + s);
      deliver(s);
    };
    out(PROMPT);
    return {
      write: (data) => {
        if (closed) return;
        const s = typeof data === 'string' ? data : new TextDecoder().decode(data);
        for (const ch of s) {
          if (ch === '\r' || ch === '\n') {
            out('\r\n' + answer(line, id) + PROMPT);
            line = '';
          } else if (ch === '\x7f' || ch === '\b') {
            if (line) {
              line = line.slice(0, -1);
              out('\b \b');
            }
          } else {
            line += ch;
            out(ch);
          }
        }
      },
      onData: (fn) => {
        onData = fn;
        const first = pending;
        pending = '';
        deliver(first);
      },
      onClose: (fn) => {
        onClose = fn;
      },
      close: () => {
        if (closed) return;
        closed = true;
        onClose('closed');
      },
    };
  }
}
