/**
 * One HTTP(S) request to an agent, with node:http/node:https so that HTTPS can pin a CA and present a
 * client certificate (mutual TLS); the global fetch cannot take a CA without undici.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** TLS settings for agents: the CA that signed their certificates (PEM), and an optional client certificate. */
export interface AgentTls {
  /** PEM of the CA agent certificates must chain to (the only CA trusted). */
  ca: string;
  /** PEM client certificate and key presented to agents that require mutual TLS. */
  cert?: string;
  key?: string;
}

/** Largest answer read from an agent (16 MiB): a hostile agent cannot fill the control plane's memory. */
const MAX_BODY = 16 << 20;

/**
 * Send a request and read the whole answer. Rejects on network errors, TLS errors (certificate not
 * from the pinned CA) and answers over 16 MiB.
 */
export function agentRequest(
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
  tls?: AgentTls,
): Promise<{ status: number; ok: boolean; text: string }> {
  const u = new URL(url);
  if (u.protocol === 'http:' && tls)
    return Promise.reject(
      new Error(`TLS is configured for agents, refusing to send a credential to ${u.origin} over plain HTTP`),
    );
  return new Promise((resolve, reject) => {
    const opts = {
      method: init.method,
      headers:
        init.body !== undefined
          ? { ...init.headers, 'content-length': Buffer.byteLength(init.body) }
          : init.headers,
      ...(u.protocol === 'https:' && tls ? { ca: tls.ca, cert: tls.cert, key: tls.key } : {}),
    };
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, opts, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) req.destroy(new Error(`answer larger than ${MAX_BODY} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        resolve({ status, ok: status >= 200 && status < 300, text: Buffer.concat(chunks).toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (init.body !== undefined) req.write(init.body);
    req.end();
  });
}
