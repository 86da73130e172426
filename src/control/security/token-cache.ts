/**
 * Cached token lookups: a token's hash → its principal and expiry, kept `TOKEN_CACHE_TTL_S` seconds so
 * a burst of requests costs one lookup. A revoke, a role change, a user or tenant deleted in this
 * process empties the cache at once; in another process sharing the database (several API servers
 * on one PostgreSQL, `nubis admin` on the file) it takes effect within the TTL. Failed lookups are
 * never cached (an unknown token is logged on every try).
 */
import type { Principal } from '../principal.ts';
import type { Db } from '../store/open-store.ts';

/** How long (seconds) a cached lookup is trusted: the bound on a revoke made by another process. */
export const TOKEN_CACHE_TTL_S = 2;

/** The most tokens kept (the cache starts over when full). */
const MAX_CACHED = 10_000;

/** A valid token's lookup: its principal and expiry (ISO time, null: never). */
export interface CachedToken {
  p: Principal;
  expiresAt: string | null;
}

/** Token hash → lookup, each for `TOKEN_CACHE_TTL_S` seconds of the injected clock. */
export class TokenCache {
  readonly #entries = new Map<string, CachedToken & { until: number }>();

  /** The cached lookup of `hash` at `nowS` (seconds), if still trusted. */
  get(hash: string, nowS: number): CachedToken | undefined {
    const e = this.#entries.get(hash);
    if (!e) return undefined;
    if (nowS >= e.until || nowS < e.until - TOKEN_CACHE_TTL_S) {
      this.#entries.delete(hash);
      return undefined;
    }
    return e;
  }

  /** Keep a valid token's lookup made at `nowS`. */
  set(hash: string, t: CachedToken, nowS: number): void {
    if (this.#entries.size >= MAX_CACHED) this.#entries.clear();
    this.#entries.set(hash, { ...t, until: nowS + TOKEN_CACHE_TTL_S });
  }

  /** Forget every lookup: after a revoke, a role change, a user or tenant deleted. */
  clear(): void {
    this.#entries.clear();
  }
}

const caches = new WeakMap<Db, TokenCache>();

/** The token cache of a store: one per open database in this process, whoever holds it. */
export function tokenCacheFor(db: Db): TokenCache {
  let c = caches.get(db);
  if (!c) caches.set(db, (c = new TokenCache()));
  return c;
}
