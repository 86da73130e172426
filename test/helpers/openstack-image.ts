/** Helpers for the Glance tests: an OpenStack caller with X-Auth-Token, and raw disk bytes. */
import type { controlPlane } from './control.ts';

/** A raw disk of `n` bytes (random-looking, not text), like Tempest's `random_bytes`. */
export const imageBytes = (n = 1024, seed = 7) => {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    b[i] = x >> 16;
  }
  b[0] = 0xeb; // not printable: qemu-img's raw, and not text
  return b;
};

/** An OpenStack caller for a control plane: `os(token, method, path, body, headers)`. */
export function glanceCaller(t: Awaited<ReturnType<typeof controlPlane>>) {
  return async (
    token: string | undefined,
    method: string,
    url: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const r = await t.app.inject({
      method: method as 'GET',
      url: `/openstack/image${url}`,
      headers: { ...(token ? { 'x-auth-token': token } : {}), ...headers },
      ...(body !== undefined ? { payload: Buffer.isBuffer(body) ? body : JSON.stringify(body) } : {}),
    });
    const json = String(r.headers['content-type'] ?? '').includes('json');
    return {
      status: r.statusCode,
      headers: r.headers,
      raw: r.rawPayload,
      body: r.body && json ? JSON.parse(r.body) : undefined,
    };
  };
}
