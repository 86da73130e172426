/**
 * What the identity routes share: the Keystone services over nubis's tables, the caller of a
 * request (a Keystone token, unscoped ones included, or a plain nubis token), Keystone's time format
 * and the bodies of tokens, projects and users (Keystone v3 API reference,
 * https://docs.openstack.org/api-ref/identity/v3/).
 */
import type { FastifyRequest } from 'fastify';
import { AppCredentials } from '../../../control/identity/app-credentials.ts';
import { withImplied } from '../../../control/identity/identity-roles.ts';
import {
  DEFAULT_DOMAIN,
  KeystoneTokens,
  type KeystoneToken,
} from '../../../control/identity/keystone-tokens.ts';
import { KeystoneUsers, type KeystoneUserRow } from '../../../control/identity/keystone-users.ts';
import type { Principal } from '../../../control/principal.ts';
import { osBase, osCatalog, OsError, type OsDeps } from '../frame.ts';

/** The Keystone services of one control plane, and how to reach the caller. */
export interface IdentityDeps extends OsDeps {
  tokens: KeystoneTokens;
  users: KeystoneUsers;
  creds: AppCredentials;
}

/** Build the identity services over `deps.cp`. */
export function identityDeps(deps: OsDeps): IdentityDeps {
  return {
    ...deps,
    tokens: new KeystoneTokens(deps.cp),
    users: new KeystoneUsers(deps.cp),
    creds: new AppCredentials(deps.cp),
  };
}

/** A header's first value. */
export function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return (Array.isArray(v) ? v[0] : v)?.trim() || undefined;
}

/** The caller: its Keystone token (unscoped too), or a plain nubis token seen as one. @throws OsError 401. */
export async function ksCaller(d: IdentityDeps, req: FastifyRequest): Promise<KeystoneToken> {
  const token = header(req, 'x-auth-token');
  if (!token) throw new OsError(401, 'The request you have made requires authentication.');
  const k = await d.tokens.lookup(token);
  if (k) return k;
  const p = await d.cp.authenticate(token, req.ip);
  if (!p) throw new OsError(401, 'The request you have made requires authentication.');
  return plainCaller(p);
}

/** A plain nubis token's principal as a Keystone token scoped to its home tenant. */
function plainCaller(p: Principal): KeystoneToken {
  return {
    tokenId: p.tokenId,
    userId: p.userId,
    userName: p.userName,
    methods: ['token'],
    auditId: p.tokenId,
    issuedAt: new Date(0).toISOString(),
    expiresAt: new Date(0).toISOString(),
    project: { id: p.tenantId, name: '' },
    roles: withImplied([p.role]),
    appCredential: null,
    principal: p,
  };
}

/** The caller's nubis principal (a project-scoped token). @throws OsError 403 for an unscoped one. */
export function scoped(k: KeystoneToken): Principal {
  if (!k.principal)
    throw new OsError(
      403,
      'You are not authorized to perform the requested action (scope the token to a project).',
    );
  return k.principal;
}

/** Keystone's time: `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
export function ksTime(iso: string): string {
  const d = new Date(iso).toISOString(); // 3 fraction digits
  return d.replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** The identity service's versioned base URL. */
export const ksBase = (req: FastifyRequest, d: OsDeps) => `${osBase(req, d.opts)}/identity/v3`;

const domain = { id: DEFAULT_DOMAIN.id, name: DEFAULT_DOMAIN.name };

/** A token's body as issued and as read back. */
export function tokenBody(req: FastifyRequest, d: OsDeps, t: KeystoneToken, catalog = true) {
  return {
    token: {
      methods: t.methods,
      user: { id: t.userId, name: t.userName, domain, password_expires_at: null },
      audit_ids: [t.auditId],
      issued_at: ksTime(t.issuedAt),
      expires_at: ksTime(t.expiresAt),
      ...(t.project
        ? {
            project: { id: t.project.id, name: t.project.name, domain },
            is_domain: false,
            roles: t.roles.map((r) => ({ id: r, name: r })),
            ...(catalog ? { catalog: osCatalog(osBase(req, d.opts)) } : {}),
          }
        : {}),
      ...(t.appCredential
        ? { application_credential: { id: t.appCredential.id, name: t.appCredential.name, restricted: true } }
        : {}),
    },
  };
}

/** A project (a nubis tenant) as Keystone shows it. */
export function projectBody(
  req: FastifyRequest,
  d: OsDeps,
  t: { id: string; name: string; description?: string | null; enabled: number },
) {
  return {
    id: t.id,
    name: t.name,
    domain_id: DEFAULT_DOMAIN.id,
    description: t.description ?? '',
    enabled: !!Number(t.enabled),
    parent_id: DEFAULT_DOMAIN.id,
    is_domain: false,
    tags: [],
    options: {},
    links: { self: `${ksBase(req, d)}/projects/${t.id}` },
  };
}

/** A user as Keystone shows it. */
export function userBody(req: FastifyRequest, d: OsDeps, u: KeystoneUserRow) {
  return {
    id: u.id,
    name: u.name,
    domain_id: u.domain_id,
    enabled: !!Number(u.enabled),
    password_expires_at: null,
    options: {},
    links: { self: `${ksBase(req, d)}/users/${u.id}` },
    // Keystone keeps a `project_id` sent at create/update as an extra attribute and shows it back.
    ...(u.default_project_id
      ? { default_project_id: u.default_project_id, project_id: u.default_project_id }
      : {}),
    ...(u.description !== null ? { description: u.description } : {}),
    ...(u.email !== null ? { email: u.email } : {}),
  };
}

/** A collection's `links`. */
export const listLinks = (req: FastifyRequest, d: OsDeps, path: string) => ({
  self: `${ksBase(req, d)}${path}`,
  previous: null,
  next: null,
});

/** The domain. */
export const domainBody = (req: FastifyRequest, d: OsDeps) => ({
  id: DEFAULT_DOMAIN.id,
  name: DEFAULT_DOMAIN.name,
  description: 'The default domain',
  enabled: true,
  tags: [],
  options: {},
  links: { self: `${ksBase(req, d)}/domains/${DEFAULT_DOMAIN.id}` },
});

/** A request body's object under `key`. @throws OsError 400. */
export function bodyOf(req: FastifyRequest, key: string): Record<string, unknown> {
  const b = req.body as Record<string, unknown> | undefined;
  const o = b?.[key];
  if (!o || typeof o !== 'object' || Array.isArray(o))
    throw new OsError(400, `Expecting to find ${key} in request body.`);
  return o as Record<string, unknown>;
}

/** An optional string field. @throws OsError 400. */
export function optString(o: Record<string, unknown>, k: string): string | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new OsError(400, `Invalid input for field '${k}': not a string.`);
  return v;
}

/** An optional boolean field. @throws OsError 400 for another type. */
export function optBool(o: Record<string, unknown>, k: string): boolean | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new OsError(400, `Invalid input for field '${k}': not a boolean.`);
  return v;
}

/** A required non-empty string field. @throws OsError 400. */
export function reqString(o: Record<string, unknown>, k: string): string {
  const v = optString(o, k);
  if (!v) throw new OsError(400, `Invalid input for field '${k}': required.`);
  return v;
}
