/** Keystone v3 on nubis: logins, scopes, token checks and revocation, the admin API Tempest uses. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { controlPlane, storeBackends } from './helpers/control.ts';

const K = '/openstack/identity/v3';

for (const backend of storeBackends()) {
  describe(`Keystone v3 (${backend.name})`, () => {
    if (backend.skip) return void test('skipped', { skip: backend.skip });
    let env: Awaited<ReturnType<typeof controlPlane>>;
    let drop: () => Promise<void>;
    before(async () => {
      const b = await backend.url();
      drop = b.drop;
      env = await controlPlane(b.url, 2);
      await env.cp.bootstrap(undefined, 'adminpw');
    });
    after(async () => {
      await env.close();
      await drop();
    });

    const ks = async (
      token: string | undefined,
      method: string,
      path: string,
      body?: unknown,
      h: Record<string, string> = {},
    ) => {
      const r = await env.app.inject({
        method: method as 'GET',
        url: `${K}${path}`,
        headers: { host: 'cloud.test:8080', ...(token ? { 'x-auth-token': token } : {}), ...h },
        ...(body !== undefined ? { payload: body as object } : {}),
      });
      return { status: r.statusCode, body: r.body ? JSON.parse(r.body) : undefined, headers: r.headers };
    };
    const login = (user: object, password: string, scope?: object) =>
      ks(undefined, 'POST', '/auth/tokens', {
        auth: {
          identity: { methods: ['password'], password: { user: { ...user, password } } },
          ...(scope ? { scope } : {}),
        },
      });
    const adminLogin = async () => {
      const r = await login({ name: 'admin', domain: { id: 'default' } }, 'adminpw', {
        project: { name: 'admin', domain: { id: 'default' } },
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.headers['x-subject-token'] as string;
    };

    test('the version documents name the v3 base the client reached', async () => {
      const root = await env.app.inject({
        method: 'GET',
        url: '/openstack/identity/',
        headers: { host: 'h:1' },
      });
      assert.equal(root.statusCode, 300);
      const v = await ks(undefined, 'GET', '');
      assert.equal(v.status, 200);
      assert.equal(v.body.version.id, 'v3.14');
      assert.equal(v.body.version.links[0].href, 'http://cloud.test:8080/openstack/identity/v3/');
    });

    test('a password login scoped to a project returns 201, the token and its exact body', async () => {
      const r = await login({ name: 'admin', domain: { name: 'Default' } }, 'adminpw', {
        project: { name: 'admin', domain: { id: 'default' } },
      });
      assert.equal(r.status, 201);
      const t = r.body.token;
      assert.ok(r.headers['x-subject-token']);
      assert.deepEqual(t.methods, ['password']);
      assert.equal(t.user.name, 'admin');
      assert.deepEqual(t.user.domain, { id: 'default', name: 'Default' });
      assert.equal(t.project.name, 'admin');
      assert.deepEqual(
        t.roles.map((x: { name: string }) => x.name),
        ['admin', 'member', 'reader'],
      );
      assert.match(t.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      assert.match(t.issued_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      assert.equal(t.is_domain, false);
      const compute = t.catalog.find((c: { type: string }) => c.type === 'compute');
      assert.equal(compute.endpoints[0].url, 'http://cloud.test:8080/openstack/compute/v2.1');
      // The token works on nubis's own API as the admin.
      const me = await env.call(r.headers['x-subject-token'] as string, 'GET', '/v1/tenants');
      assert.equal(me.status, 200);
    });

    test('a wrong password, an unknown user or a project without a role is 401', async () => {
      assert.equal((await login({ name: 'admin', domain: { id: 'default' } }, 'nope')).status, 401);
      assert.equal((await login({ name: 'ghost', domain: { id: 'default' } }, 'adminpw')).status, 401);
      const admin = await adminLogin();
      const p = await ks(admin, 'POST', '/projects', { project: { name: 'lonely', domain_id: 'default' } });
      assert.equal(p.status, 201);
      const r = await login({ name: 'admin', domain: { id: 'default' } }, 'adminpw', {
        project: { id: p.body.project.id },
      });
      assert.equal(r.status, 401);
      assert.equal(r.body.error.code, 401);
    });

    test('GET /auth/tokens returns the body as issued; HEAD checks; DELETE revokes everywhere', async () => {
      const admin = await adminLogin();
      const issued = await login({ name: 'admin', domain: { id: 'default' } }, 'adminpw', {
        project: { name: 'admin', domain: { id: 'default' } },
      });
      const t = issued.headers['x-subject-token'] as string;
      const got = await ks(admin, 'GET', '/auth/tokens', undefined, { 'x-subject-token': t });
      assert.equal(got.status, 200);
      assert.deepEqual(got.body, issued.body);
      assert.equal(got.headers['x-subject-token'], t);
      assert.equal(
        (await ks(admin, 'HEAD', '/auth/tokens', undefined, { 'x-subject-token': t })).status,
        200,
      );
      assert.equal(
        (await ks(admin, 'DELETE', '/auth/tokens', undefined, { 'x-subject-token': t })).status,
        204,
      );
      assert.equal((await ks(admin, 'GET', '/auth/tokens', undefined, { 'x-subject-token': t })).status, 404);
      assert.equal((await env.call(t, 'GET', '/v1/tenants')).status, 401);
    });

    test("Tempest's dynamic credentials: project, user, role, login, rescope, revoke, delete", async () => {
      const admin = await adminLogin();
      const doms = await ks(admin, 'GET', '/domains?name=Default');
      assert.equal(doms.body.domains[0].id, 'default');
      const proj = await ks(admin, 'POST', '/projects', {
        project: { name: 'tempest-p1', description: 'tempest-p1-desc', domain_id: 'default' },
      });
      assert.equal(proj.status, 201);
      assert.equal(proj.body.project.description, 'tempest-p1-desc');
      const pid = proj.body.project.id as string;
      const user = await ks(admin, 'POST', '/users', {
        user: { name: 'tempest-u1', password: 'pw1', domain_id: 'default' },
      });
      assert.equal(user.status, 201);
      assert.equal(user.body.user.enabled, true);
      assert.equal(user.body.user.password, undefined);
      const uid = user.body.user.id as string;
      // A second user of that name with a password is refused (password logins find users by name).
      assert.equal(
        (
          await ks(admin, 'POST', '/users', {
            user: { name: 'tempest-u1', password: 'x', domain_id: 'default' },
          })
        ).status,
        409,
      );
      const roles = await ks(admin, 'GET', '/roles');
      const member = roles.body.roles.find((r: { name: string }) => r.name === 'member');
      assert.ok(member);
      // Without a role: no scoped token; an unscoped one only (no project, roles, catalog).
      const unscoped = await login({ id: uid }, 'pw1');
      assert.equal(unscoped.status, 201);
      assert.equal(unscoped.body.token.project, undefined);
      assert.equal(unscoped.body.token.catalog, undefined);
      const ut = unscoped.headers['x-subject-token'] as string;
      assert.equal((await env.call(ut, 'GET', '/v1/vms')).status, 401, 'an unscoped token is nothing on /v1');
      assert.equal((await ks(admin, 'PUT', `/projects/${pid}/users/${uid}/roles/${member.id}`)).status, 204);
      assert.equal((await ks(admin, 'HEAD', `/projects/${pid}/users/${uid}/roles/${member.id}`)).status, 204);
      const ra = await ks(admin, 'GET', `/role_assignments?user.id=${uid}`);
      assert.deepEqual(
        ra.body.role_assignments.map((a: { role: { id: string } }) => a.role.id),
        ['member'],
      );
      // The unscoped token lists its projects and is rescoped by method token.
      const mine = await ks(ut, 'GET', '/auth/projects');
      assert.deepEqual(
        mine.body.projects.map((p: { id: string }) => p.id),
        [pid],
      );
      const rescoped = await ks(undefined, 'POST', '/auth/tokens', {
        auth: { identity: { methods: ['token'], token: { id: ut } }, scope: { project: { id: pid } } },
      });
      assert.equal(rescoped.status, 201);
      assert.equal(rescoped.body.token.project.id, pid);
      assert.equal(rescoped.body.token.expires_at, unscoped.body.token.expires_at);
      const scopedLogin = await login({ name: 'tempest-u1', domain: { id: 'default' } }, 'pw1', {
        project: { id: pid },
      });
      assert.equal(scopedLogin.status, 201);
      const st = scopedLogin.headers['x-subject-token'] as string;
      assert.deepEqual(
        scopedLogin.body.token.roles.map((r: { name: string }) => r.name),
        ['member', 'reader'],
      );
      const p = await env.cp.authenticate(st);
      assert.deepEqual([p?.tenantId, p?.role], [pid, 'member']);
      // A member is not an admin of Keystone.
      assert.equal((await ks(st, 'GET', '/users')).status, 403);
      // Revoking the role: the token stops working once the cache is emptied (revoke empties it).
      assert.equal((await ks(admin, 'DELETE', `/projects/${pid}/users/${uid}/roles/member`)).status, 204);
      assert.equal(await env.cp.authenticate(st), null);
      assert.equal((await ks(admin, 'DELETE', `/users/${uid}`)).status, 204);
      assert.equal((await ks(admin, 'GET', `/users/${uid}`)).status, 404);
      assert.equal((await ks(admin, 'DELETE', `/projects/${pid}`)).status, 204);
      assert.equal((await ks(admin, 'GET', `/projects/${pid}`)).status, 404);
      assert.equal((await ks(admin, 'GET', '/projects?name=tempest-p1')).body.projects.length, 0);
    });

    test('a nubis user created with a password logs in to its tenant with its role', async () => {
      const r = await env.call(env.adminToken, 'POST', '/v1/tenants', { name: 'demo' });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const u = await env.call(env.adminToken, 'POST', '/v1/users', {
        tenant: 'demo',
        name: 'demo',
        role: 'member',
        password: 'secret',
      });
      assert.equal(u.status, 201);
      assert.equal(u.body.password, undefined);
      const t = await login({ name: 'demo', domain: { id: 'default' } }, 'secret', {
        project: { name: 'demo', domain: { id: 'default' } },
      });
      assert.equal(t.status, 201);
      assert.equal(t.body.token.project.name, 'demo');
      assert.equal(t.body.token.roles[0].name, 'member');
    });

    test('application credentials: secret once, login scoped to its project, expiry, delete', async () => {
      const admin = await adminLogin();
      const me = (await ks(admin, 'GET', '/auth/tokens', undefined, { 'x-subject-token': admin })).body.token;
      const c = await ks(admin, 'POST', `/users/${me.user.id}/application_credentials`, {
        application_credential: {
          name: 'ci',
          description: 'for CI',
          expires_at: '2030-01-01T13:00:00.123456',
        },
      });
      assert.equal(c.status, 201, JSON.stringify(c.body));
      const ac = c.body.application_credential;
      assert.ok(ac.secret);
      assert.equal(ac.expires_at, '2030-01-01T13:00:00.123456');
      assert.equal(ac.unrestricted, false);
      assert.equal(ac.project_id, me.project.id);
      const listed = await ks(admin, 'GET', `/users/${me.user.id}/application_credentials?name=ci`);
      assert.equal(listed.body.application_credentials.length, 1);
      assert.equal(listed.body.application_credentials[0].secret, undefined);
      const t = await ks(undefined, 'POST', '/auth/tokens', {
        auth: {
          identity: {
            methods: ['application_credential'],
            application_credential: { id: ac.id, secret: ac.secret },
          },
        },
      });
      assert.equal(t.status, 201);
      assert.deepEqual(t.body.token.application_credential, { id: ac.id, name: 'ci', restricted: true });
      assert.equal(t.body.token.project.id, me.project.id);
      const bad = await ks(undefined, 'POST', '/auth/tokens', {
        auth: {
          identity: {
            methods: ['application_credential'],
            application_credential: { id: ac.id, secret: 'x' },
          },
        },
      });
      assert.equal(bad.status, 401);
      // Expired: a credential that ended a second ago is refused.
      const past = new Date((env.clock.now() - 1) * 1000).toISOString().replace('Z', '');
      const old = await ks(admin, 'POST', `/users/${me.user.id}/application_credentials`, {
        application_credential: { name: 'old', expires_at: past },
      });
      const o = old.body.application_credential;
      const ot = await ks(undefined, 'POST', '/auth/tokens', {
        auth: {
          identity: {
            methods: ['application_credential'],
            application_credential: { id: o.id, secret: o.secret },
          },
        },
      });
      assert.equal(ot.status, 401);
      const ct = t.headers['x-subject-token'] as string;
      assert.equal(
        (await ks(admin, 'DELETE', `/users/${me.user.id}/application_credentials/${ac.id}`)).status,
        204,
      );
      assert.equal(await env.cp.authenticate(ct), null, "the credential's tokens die with it");
    });
  });
}
