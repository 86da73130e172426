/** Small helpers shared by Nova's resources other than servers (./resources.ts). */
import { createHash } from 'node:crypto';
import { OsError } from '../frame.ts';

/**
 * A stable positive 31-bit integer for a nubis id, where Nova's schema wants an integer (key pair,
 * migration and service ids): the first 4 bytes of its SHA-256.
 */
export function novaIntId(id: string): number {
  return createHash('sha256').update(id).digest().readUInt32BE(0) & 0x7fffffff;
}

/** A nubis time (ISO 8601) as Nova writes it: `2026-11-30T12:00:00Z` (Nova drops the fraction). */
export function novaTime(iso: string): string;
export function novaTime(iso: string | null | undefined): string | null;
export function novaTime(iso: string | null | undefined): string | null {
  if (!iso) return null;
  return new Date(iso).toISOString().replace(/\.\d+Z$/, 'Z');
}

/** The object under `key` of a request body. @throws OsError 400 when it is missing or not an object. */
export function bodyObject(body: unknown, key: string): Record<string, unknown> {
  const o = (body as Record<string, unknown> | undefined)?.[key];
  if (!o || typeof o !== 'object' || Array.isArray(o))
    throw new OsError(400, `Invalid input for field/attribute ${key}: the body needs an object "${key}"`);
  return o as Record<string, unknown>;
}

/** A query parameter as one string (the first when repeated). */
export function queryOne(q: unknown, name: string): string | undefined {
  const v = (q as Record<string, unknown> | undefined)?.[name];
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined || one === null ? undefined : String(one);
}

/** A non-negative integer query parameter. @throws OsError 400 when it is not one. */
export function queryInt(q: unknown, name: string): number | undefined {
  const v = queryOne(q, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v.trim())) throw new OsError(400, `Invalid ${name} value: ${v}`);
  return Number(v);
}
