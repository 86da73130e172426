/**
 * A `fetch` for an agent talking to its control plane over HTTPS with a pinned CA: only
 * certificates from that CA are trusted (not the system's), plain HTTP is refused (the host
 * credential would cross the network in clear), and the agent may present a client certificate
 * when the control plane requires mutual TLS. Built on the agent request of the control plane's
 * side (node:https), since the global fetch cannot take a CA without undici.
 */
import { agentRequest, type AgentTls } from '../drivers/agent/agent-request.ts';

/** Statuses whose answer has no body (a `Response` refuses one). */
const NO_BODY = new Set([101, 204, 205, 304]);

/**
 * The `fetch` of `NubisClient` for a control plane reached with TLS settings `tls`.
 * @example new NubisClient({ baseUrl: 'https://cp:8443', fetch: pinnedFetch({ ca: readFileSync('ca.pem', 'utf8') }) })
 */
export function pinnedFetch(tls: AgentTls): typeof fetch {
  return async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const headers: Record<string, string> = {};
    new Headers(init?.headers).forEach((v, k) => (headers[k] = v));
    const body = typeof init?.body === 'string' ? init.body : undefined;
    const r = await agentRequest(url, { method: init?.method ?? 'GET', headers, body }, tls);
    return new Response(NO_BODY.has(r.status) ? null : r.text, {
      status: r.status,
      headers: {
        'content-type': r.text.startsWith('{') || r.text.startsWith('[') ? 'application/json' : 'text/plain',
      },
    });
  };
}
