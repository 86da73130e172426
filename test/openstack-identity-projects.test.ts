/** Keystone v3 on nubis, wave 2: disabled projects, a user's own password change, `project_id` on users. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { controlPlane, storeBackends } from './helpers/control.ts';

const K = '/openstack/identity/v3';

for (const backend of storeBackends()) {
  describe(`Keystone v3 projects and users (${backend.name})`, () => {
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

    const ks = async (token: string | undefined, method: string, path: string, body?: unknown) => {
      const r = await env.app.inject({
        method: method as 'GET',
        url: `${K}${path}`,
        headers: { host: 'cloud.test:8080', ...(token ? { 'x-auth-token': token } : {}) },
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
    const newUser = async (admin: string, name: string, extra: object = {}) => {
      const r = await ks(admin, 'POST', '/users', { user: { name, password: `${name}-pw`, ...extra } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.user.id as string;
    };

    test('a project created disabled shows so, lists under ?enabled=false, and takes no scoped login', async () => {
      const admin = await adminLogin();
      const c = await ks(admin, 'POST', '/projects', { project: { name: 'sleepy', enabled: false } });
      assert.equal(c.status, 201, JSON.stringify(c.body));
      assert.equal(c.body.project.enabled, false);
      const pid = c.body.project.id;
      assert.equal((await ks(admin, 'GET', `/projects/${pid}`)).body.project.enabled, false);
      const off = await ks(admin, 'GET', '/projects?enabled=false');
      assert.deepEqual(
        off.body.projects.map((p: { id: string }) => p.id),
        [pid],
      );
      const on = await ks(admin, 'GET', '/projects?enabled=true');
      assert.ok(on.body.projects.length >= 1);
      assert.ok(on.body.projects.every((p: { enabled: boolean }) => p.enabled));

      const uid = await newUser(admin, 'sleeper');
      assert.equal((await ks(admin, 'PUT', `/projects/${pid}/users/${uid}/roles/member`)).status, 204);
      const scope = { project: { id: pid } };
      assert.equal((await login({ id: uid }, 'sleeper-pw', scope)).status, 401);
      const unscoped = await login({ id: uid }, 'sleeper-pw');
      const ut = unscoped.headers['x-subject-token'] as string;
      assert.deepEqual((await ks(ut, 'GET', '/auth/projects')).body.projects, []);

      const up = await ks(admin, 'PATCH', `/projects/${pid}`, { project: { enabled: true } });
      assert.equal(up.status, 200);
      assert.equal(up.body.project.enabled, true);
      const scoped = await login({ id: uid }, 'sleeper-pw', scope);
      assert.equal(scoped.status, 201);
      const st = scoped.headers['x-subject-token'] as string;
      assert.equal((await ks(st, 'GET', '/auth/catalog')).status, 200);

      // Disabling it again: the token scoped to it stands for nobody, in Keystone and in nubis.
      assert.equal(
        (await ks(admin, 'PATCH', `/projects/${pid}`, { project: { enabled: false } })).status,
        200,
      );
      assert.equal((await ks(st, 'GET', '/auth/catalog')).status, 401);
      assert.equal(await env.cp.authenticate(st), null);
      const events = await env.cp.ctx.db
        .selectFrom('events')
        .select('kind')
        .where('tenant_id', '=', pid)
        .where('kind', 'like', 'tenant.%abled')
        .orderBy('id')
        .execute();
      assert.deepEqual(
        events.map((e) => e.kind),
        ['tenant.disabled', 'tenant.enabled', 'tenant.disabled'],
      );
    });

    test('only an admin enables a project, never a non-boolean, and not the one it acts in', async () => {
      const admin = await adminLogin();
      const pid = (await ks(admin, 'POST', '/projects', { project: { name: 'p-flags' } })).body.project.id;
      const bad = await ks(admin, 'PATCH', `/projects/${pid}`, { project: { enabled: 'no' } });
      assert.equal(bad.status, 400);
      const uid = await newUser(admin, 'flagger');
      await ks(admin, 'PUT', `/projects/${pid}/users/${uid}/roles/member`);
      const member = (await login({ id: uid }, 'flagger-pw', { project: { id: pid } })).headers[
        'x-subject-token'
      ] as string;
      assert.equal(
        (await ks(member, 'PATCH', `/projects/${pid}`, { project: { enabled: false } })).status,
        403,
      );
      const adminPid = (await ks(admin, 'GET', '/projects?name=admin')).body.projects[0].id;
      const self = await ks(admin, 'PATCH', `/projects/${adminPid}`, { project: { enabled: false } });
      assert.equal(self.status, 409, JSON.stringify(self.body));
      assert.equal((await ks(admin, 'GET', `/projects/${pid}`)).body.project.enabled, true);
    });

    test("a disabled tenant's own users' plain nubis tokens stand for nobody until it is enabled", async () => {
      const admin = await adminLogin();
      const p = await ks(admin, 'POST', '/projects', { project: { name: 'home-t' } });
      const pid = p.body.project.id;
      const u = await env.cp.createUser(env.admin, 'home-t', 'resident', 'member');
      const { token } = await env.cp.createToken(env.admin, { userId: u.id, name: 'cli' });
      assert.equal((await env.call(token, 'GET', '/v1/vms')).status, 200);
      // nubis's own API disables it too, and shows it.
      const off = await env.call(env.adminToken, 'PATCH', `/v1/tenants/${pid}`, { enabled: false });
      assert.equal(off.status, 200, JSON.stringify(off.body));
      assert.equal(off.body.enabled, false);
      assert.equal((await ks(admin, 'GET', `/projects/${pid}`)).body.project.enabled, false);
      assert.equal((await env.call(token, 'GET', '/v1/vms')).status, 401);
      await ks(admin, 'PATCH', `/projects/${pid}`, { project: { enabled: true } });
      assert.equal((await env.call(token, 'GET', '/v1/vms')).status, 200);
      assert.equal((await env.call(env.adminToken, 'GET', `/v1/tenants/${pid}`)).body.enabled, true);
    });

    test('POST /users/{u}/password: the old password proves it, the new one logs in, old sessions end', async () => {
      const admin = await adminLogin();
      const uid = await newUser(admin, 'changer');
      const old = (await login({ id: uid }, 'changer-pw')).headers['x-subject-token'] as string;
      const change = (original: string) =>
        ks(undefined, 'POST', `/users/${uid}/password`, {
          user: { original_password: original, password: 'fresh-pw' },
        });
      assert.equal((await change('wrong')).status, 401);
      assert.equal((await login({ id: uid }, 'changer-pw')).status, 201);
      const r = await change('changer-pw');
      assert.equal(r.status, 204, JSON.stringify(r.body));
      assert.equal((await login({ id: uid }, 'changer-pw')).status, 401);
      const fresh = await login({ id: uid }, 'fresh-pw');
      assert.equal(fresh.status, 201);
      assert.equal(fresh.body.token.user.name, 'changer');
      assert.equal((await ks(old, 'GET', '/auth/projects')).status, 401);
      const missing = await ks(undefined, 'POST', `/users/${uid}/password`, { user: { password: 'x' } });
      assert.equal(missing.status, 400);
    });

    test('project_id on a user is its default project, shown back; a login without a role there is unscoped', async () => {
      const admin = await adminLogin();
      const pid = (await ks(admin, 'POST', '/projects', { project: { name: 'p-home' } })).body.project.id;
      const uid = await newUser(admin, 'homed', { project_id: pid, email: 'h@x.test' });
      const shown = (await ks(admin, 'GET', `/users/${uid}`)).body.user;
      assert.equal(shown.project_id, pid);
      assert.equal(shown.default_project_id, pid);
      const noRole = await login({ id: uid }, 'homed-pw');
      assert.equal(noRole.status, 201);
      assert.equal(noRole.body.token.project, undefined);
      await ks(admin, 'PUT', `/projects/${pid}/users/${uid}/roles/member`);
      const withRole = await login({ id: uid }, 'homed-pw');
      assert.equal(withRole.body.token.project.id, pid);

      const other = (await ks(admin, 'POST', '/projects', { project: { name: 'p-other' } })).body.project.id;
      const up = await ks(admin, 'PATCH', `/users/${uid}`, { user: { project_id: other, enabled: false } });
      assert.equal(up.status, 200);
      assert.equal(up.body.user.project_id, other);
      assert.equal(up.body.user.enabled, false);
      assert.equal((await ks(admin, 'GET', `/users/${uid}`)).body.user.project_id, other);
    });
  });
}
