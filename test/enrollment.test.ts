/**
 * Host enrollment and per-host credentials (issue 11): join tokens are single use and expire; only a
 * host credential authenticates a heartbeat, for its own host; a heartbeat cannot move the agent URL;
 * the control plane sends each agent's credential to the URL bound at enrollment only.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { controlPlane, storeBackends } from './helpers/control.ts';

/** A fake agent: answers power calls, records what it was sent. */
async function fakeAgent() {
  const seen: { method: string; url: string; authorization?: string }[] = [];
  const server: Server = createServer((req, res) => {
    seen.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization });
    req.resume();
    res.setHeader('content-type', 'application/json');
    res.end(req.url === '/v1/guests' ? '[]' : JSON.stringify({ exitCode: 0, output: '' }));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', () => ok()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, seen, close: () => new Promise<void>((ok) => server.close(() => ok())) };
}

for (const backend of storeBackends()) {
  describe(`host enrollment on ${backend.name}`, () => {
    if (backend.skip) return void test('enrollment', { skip: backend.skip });
    let t: Awaited<ReturnType<typeof controlPlane>>;
    let drop: () => Promise<void>;
    let operatorToken: string;
    const agents: Awaited<ReturnType<typeof fakeAgent>>[] = [];
    const joinToken = async (expiresInS = 600) =>
      (await t.call(t.adminToken, 'POST', '/v1/hosts/join-tokens', { expiresInS })).body.token as string;
    const enroll = async (token: string, hostname: string, agentUrl: string, extra = {}) =>
      t.call(undefined, 'POST', '/v1/agents/enroll', {
        joinToken: token,
        hostname,
        agentUrl,
        cpus: 8,
        memoryMiB: 16384,
        ...extra,
      });
    const events = async (kind: string) =>
      ((await t.call(t.adminToken, 'GET', '/v1/events?limit=1000')).body as { kind: string }[]).filter(
        (e) => e.kind === kind,
      );

    before(async () => {
      const s = await backend.url();
      drop = s.drop;
      t = await controlPlane(s.url, 1);
      const op = await t.call(t.adminToken, 'POST', '/v1/users', {
        tenant: 'admin',
        name: 'otto',
        role: 'operator',
      });
      operatorToken = (await t.call(t.adminToken, 'POST', '/v1/tokens', { name: 'ops', userId: op.body.id }))
        .body.token;
      for (let i = 0; i < 3; i++) agents.push(await fakeAgent());
    });
    after(async () => {
      for (const a of agents) await a.close();
      await t?.close();
      await drop?.();
    });

    test('only admins create join tokens; the token is shown once and stored hashed', async () => {
      assert.equal(
        (await t.call(operatorToken, 'POST', '/v1/hosts/join-tokens', { expiresInS: 60 })).status,
        403,
      );
      const r = await t.call(t.adminToken, 'POST', '/v1/hosts/join-tokens', { expiresInS: 60, name: 'r1' });
      assert.equal(r.status, 201);
      assert.match(r.body.token, /^nubis_join_/);
      const rows = await t.db.selectFrom('join_tokens').select('hash').execute();
      assert.ok(rows.every((x) => x.hash !== r.body.token && !x.hash.includes(r.body.token)));
      const bad = await t.call(t.adminToken, 'POST', '/v1/hosts/join-tokens', { expiresInS: 10 ** 9 });
      assert.equal(bad.status, 400);
    });

    test('a heartbeat with an operator token cannot register a host', async () => {
      const r = await t.call(operatorToken, 'POST', '/v1/agents/heartbeat', {
        agentUrl: agents[2]!.url,
        hostname: 'spoofed',
        cpus: 4,
        memoryMiB: 8192,
      });
      assert.equal(r.status, 401, JSON.stringify(r.body));
      const hosts = (await t.call(t.adminToken, 'GET', '/v1/hosts')).body as { name: string }[];
      assert.ok(!hosts.some((h) => h.name === 'spoofed'));
    });

    test('a join token enrolls one host; a second enrollment with it is refused; an expired one is refused', async () => {
      const jt = await joinToken();
      const a = await enroll(jt, 'metal-a', agents[0]!.url, { agentCredential: 'a'.repeat(40) });
      assert.equal(a.status, 201, JSON.stringify(a.body));
      assert.match(a.body.hostCredential, /^nubis_host_/);
      assert.equal(a.body.agentCredential, undefined, 'the agent issued its own: not echoed');
      const again = await enroll(jt, 'metal-x', agents[2]!.url);
      assert.equal(again.status, 401);
      const old = await joinToken(30);
      t.clock.advanceBy(31);
      assert.equal((await enroll(old, 'metal-y', agents[2]!.url)).status, 401);
      const b = await enroll(await joinToken(), 'metal-b', agents[1]!.url);
      assert.equal(b.status, 201);
      assert.ok(b.body.agentCredential, 'generated by the control plane when the agent gave none');
      assert.equal((await events('host.enrolled')).length, 2);
      // The security log has both outcomes, never a token.
      const sec = (await t.call(t.adminToken, 'GET', '/v1/security-events?limit=1000')).body as {
        kind: string;
      }[];
      assert.equal(sec.filter((e) => e.kind === 'enrollment.succeeded').length, 2);
      assert.equal(sec.filter((e) => e.kind === 'enrollment.failed').length, 2);
      assert.ok(!JSON.stringify(sec).includes(jt) && !JSON.stringify(sec).includes(a.body.hostCredential));
      const shown = JSON.stringify((await t.call(t.adminToken, 'GET', '/v1/hosts/metal-a')).body);
      assert.ok(
        !shown.includes('a'.repeat(40)) && !shown.includes(a.body.hostCredential),
        'no credential is shown',
      );
    });

    test('of two enrollments racing with one join token, one wins', async () => {
      const jt = await joinToken();
      const r = await Promise.all([
        enroll(jt, 'race-1', agents[2]!.url),
        enroll(jt, 'race-2', agents[2]!.url),
      ]);
      assert.deepEqual(r.map((x) => x.status).sort(), [201, 401]);
      assert.equal((await enroll(await joinToken(), '../etc', agents[2]!.url)).status, 400);
    });

    test("a heartbeat of host A with host B's credential reports B only; a heartbeat cannot redirect the agent URL", async () => {
      const credB = (await enroll(await joinToken(), 'metal-c', agents[1]!.url)).body
        .hostCredential as string;
      const hb = await t.call(credB, 'POST', '/v1/agents/heartbeat', { hostname: 'metal-a' });
      assert.equal(hb.status, 200);
      const c = (await t.call(t.adminToken, 'GET', '/v1/hosts/metal-c')).body;
      assert.equal(hb.body.hostId, c.id, "the credential's host, whatever name the body gives");
      // The cloud's fingerprint key: a secret, the same for every agent and every heartbeat.
      assert.match(hb.body.fingerprintKey, /^.{20,}$/);
      const again = await t.call(credB, 'POST', '/v1/agents/heartbeat', {});
      assert.equal(again.body.fingerprintKey, hb.body.fingerprintKey);
      const users = await t.call(t.adminToken, 'GET', '/v1/settings/energy');
      assert.ok(!JSON.stringify(users.body).includes(hb.body.fingerprintKey), 'no settings route shows it');
      const moved = await t.call(credB, 'POST', '/v1/agents/heartbeat', { agentUrl: agents[2]!.url });
      assert.equal(moved.status, 403, JSON.stringify(moved.body));
      assert.equal((await events('security.heartbeat-refused')).length, 1);
      const sec = (await t.call(t.adminToken, 'GET', '/v1/security-events?kind=heartbeat.refused')).body;
      assert.equal(sec.length, 1, JSON.stringify(sec));
      const row = await t.db
        .selectFrom('hosts')
        .select('agent_url')
        .where('name', '=', 'metal-c')
        .executeTakeFirst();
      assert.equal(row!.agent_url, agents[1]!.url);
      assert.equal((await t.call('nubis_host_forged', 'POST', '/v1/agents/heartbeat', {})).status, 401);
    });

    test('the control plane sends each agent its own credential, at the bound URL only', async () => {
      const jt = await joinToken();
      const cred = 'z'.repeat(43);
      const r = await enroll(jt, 'metal-d', agents[0]!.url, { agentCredential: cred });
      await t.call(r.body.hostCredential, 'POST', '/v1/agents/heartbeat', { agentUrl: agents[2]!.url });
      for (const a of agents) a.seen.length = 0;
      const off = await t.call(t.adminToken, 'POST', '/v1/hosts/metal-d/power', { action: 'off' });
      assert.equal(off.status, 200, JSON.stringify(off.body));
      assert.deepEqual(
        agents[0]!.seen.map((s) => [s.method, s.url, s.authorization]),
        [['POST', '/v1/host/power', `Bearer ${cred}`]],
      );
      assert.deepEqual(agents[2]!.seen, [], 'nothing goes to the address a heartbeat named');
      assert.ok(
        agents[1]!.seen.every((s) => s.authorization !== `Bearer ${cred}`),
        "another host's agent never gets this credential",
      );
    });

    test('an admin registers a real host directly and gets its credentials once', async () => {
      const r = await t.call(t.adminToken, 'POST', '/v1/hosts', {
        name: 'metal-e',
        vcpus: 4,
        memoryMiB: 8192,
        diskGiB: 10,
        driver: 'qemu',
        agentUrl: agents[1]!.url,
      });
      assert.equal(r.status, 201);
      assert.match(r.body.hostCredential, /^nubis_host_/);
      assert.equal((await t.call(r.body.hostCredential, 'POST', '/v1/agents/heartbeat', {})).status, 200);
      assert.ok(
        !JSON.stringify((await t.call(t.adminToken, 'GET', '/v1/hosts/metal-e')).body).includes(
          r.body.agentCredential,
        ),
      );
    });
  });
}
