/**
 * The client's transport: one `fetch` per call, the bearer token, JSON in and out, and one error
 * class for every failure. Browser-safe (fetch and URLSearchParams only, no Node modules), so the
 * dashboard, the CLI and the simulator's HTTP port share it.
 */

/** Any failed call: the server's `code` and `message` (and its other fields as `details`), or UNREACHABLE. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    /** HTTP status; 0 when the server could not be reached. */
    readonly status: number,
    /** The API's error code (NOT_FOUND, INVALID_STATE, NO_HOST_FITS, ...), UNREACHABLE or HTTP_<status>. */
    readonly code: string,
    message: string,
    /** The error answer's other fields, e.g. `rejected` (hosts and why) or `issues` (invalid fields). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** Options of a client; all optional. */
export interface ClientOptions {
  /** The control plane's URL, e.g. `http://127.0.0.1:8080`; '' (the default) is the page's own origin. */
  baseUrl?: string;
  /** The API token, or a function read before every call (a sign-in that changes). */
  token?: string | null | (() => string | null | undefined);
  /** A `fetch` to use instead of the global one (tests, instrumentation). */
  fetch?: typeof fetch;
}

/** Query values; `undefined` ones are left out. */
export type Query = Record<string, string | number | boolean | undefined>;

/** What one call sends besides its method and path. */
export interface CallOptions {
  query?: Query;
  body?: unknown;
  /** Sent as the Idempotency-Key header: a retry with the same key returns the first answer. */
  idempotencyKey?: string;
  /** Return the answer as text (CSV) instead of parsing JSON. */
  text?: boolean;
  /** Send these bytes as `application/octet-stream` (a stream is streamed, never read whole). */
  raw?: Blob | Uint8Array | ReadableStream<Uint8Array>;
  /** Resolve with the `Response` itself (its body unread: a download to stream). */
  response?: boolean;
}

/** The most rows one page of a list holds (the API's limit). */
export const PAGE_MAX = 1000;

/** What a page of a list is asked with: rows (1-1000, default 100), the previous page's cursor, fields. */
export interface PageQuery {
  limit?: number;
  cursor?: string;
  /** Comma-separated top-level fields (id always included). */
  fields?: string;
}

/** One page of a list and the cursor of the next one (absent on the last page). */
export interface ListPage<T> {
  items: T[];
  nextCursor?: string;
}

/** Options of the calls that create or act (they accept an Idempotency-Key). */
export interface WriteOptions {
  idempotencyKey?: string;
}

/** Encodes one path segment (an id or a name); an empty one is refused before any call is made. */
export const seg = (s: string): string => {
  if (typeof s !== 'string' || s.trim() === '')
    throw new ApiError(0, 'BAD_ARGUMENT', 'An id or name is empty: give the name or id of an object');
  return encodeURIComponent(s);
};

/** Does the HTTP calls of a NubisClient. */
export class Http {
  readonly baseUrl: string;
  readonly #token: ClientOptions['token'];
  readonly #fetch: typeof fetch;

  constructor(o: ClientOptions = {}) {
    this.baseUrl = (o.baseUrl ?? '').replace(/\/+$/, '');
    this.#token = o.token;
    this.#fetch = o.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /**
   * One call. Resolves with the parsed JSON answer (or text with `text`, or undefined when empty).
   * @throws ApiError for any non-2xx answer and when the server cannot be reached.
   */
  async call<T>(method: string, path: string, o: CallOptions = {}): Promise<T> {
    const token = typeof this.#token === 'function' ? this.#token() : this.#token;
    const q = Object.entries(o.query ?? {}).filter(([, v]) => v !== undefined && v !== '');
    const url =
      this.baseUrl + path + (q.length ? `?${new URLSearchParams(q.map(([k, v]) => [k, String(v)]))}` : '');
    let res: Response;
    try {
      res = await this.#fetch(url, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(o.raw !== undefined ? { 'content-type': 'application/octet-stream' } : {}),
          ...(o.idempotencyKey !== undefined ? { 'idempotency-key': o.idempotencyKey } : {}),
        },
        body: o.raw !== undefined ? o.raw : o.body === undefined ? undefined : JSON.stringify(o.body),
        // A streamed request body needs half-duplex (fetch's rule for ReadableStream bodies).
        ...(o.raw instanceof ReadableStream ? { duplex: 'half' } : {}),
      } as RequestInit);
    } catch (e) {
      throw new ApiError(
        0,
        'UNREACHABLE',
        `Cannot reach the control plane at ${this.baseUrl || 'this origin'}: ${(e as Error).message}`,
      );
    }
    if (o.response && res.ok) return res as T;
    const text = await res.text();
    const isJson = (res.headers.get('content-type') ?? '').includes('json');
    let data: unknown = text || undefined;
    if (text && isJson && !(o.text && res.ok)) {
      try {
        data = JSON.parse(text);
      } catch {
        data = text;
      }
    }
    if (!res.ok) {
      const { code, message, ...details } =
        data && typeof data === 'object'
          ? (data as Record<string, unknown>)
          : ({} as Record<string, unknown>);
      throw new ApiError(
        res.status,
        typeof code === 'string' ? code : `HTTP_${res.status}`,
        typeof message === 'string' ? message : `${method} ${path}: ${res.status} ${text.slice(0, 200)}`,
        details,
      );
    }
    return data as T;
  }
  /**
   * One page of a list: its rows and the cursor of the next page (the `X-Next-Cursor` header),
   * absent on the last page.
   */
  async page<T>(path: string, query: Query = {}): Promise<ListPage<T>> {
    const res = await this.call<Response>('GET', path, { query, response: true });
    const items = (await res.json()) as T[];
    const next = res.headers.get('x-next-cursor');
    return next ? { items, nextCursor: next } : { items };
  }
  /**
   * Every row of a list, following the pages (1,000 rows a request), or the first `max` rows.
   * Rows inserted while it walks may or may not appear; none appears twice.
   */
  async all<T>(path: string, query: Query = {}, max = Infinity): Promise<T[]> {
    const out: T[] = [];
    let cursor: string | undefined;
    do {
      const limit = Math.min(PAGE_MAX, max - out.length);
      const p = await this.page<T>(path, { ...query, limit, cursor });
      out.push(...p.items);
      cursor = p.nextCursor;
    } while (cursor && out.length < max);
    return out;
  }
  get<T>(path: string, query?: Query): Promise<T> {
    return this.call<T>('GET', path, { query });
  }
  post<T>(path: string, body?: unknown, w: WriteOptions = {}): Promise<T> {
    return this.call<T>('POST', path, { body, idempotencyKey: w.idempotencyKey });
  }
  put<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('PUT', path, { body });
  }
  patch<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('PATCH', path, { body });
  }
  delete<T>(path: string, w: WriteOptions = {}): Promise<T> {
    return this.call<T>('DELETE', path, { idempotencyKey: w.idempotencyKey });
  }
}
