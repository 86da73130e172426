/**
 * The security event log (issue 11): failed logins (unknown, expired, revoked token) with the source
 * address, denied actions, token creation and revocation, a token's use from a new address, and
 * enrollments recorded through `recordSecurityEvent`; admins read it, others get 403; no row ever
 * holds a secret (a token or its hash).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hashToken } from '../src/control/principal.ts';
import { recordSecurityEvent } from '../src/control/security/security-log.ts';
import { controlPlane, storeBackends } from './helpers/control.ts';

for (const backend of storeBackends()) {
  describe(`the security event log on ${backend.name}`, () => {
    if (backend.skip) return void test('every test', { skip: backend.skip });
    test('each kind appears with who, where and what; only admins read it; no secret in any row', async () => {
      const { url, drop } = await backend.url();
      const t = await controlPlane(url, 2);
      try {
        const secrets: string[] = [t.adminToken];
        const as = async (
          token: string | undefined,
          method: string,
          path: string,
          body?: unknown,
          from = '127.0.0.1',
        ) => {
          const r = await t.app.inject({
            method: method as 'GET',
            url: path,
            remoteAddress: from,
            headers: token ? { authorization: `Bearer ${token}` } : {},
            ...(body !== undefined ? { payload: body as object } : {}),
          });
          return { status: r.statusCode, body: r.body ? JSON.parse(r.body) : undefined };
        };
        const admin = async (method: string, path: string, body?: unknown) => {
          const r = await as(t.adminToken, method, path, body);
          assert.ok(r.status < 300, `${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
          return r.body;
        };
        const events = async (q = '') => (await admin('GET', `/v1/security-events${q}`)) as any[]; // eslint-disable-line @typescript-eslint/no-explicit-any

        // token.created / token.revoked, and a member for the denials.
        await admin('POST', '/v1/tenants', { name: 'acme' });
        const ann = await admin('POST', '/v1/users', { tenant: 'acme', name: 'ann', role: 'member' });
        const otto = await admin('POST', '/v1/users', { tenant: 'acme', name: 'otto', role: 'operator' });
        const annTok = await admin('POST', '/v1/tokens', { name: 'ann-cli', userId: ann.id });
        const ottoTok = await admin('POST', '/v1/tokens', { name: 'otto-cli', userId: otto.id });
        const short = await admin('POST', '/v1/tokens', { name: 'short', userId: ann.id, expiresInS: 60 });
        const gone = await admin('POST', '/v1/tokens', { name: 'gone', userId: ann.id });
        secrets.push(annTok.token, ottoTok.token, short.token, gone.token);
        await admin('DELETE', `/v1/tokens/${gone.id}`);
        const created = await events('?kind=token.created');
        assert.deepEqual(
          created.map((e) => e.object),
          [annTok.id, ottoTok.id, short.id, gone.id],
        );
        assert.equal(created[0].principal, 'admin');
        assert.equal(created[0].detail.user, 'ann');
        const [revoked] = await events('?kind=token.revoked');
        assert.equal(revoked.object, gone.id);

        // login.failed: unknown, revoked, expired; with the address, never the token.
        const wrong = 'nubis_not-a-real-token-0123456789';
        secrets.push(wrong);
        assert.equal((await as(wrong, 'GET', '/v1/vms', undefined, '203.0.113.7')).status, 401);
        assert.equal((await as(gone.token, 'GET', '/v1/vms', undefined, '203.0.113.8')).status, 401);
        t.clock.advanceBy(61);
        assert.equal((await as(short.token, 'GET', '/v1/vms')).status, 401);
        const failed = await events('?kind=login.failed');
        assert.deepEqual(
          failed.map((e) => [e.detail.reason, e.source, e.principal, e.detail.tokenId ?? null]),
          [
            ['unknown', '203.0.113.7', null, null],
            ['revoked', '203.0.113.8', 'ann', gone.id],
            ['expired', '127.0.0.1', 'ann', short.id],
          ],
        );

        // token.new-address: the first use from each address, once.
        const before = (await events('?kind=token.new-address')).length;
        for (let i = 0; i < 3; i++) assert.equal((await as(annTok.token, 'GET', '/v1/me')).status, 200);
        assert.equal((await as(annTok.token, 'GET', '/v1/me', undefined, '198.51.100.4')).status, 200);
        const fresh = (await events('?kind=token.new-address')).slice(before);
        assert.deepEqual(
          fresh.map((e) => [e.principal, e.source, e.detail.tokenId]),
          [
            ['ann', '127.0.0.1', annTok.id],
            ['ann', '198.51.100.4', annTok.id],
          ],
        );

        // access.denied: a 403 of the policy table, and a 404 for another user's token.
        assert.equal((await as(annTok.token, 'GET', '/v1/hosts')).status, 403);
        assert.equal((await as(annTok.token, 'DELETE', `/v1/tokens/${ottoTok.id}`)).status, 404);
        const denied = await events('?kind=access.denied');
        assert.deepEqual(
          denied.map((e) => [e.principal, e.operation, e.object, e.detail.status, e.source]),
          [
            ['ann', 'host:read', 'GET /v1/hosts', 403, '127.0.0.1'],
            ['ann', 'token:revoke', `DELETE /v1/tokens/${ottoTok.id}`, 404, '127.0.0.1'],
          ],
        );

        // Only admins read the log; the refusals are logged too.
        for (const tok of [annTok.token, ottoTok.token]) {
          const r = await as(tok, 'GET', '/v1/security-events');
          assert.equal(r.status, 403);
          assert.match(r.body.message, /security-event:read .* needs role admin/);
        }
        assert.equal((await as(undefined, 'GET', '/v1/security-events')).status, 401);
        const last = (await events()).at(-1);
        assert.deepEqual(
          [last.kind, last.principal, last.operation],
          ['access.denied', 'otto', 'security-event:read'],
        );

        // Enrollments, from the module that enrolls hosts.
        await t.db.transaction().execute((trx) =>
          recordSecurityEvent(t.cp.ctx, trx, {
            kind: 'enrollment.succeeded',
            principal: 'host h-9',
            source: '192.0.2.9',
            object: 'h-9',
            detail: { hostId: 'h-9' },
          }),
        );
        assert.equal((await events('?kind=enrollment.succeeded'))[0].object, 'h-9');

        // Paging and filters: after=, limit=, and an unknown kind is a 400 naming the accepted ones.
        const all = await events('?limit=10000');
        assert.deepEqual(
          (await events(`?after=${all[1].id}&limit=2`)).map((e) => e.id),
          [all[2].id, all[3].id],
        );
        assert.deepEqual(
          (await events('?limit=2')).map((e) => e.id),
          all.slice(-2).map((e) => e.id),
        );
        const bad = await as(t.adminToken, 'GET', '/v1/security-events?kind=everything');
        assert.equal(bad.status, 400);
        assert.match(bad.body.message, /login\.failed/);

        // No row holds a secret or its hash.
        const rows = JSON.stringify(await t.db.selectFrom('security_events').selectAll().execute());
        for (const s of secrets) {
          assert.ok(!rows.includes(s), 'a token in the security log');
          assert.ok(!rows.includes(hashToken(s)), "a token's hash in the security log");
        }
        const kinds = new Set(all.map((e) => e.kind));
        for (const k of [
          'login.failed',
          'access.denied',
          'token.created',
          'token.revoked',
          'token.new-address',
        ])
          assert.ok(kinds.has(k), k);
      } finally {
        await t.close();
        await drop();
      }
    });
  });
}
