/**
 * Who is calling: the authenticated principal and token hashing. What a principal may do is decided
 * by the policy table in authz.ts.
 */
import { createHash } from 'node:crypto';
import type { Role } from './authz.ts';

export { ROLES, type Role } from './authz.ts';

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
