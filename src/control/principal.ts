/**
 * Who is calling: the roles, the authenticated principal, token hashing, and the role checks every
 * service makes before it reads or writes.
 */
import { createHash } from 'node:crypto';
import { ControlError } from './errors.ts';

export const ROLES = ['admin', 'operator', 'member', 'reader'] as const;
export type Role = (typeof ROLES)[number];

/** An authenticated caller: the user, their tenant and role, and the token they presented. */
export interface Principal {
  userId: string;
  userName: string;
  tenantId: string;
  role: Role;
  tokenId: string;
}

/** How tokens are stored (SHA-256, hex): the token itself is never kept. */
export const hashToken = (t: string) => createHash('sha256').update(t).digest('hex');

/** Throw FORBIDDEN unless the principal has one of `roles`. */
export function requireRole(p: Principal, ...roles: Role[]): void {
  if (!roles.includes(p.role))
    throw new ControlError('FORBIDDEN', `This needs role ${roles.join(' or ')}; you are ${p.role}`);
}

/** Whether the principal sees every tenant's objects (admins and operators). */
export function canSeeAll(p: Principal): boolean {
  return p.role === 'admin' || p.role === 'operator';
}
