/**
 * `nubis vm console VM -i`: the interactive serial console on this terminal. The terminal is put in
 * raw mode (keys go to the guest as typed); Ctrl-] ends the session (as telnet's escape). Without a
 * terminal, standard input is sent as it comes and the session ends with it.
 */
import WebSocket from 'ws';

/** Ctrl-]: ends the session. */
const ESCAPE = 0x1d;

/**
 * Relay stdin and stdout to the console WebSocket at `url` (a ticket's URL) until either side ends.
 * Resolves with a message for stderr when the server closed the session, or undefined.
 */
export function runConsoleSession(url: string): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    const stdin = process.stdin;
    const tty = stdin.isTTY === true;
    let ended = false;
    const end = (why?: string) => {
      if (ended) return;
      ended = true;
      stdin.removeAllListeners('data');
      if (tty) {
        stdin.setRawMode(false);
        stdin.pause();
      } else stdin.destroy(); // a paused pipe would keep the process alive
      if (ws.readyState === ws.OPEN) ws.close(1000, 'closed');
      resolve(why);
    };
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let msg = `the server answered ${res.statusCode}`;
        try {
          msg = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { message?: string }).message ?? msg;
        } catch {
          /* not JSON */
        }
        reject(new Error(msg));
      });
    });
    ws.once('error', (e) => (ended ? undefined : reject(e)));
    ws.once('open', () => {
      if (tty) {
        stdin.setRawMode(true);
        process.stderr.write('[connected to the serial console; Ctrl-] ends]\r\n');
      }
      stdin.on('data', (d: Buffer) => {
        const i = d.indexOf(ESCAPE);
        if (i >= 0) {
          if (i > 0) ws.send(d.subarray(0, i), { binary: true });
          return end();
        }
        ws.send(d, { binary: true });
      });
      stdin.once('end', () => end());
      stdin.resume();
    });
    ws.on('message', (d: Buffer) => process.stdout.write(d));
    ws.once('close', (_code, reason) =>
      end(reason.length ? `console closed: ${reason.toString('utf8')}` : undefined),
    );
  });
}
