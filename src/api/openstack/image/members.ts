/**
 * Glance v2's image members (https://docs.openstack.org/api-ref/image/v2/#sharing): sharing a
 * `shared` image with other tenants (projects), who accept or reject it; nubis's `cp.imageMembers`.
 */
import type { FastifyInstance } from 'fastify';
import { MEMBER_STATUSES, type ImageMember } from '../../../control/storage/image-members.ts';
import { OsError, osPrincipal, type OsDeps } from '../frame.ts';
import { glanceTime } from './view.ts';

type Params = { id: string; member: string };

/** A member as Glance answers it. */
export function glanceMember(m: ImageMember) {
  return {
    image_id: m.image_id,
    member_id: m.member_id,
    status: m.status,
    created_at: glanceTime(m.created_at),
    updated_at: glanceTime(m.updated_at),
    schema: '/v2/schemas/member',
  };
}

/** `GET /v2/schemas/member` and `/v2/schemas/members`. */
export function memberSchema() {
  const str = { type: 'string' };
  return {
    name: 'member',
    properties: {
      image_id: str,
      member_id: str,
      status: { type: 'string', enum: [...MEMBER_STATUSES] },
      created_at: str,
      updated_at: str,
      schema: str,
    },
  };
}
export const membersSchema = () => ({
  name: 'members',
  properties: { members: { type: 'array', items: memberSchema() }, schema: { type: 'string' } },
  links: [{ rel: 'describedby', href: '{schema}' }],
});

const body = (b: unknown, key: string): string => {
  const v = (b as Record<string, unknown> | undefined)?.[key];
  if (typeof v !== 'string' || !v || v.length > 255) throw new OsError(400, `Send {"${key}": "…"}`);
  return v;
};

/** The member routes under `/v2/images/:id/members`. */
export function registerMembers(s: FastifyInstance, { cp }: OsDeps): void {
  s.get('/v2/schemas/member', async (req) => (await osPrincipal(cp, req), memberSchema()));
  s.get('/v2/schemas/members', async (req) => (await osPrincipal(cp, req), membersSchema()));
  s.post<{ Params: Params }>('/v2/images/:id/members', async (req) => {
    const p = await osPrincipal(cp, req);
    return glanceMember(await cp.imageMembers.add(p, req.params.id, body(req.body, 'member')));
  });
  s.get<{ Params: Params }>('/v2/images/:id/members', async (req) => {
    const p = await osPrincipal(cp, req);
    const members = await cp.imageMembers.list(p, req.params.id);
    return { members: members.map(glanceMember), schema: '/v2/schemas/members' };
  });
  s.get<{ Params: Params }>('/v2/images/:id/members/:member', async (req) => {
    const p = await osPrincipal(cp, req);
    return glanceMember(await cp.imageMembers.get(p, req.params.id, req.params.member));
  });
  s.put<{ Params: Params }>('/v2/images/:id/members/:member', async (req) => {
    const p = await osPrincipal(cp, req);
    const status = body(req.body, 'status');
    if (!MEMBER_STATUSES.includes(status as 'pending'))
      throw new OsError(400, `Invalid status ${status} (pending, accepted or rejected)`);
    const m = await cp.imageMembers.answer(p, req.params.id, req.params.member, status as 'pending');
    return glanceMember(m);
  });
  s.delete<{ Params: Params }>('/v2/images/:id/members/:member', async (req, reply) => {
    const p = await osPrincipal(cp, req);
    await cp.imageMembers.remove(p, req.params.id, req.params.member);
    return reply.code(204).send();
  });
}
