/**
 * A VM's serial console in a terminal (xterm.js): the end of its log, followed every 2 s, and, for
 * those who may act on the VM, "connect" opens the interactive console: a one-time ticket from the
 * API, then a WebSocket whose bytes go both ways between the terminal and the guest's serial port.
 */
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { useEffect, useRef, useState } from 'react';
import { client } from '../api.ts';

const enc = new TextEncoder();

export function SerialConsole({ vmId, interactive }: { vmId: string; interactive: boolean }) {
  const box = useRef<HTMLDivElement>(null);
  const term = useRef<Terminal | null>(null);
  const ws = useRef<WebSocket | null>(null);
  const [status, setStatus] = useState<'log' | 'connecting' | 'connected'>('log');
  const [note, setNote] = useState<string>();

  // The terminal, filled with the log and following it (until the interactive console takes over).
  useEffect(() => {
    const t = new Terminal({ rows: 24, cols: 100, scrollback: 5000, fontSize: 13, disableStdin: true });
    term.current = t;
    t.open(box.current!);
    let size = -1;
    let stopped = false;
    const poll = async () => {
      if (stopped || ws.current) return;
      try {
        const log = await client.vms.consoleLog(vmId, size < 0 ? 65536 : 1 << 20);
        if (stopped || ws.current) return;
        const bytes = enc.encode(log.text);
        // First read: the tail; then only what grew since the last read.
        t.write(size < 0 ? bytes : bytes.subarray(Math.max(0, bytes.length - (log.sizeBytes - size))));
        size = log.sizeBytes;
        setNote(undefined);
      } catch (e) {
        setNote((e as Error).message);
      }
    };
    void poll();
    const timer = setInterval(() => void poll(), 2000);
    return () => {
      stopped = true;
      clearInterval(timer);
      ws.current?.close();
      ws.current = null;
      t.dispose();
    };
  }, [vmId]);

  const connect = async () => {
    const t = term.current!;
    setStatus('connecting');
    setNote(undefined);
    try {
      const ticket = await client.vms.consoleTicket(vmId);
      const s = new WebSocket(client.vms.consoleUrl(ticket, window.location.origin));
      s.binaryType = 'arraybuffer';
      ws.current = s;
      const typed = t.onData((d) => {
        if (s.readyState === WebSocket.OPEN) s.send(enc.encode(d));
      });
      s.onopen = () => {
        setStatus('connected');
        t.options.disableStdin = false;
        t.write('\r\n\x1b[2m[connected to the serial console]\x1b[0m\r\n');
        t.focus();
        s.send(enc.encode('\r'));
      };
      s.onmessage = (m) => t.write(new Uint8Array(m.data as ArrayBuffer));
      s.onclose = (c) => {
        typed.dispose();
        t.options.disableStdin = true;
        if (ws.current === s) ws.current = null;
        setStatus('log');
        setNote(`console closed${c.reason ? `: ${c.reason}` : c.code === 1006 ? ' (refused or lost)' : ''}`);
      };
    } catch (e) {
      setStatus('log');
      setNote((e as Error).message);
    }
  };

  return (
    <div className="card" data-testid="serial-console">
      <h3>
        Serial console{' '}
        <span className="muted" data-testid="console-status">
          {status === 'log' ? 'log (follows)' : status}
        </span>
        {interactive && status === 'log' && (
          <button onClick={() => void connect()} data-testid="console-connect">
            connect
          </button>
        )}
        {status === 'connected' && (
          <button onClick={() => ws.current?.close()} data-testid="console-disconnect">
            disconnect
          </button>
        )}
      </h3>
      <div ref={box} className="terminal-box" />
      {note && (
        <p className="muted" role="status">
          {note}
        </p>
      )}
    </div>
  );
}
