/**
 * A 404 decided by a tenant-filtered lookup goes to the security log when the id is another
 * tenant's (issue 11): the answer stays the one a missing id gets, but an `access.denied` event with
 * reason `other-tenant`, the object's kind and id, the caller and the address is recorded, for each
 * kind of object a tenant owns; a missing id records nothing.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { controlPlane, storeBackends } from './helpers/control.ts';

for (const backend of storeBackends()) {
  describe(`another tenant's objects on ${backend.name}`, () => {
    if (backend.skip) return void test('every test', { skip: backend.skip });
    test('are 404 like a missing id, and each attempt is in the security log with kind and id', async () => {
      const { url, drop } = await backend.url();
      const t = await controlPlane(url, 2);
      try {
        const as = async (token: string, method: string, path: string, body?: unknown) => {
          const r = await t.app.inject({
            method: method as 'GET',
            url: path,
            remoteAddress: '203.0.113.7',
            headers: { authorization: `Bearer ${token}` },
            ...(body !== undefined ? { payload: body as object } : {}),
          });
          return { status: r.statusCode, body: r.body ? JSON.parse(r.body) : undefined };
        };
        const ok = async (token: string, method: string, path: string, body?: unknown) => {
          const r = await as(token, method, path, body);
          assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
          return r.body;
        };
        const member = async (tenant: string, name: string) => {
          await ok(t.adminToken, 'POST', '/v1/tenants', { name: tenant });
          const u = await ok(t.adminToken, 'POST', '/v1/users', { tenant, name, role: 'member' });
          return (await ok(t.adminToken, 'POST', '/v1/tokens', { name, userId: u.id })).token as string;
        };
        const ann = await member('acme', 'ann');
        const bob = await member('globex', 'bob');
        await ok(ann, 'GET', '/v1/me'); // its token.new-address event, before the cases
        const op = await ok(bob, 'POST', '/v1/vms', { name: 'db', flavor: 'm1.tiny', image: 'tiny' });
        const sg = await ok(bob, 'POST', '/v1/scaling-groups', {
          name: 'web',
          flavor: 'm1.tiny',
          image: 'tiny',
          min: 0,
          max: 1,
          desired: 0,
          policy: {
            scaleOutAbove: 0.8,
            scaleInBelow: 0.2,
            adjustmentType: 'change',
            adjustment: 1,
            cooldownS: 0,
          },
        });
        const group = await ok(bob, 'POST', '/v1/server-groups', { name: 'g', policy: 'anti-affinity' });
        const c = await ok(bob, 'POST', '/v1/constraints', { name: 'c', type: 'anti-affinity' });

        // kind, bob's id, the request (with ID where the id goes), ann's operation.
        const cases: [string, string, (id: string) => [string, string, unknown?], string][] = [
          ['vm', op.vmId, (id) => ['GET', `/v1/vms/${id}`], 'vm:read'],
          ['vm', op.vmId, (id) => ['POST', `/v1/vms/${id}/actions`, { action: 'stop' }], 'vm:action'],
          ['vm', op.vmId, (id) => ['GET', `/v1/vms/${id}/snapshots`], 'vm:read'],
          [
            'vm',
            op.vmId,
            (id) => ['POST', '/v1/constraints', { name: 'x', type: 'ban', vms: [id] }],
            'constraint:write',
          ],
          ['operation', op.operationId ?? op.id, (id) => ['GET', `/v1/operations/${id}`], 'operation:read'],
          ['scaling group', sg.id, (id) => ['GET', `/v1/scaling-groups/${id}`], 'scaling-group:read'],
          ['scaling group', sg.id, (id) => ['DELETE', `/v1/scaling-groups/${id}`], 'scaling-group:write'],
          ['server group', group.id, (id) => ['GET', `/v1/server-groups/${id}`], 'server-group:read'],
          [
            'server group',
            group.id,
            (id) => ['POST', '/v1/vms', { name: 'v', flavor: 'm1.tiny', image: 'tiny', serverGroup: id }],
            'server-group:read',
          ],
          ['constraint', c.id, (id) => ['GET', `/v1/constraints/${id}`], 'constraint:read'],
          ['constraint', c.id, (id) => ['DELETE', `/v1/constraints/${id}`], 'constraint:write'],
        ];
        const last = async () =>
          (await t.db.selectFrom('security_events').selectAll().orderBy('id', 'desc').limit(1).execute())[0];
        for (const [kind, id, req, operation] of cases) {
          const missing = id.replace(/[0-9a-f]/g, '0').replace(/^0/, '1');
          const before = await last();
          const [m, path, body] = req(missing);
          const none = await as(ann, m, path, body);
          assert.equal(none.status, 404, `${m} ${path}: ${JSON.stringify(none.body)}`);
          assert.equal((await last())?.id, before?.id, `${m} ${path}: a missing id is not an attack`);
          const [m2, path2, body2] = req(id);
          const theirs = await as(ann, m2, path2, body2);
          assert.equal(theirs.status, 404, `${m2} ${path2}: ${JSON.stringify(theirs.body)}`);
          // The same answer as for a missing id, but for the id itself.
          assert.deepEqual(
            JSON.parse(JSON.stringify(theirs.body).replaceAll(id, missing)),
            none.body,
            `${m2} ${path2}`,
          );
          const e = await last();
          assert.deepEqual(
            [e?.kind, e?.principal, e?.source, e?.operation, JSON.parse(e!.detail)],
            [
              'access.denied',
              'ann',
              '203.0.113.7',
              operation,
              { status: 404, role: 'member', reason: 'other-tenant', objectKind: kind, objectId: id },
            ],
            `${m2} ${path2}`,
          );
        }
      } finally {
        await t.close();
        await drop();
      }
    });
  });
}
