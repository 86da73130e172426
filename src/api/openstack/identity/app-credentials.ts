/**
 * Keystone's application credentials of the caller: create (the secret shown once), list (?name=),
 * show, delete (https://docs.openstack.org/api-ref/identity/v3/#application-credentials).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppCredential } from '../../../control/identity/app-credentials.ts';
import { OsError } from '../frame.ts';
import { bodyOf, ksBase, ksCaller, listLinks, optString, reqString, type IdentityDeps } from './common.ts';

const credBody = (req: FastifyRequest, d: IdentityDeps, c: AppCredential) => ({
  id: c.id,
  name: c.name,
  description: c.description,
  user_id: c.userId,
  project_id: c.projectId,
  roles: c.roles.map((r) => ({ id: r, name: r, domain_id: null })),
  expires_at: c.expiresAt,
  unrestricted: false,
  access_rules: [],
  links: { self: `${ksBase(req, d)}/users/${c.userId}/application_credentials/${c.id}` },
});

/** /v3/users/{u}/application_credentials[/{id}]. */
export function appCredentialRoutes(s: FastifyInstance, d: IdentityDeps): void {
  const path = '/v3/users/:u/application_credentials';
  s.post(path, async (req, reply) => {
    const caller = await ksCaller(d, req);
    const { u } = req.params as { u: string };
    const b = bodyOf(req, 'application_credential');
    if (b.unrestricted === true)
      throw new OsError(403, 'Unrestricted application credentials are not supported.');
    const c = await d.creds.create(caller, u, {
      name: reqString(b, 'name'),
      description: optString(b, 'description') ?? null,
      expiresAt: optString(b, 'expires_at') ?? null,
      secret: optString(b, 'secret') ?? null,
    });
    return reply.code(201).send({ application_credential: { ...credBody(req, d, c), secret: c.secret } });
  });
  s.get(path, async (req) => {
    const caller = await ksCaller(d, req);
    const { u } = req.params as { u: string };
    const q = req.query as Record<string, string | undefined>;
    const list = await d.creds.list(caller, u, q.name !== undefined ? { name: q.name } : {});
    return {
      application_credentials: list.map((c) => credBody(req, d, c)),
      links: listLinks(req, d, `/users/${u}/application_credentials`),
    };
  });
  s.get(`${path}/:id`, async (req) => {
    const caller = await ksCaller(d, req);
    const { u, id } = req.params as { u: string; id: string };
    return { application_credential: credBody(req, d, await d.creds.get(caller, u, id)) };
  });
  s.delete(`${path}/:id`, async (req, reply) => {
    const caller = await ksCaller(d, req);
    const { u, id } = req.params as { u: string; id: string };
    await d.creds.delete(caller, u, id);
    return reply.code(204).send();
  });
}
