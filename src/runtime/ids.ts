/**
 * Identifiers and secrets are passed in, like time and randomness (STYLE.md §2): the control plane
 * asks an `IdSource` for every id and token, so a simulated replay with a seeded source is
 * reproducible to the id, and production uses the operating system's CSPRNG.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Random } from './random.ts';

/** Where ids and secrets come from. */
export interface IdSource {
  /** A new RFC 4122 version-4 UUID (lower-case, with dashes). */
  uuid(): string;
  /** A new secret of `bytes` random bytes, base64url (tokens are `nubis_` + this). */
  secret(bytes?: number): string;
}

/** Ids and secrets from the operating system's CSPRNG (production). */
export function cryptoIds(): IdSource {
  return { uuid: () => randomUUID(), secret: (bytes = 24) => randomBytes(bytes).toString('base64url') };
}

const HEX = '0123456789abcdef';
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Ids and secrets from a seeded generator (simulated replays and tests): the same seed gives the
 * same ids in the same order. Never for production secrets.
 */
export function seededIds(random: Random): IdSource {
  const hex = (n: number) => Array.from({ length: n }, () => HEX[random.int(16)]).join('');
  return {
    uuid: () => `${hex(8)}-${hex(4)}-4${hex(3)}-${HEX[8 + random.int(4)]}${hex(3)}-${hex(12)}`,
    secret: (bytes = 24) =>
      Array.from({ length: Math.ceil((bytes * 4) / 3) }, () => B64URL[random.int(64)]).join(''),
  };
}
