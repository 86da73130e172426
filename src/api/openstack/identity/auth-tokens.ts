/**
 * Keystone's /v3/auth routes: issue a token (password, application credential, or another token to
 * rescope), read it back with the same body, check, revoke; the catalog and the caller's projects
 * (https://docs.openstack.org/api-ref/identity/v3/#authentication-and-token-management).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ProjectRef, UserRef } from '../../../control/identity/keystone-tokens.ts';
import { osBase, osCatalog, OsError } from '../frame.ts';
import { bodyOf, header, ksBase, ksCaller, projectBody, tokenBody, type IdentityDeps } from './common.ts';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);

/** A user or project reference: `{id}` or `{name, domain: {id}|{name}}`. @throws OsError 400. */
function refOf(o: Obj | undefined, what: string): UserRef & ProjectRef {
  const id = str(o?.id);
  if (id) return { id };
  const name = str(o?.name);
  if (!name) throw new OsError(400, `Expecting to find id or name in ${what}.`);
  const dom = obj(o?.domain);
  if (!dom) throw new OsError(400, `Expecting to find domain in ${what}.`);
  const domainId = str(dom.id),
    domainName = str(dom.name);
  if (!domainId && !domainName) throw new OsError(400, `Expecting to find id or name in ${what} domain.`);
  return { name, ...(domainId ? { domainId } : {}), ...(domainName ? { domainName } : {}) };
}

/** Issue a token from a request body. */
async function issue(d: IdentityDeps, req: FastifyRequest) {
  const auth = bodyOf(req, 'auth');
  const identity = obj(auth.identity);
  const methods = identity?.methods;
  if (!identity || !Array.isArray(methods) || methods.length !== 1 || typeof methods[0] !== 'string')
    throw new OsError(400, 'Expecting to find identity.methods (one method) in auth.');
  const method = methods[0];
  const scope = auth.scope;
  const project = obj(obj(scope)?.project);
  if (scope !== undefined && scope !== null && !project && scope !== 'unscoped')
    throw new OsError(400, 'Only project scope is supported (there is one domain, and no system scope).');
  const scopedTo = async () => {
    if (!project) return undefined;
    const p = await d.tokens.projectFor(refOf(project, 'scope.project'));
    if (!p) throw new OsError(401, 'The request you have made requires authentication.');
    return p.id;
  };
  const source = req.ip;
  if (method === 'password') {
    const pw = obj(identity.password);
    const user = obj(pw?.user);
    const password = user?.password;
    if (typeof password !== 'string') throw new OsError(400, 'Expecting to find password in user.');
    const u = await d.tokens.checkPassword(refOf(user, 'user'), password, source);
    const tid =
      (await scopedTo()) ??
      (scope === undefined || scope === null ? await d.tokens.defaultScope(u.id, u.defaultProjectId) : null);
    return d.tokens.issue({ userId: u.id, tenantId: tid ?? null, methods: ['password'], source });
  }
  if (method === 'application_credential') {
    const ac = obj(identity.application_credential);
    const secret = str(ac?.secret);
    if (!ac || !secret) throw new OsError(400, 'Expecting to find secret in application_credential.');
    const userRef = obj(ac.user);
    const c = await d.tokens.checkAppCredential(
      { id: str(ac.id), name: str(ac.name), ...(userRef ? { user: refOf(userRef, 'user') } : {}) },
      secret,
      source,
    );
    if (project && (await scopedTo()) !== c.tenantId)
      throw new OsError(401, 'An application credential is scoped to its own project.');
    return d.tokens.issue({
      userId: c.userId,
      tenantId: c.tenantId,
      methods: ['application_credential'],
      appCredentialId: c.id,
      source,
    });
  }
  if (method === 'token') {
    const id = str(obj(identity.token)?.id);
    if (!id) throw new OsError(400, 'Expecting to find id in token.');
    const t = await d.tokens.lookup(id);
    if (!t) throw new OsError(401, 'The request you have made requires authentication.');
    if (t.appCredential) throw new OsError(403, 'A token from an application credential cannot be rescoped.');
    return d.tokens.issue({
      userId: t.userId,
      tenantId: (await scopedTo()) ?? t.project?.id ?? null,
      methods: [...new Set(['token', ...t.methods])],
      expiresAt: t.expiresAt, // a rescoped token ends with the one it came from
      source,
    });
  }
  throw new OsError(401, `Unsupported authentication method: ${method}`);
}

/** The token named by X-Subject-Token, checked by its own user (or an admin). @throws OsError 404. */
async function subject(d: IdentityDeps, req: FastifyRequest) {
  const caller = await ksCaller(d, req);
  const token = header(req, 'x-subject-token');
  if (!token) throw new OsError(404, 'Could not find token (send X-Subject-Token).');
  const t = await d.tokens.lookup(token);
  if (!t || (t.userId !== caller.userId && caller.principal?.role !== 'admin'))
    throw new OsError(404, 'Could not find token.');
  return { caller, t, token };
}

/** POST/GET/DELETE /v3/auth/tokens (HEAD with GET), GET /v3/auth/catalog, GET /v3/auth/projects. */
export function authTokenRoutes(s: FastifyInstance, d: IdentityDeps): void {
  const nocatalog = (req: FastifyRequest) => 'nocatalog' in ((req.query as Obj | undefined) ?? {});
  s.post('/v3/auth/tokens', async (req, reply) => {
    const { token, body } = await issue(d, req);
    return reply
      .code(201)
      .header('x-subject-token', token)
      .send(tokenBody(req, d, body, !nocatalog(req)));
  });
  s.get('/v3/auth/tokens', async (req, reply) => {
    const { t, token } = await subject(d, req);
    return reply.header('x-subject-token', token).send(tokenBody(req, d, t, !nocatalog(req)));
  });
  s.delete('/v3/auth/tokens', async (req, reply) => {
    const { caller, token } = await subject(d, req);
    await d.tokens.revoke(caller, token);
    return reply.code(204).send();
  });
  s.get('/v3/auth/catalog', async (req) => {
    const caller = await ksCaller(d, req);
    if (!caller.project) throw new OsError(403, 'An unscoped token has no catalog.');
    return { catalog: osCatalog(osBase(req, d.opts)), links: { self: `${ksBase(req, d)}/auth/catalog` } };
  });
  s.get('/v3/auth/projects', async (req) => {
    const caller = await ksCaller(d, req);
    // The projects the caller may scope to: enabled ones only (Keystone's /v3/auth/projects).
    const projects = (await d.users.projectsOf(caller.userId)).filter((p) => Number(p.enabled));
    return {
      projects: projects.map((p) => projectBody(req, d, p)),
      links: { self: `${ksBase(req, d)}/auth/projects`, previous: null, next: null },
    };
  });
  s.get('/v3/auth/domains', async (req) => {
    await ksCaller(d, req);
    return { domains: [], links: { self: `${ksBase(req, d)}/auth/domains`, previous: null, next: null } };
  });
}
