/**
 * The OpenStack identity service (Keystone v3, docs/openstack.md): version documents, tokens,
 * domains, projects (nubis tenants), users, roles and role assignments, application credentials.
 */
import type { FastifyInstance } from 'fastify';
import type { OsDeps } from '../frame.ts';
import { appCredentialRoutes } from './app-credentials.ts';
import { authTokenRoutes } from './auth-tokens.ts';
import { identityDeps } from './common.ts';
import { projectRoutes } from './projects.ts';
import { roleRoutes } from './roles.ts';
import { userRoutes } from './users.ts';
import { versionRoutes } from './versions.ts';

/** Register the identity service's routes (paths relative to its prefix, see SERVICE_PATHS). */
export function registerIdentity(s: FastifyInstance, deps: OsDeps): void {
  const d = identityDeps(deps);
  versionRoutes(s, deps);
  authTokenRoutes(s, d);
  projectRoutes(s, d);
  userRoutes(s, d);
  roleRoutes(s, d);
  appCredentialRoutes(s, d);
}
