/** A control plane with an admin and a member token, and a Nova caller (`/openstack/compute/...`). */
import { controlPlane } from './control.ts';

/** The control plane of test/helpers/control.ts, with `nova(token, method, path, body?, minor?)`. */
export async function novaPlane(hosts = 3) {
  const t = await controlPlane(':memory:', hosts);
  await t.cp.createTenant(t.admin, 'demo');
  const user = await t.cp.createUser(t.admin, 'demo', 'ann', 'member');
  const member = (await t.cp.createToken(t.admin, { name: 'ann', userId: user.id })).token;
  const nova = async (
    token: string | undefined,
    method: string,
    path: string,
    body?: unknown,
    minor?: number,
  ) => {
    const r = await t.app.inject({
      method: method as 'GET',
      url: `/openstack/compute${path}`,
      headers: {
        ...(token ? { 'x-auth-token': token } : {}),
        ...(minor ? { 'x-openstack-nova-api-version': `2.${minor}` } : {}),
      },
      ...(body !== undefined ? { payload: body as object } : {}),
    });
    return {
      status: r.statusCode,
      headers: r.headers as Record<string, string>,
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read fields of any answer
      body: r.body ? (JSON.parse(r.body) as any) : undefined,
    };
  };
  return { ...t, member, memberId: user.id, nova };
}
