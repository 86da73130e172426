/**
 * Password hashing for Keystone logins: scrypt (node:crypto) with a per-password salt, its cost
 * parameters kept in the stored string (`scrypt$N$r$p$salt$hash`, base64url) so they can be raised
 * later; verification in constant time.
 */
import { scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const scrypt = (pw: string, salt: string, len: number, o: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) =>
    scryptCb(pw, salt, len, o, (e, key) => (e ? reject(e) : resolve(key))),
  );

/** scrypt's cost (N = 2^14: about 16 MiB and tens of milliseconds per hash). */
const N = 1 << 14,
  R = 8,
  P = 1,
  KEY_BYTES = 32;

/** The stored form of `password`, salted with `salt` (random, from the context's id source). */
export async function hashPassword(password: string, salt: string): Promise<string> {
  const key = await scrypt(password, salt, KEY_BYTES, { N, r: R, p: P, maxmem: 64 * 1024 * 1024 });
  return `scrypt$${N}$${R}$${P}$${salt}$${key.toString('base64url')}`;
}

/**
 * A well-formed hash no password matches (a fixed salt, an all-zero key): checked against when there is
 * no user or no password, so a login costs one scrypt whether the user exists or not (no timing oracle
 * for user names).
 */
const NO_MATCH = `scrypt$${N}$${R}$${P}$no-user$${Buffer.alloc(KEY_BYTES).toString('base64url')}`;

/** Whether `password` matches a stored hash (false for a malformed or missing one, after the same work). */
export async function verifyPassword(password: string, stored: string | null | undefined): Promise<boolean> {
  const real = !!stored && stored.split('$').length === 6 && stored.startsWith('scrypt$');
  const parts = (real ? stored : NO_MATCH).split('$');
  return (await matches(password, parts)) && real;
}

async function matches(password: string, parts: string[]): Promise<boolean> {
  const [n, r, p] = parts.slice(1, 4).map(Number);
  if (!(n! >= 2 && r! >= 1 && p! >= 1)) return false;
  const want = Buffer.from(parts[5]!, 'base64url');
  const got = await scrypt(password, parts[4]!, want.length, {
    N: n,
    r,
    p,
    maxmem: 256 * n! * r! + 64 * 1024 * 1024,
  });
  return got.length === want.length && timingSafeEqual(got, want);
}
