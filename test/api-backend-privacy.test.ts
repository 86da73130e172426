/**
 * Backend messages do not leak hosts to members (issue 11): an agent that cannot be reached fails
 * an operation with "Agent http://127.0.0.1:1 is unreachable ..."; members and readers read that
 * operation, its events and the 502 of a call that reaches the agent without the URL, the address or
 * the host's name and id ("a host"); operators and admins read the message as it is.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { redactor } from '../src/api/host-privacy.ts';
import { controlPlane } from './helpers/control.ts';

test('redactor() replaces URLs, IPv4 and IPv6 addresses and host names and ids, and leaves times and versions', () => {
  const r = redactor([
    { id: 'h-1', name: 'rack1-a' },
    { id: 'h-10', name: 'node.example' },
  ]);
  assert.equal(
    r('Agent http://127.0.0.1:1 is unreachable: connect ECONNREFUSED 127.0.0.1:1'),
    'Agent a host is unreachable: connect ECONNREFUSED a host',
  );
  assert.equal(r('on rack1-a and h-10, then h-1.'), 'on a host and a host, then a host.');
  assert.equal(r('fe80::1, [::1]:7070 and 2001:db8:0:0:0:0:0:1'), 'a host, a host and a host');
  assert.equal(r('node.example is down; vm h-1x'), 'a host is down; vm h-1x');
  assert.equal(
    r('at 12:30:45, qemu 8.2.1, 2026-01-01T00:00:00Z'),
    'at 12:30:45, qemu 8.2.1, 2026-01-01T00:00:00Z',
  );
});

test("members and readers never read an agent's URL, address or host name in errors; operators do", async () => {
  const t = await controlPlane(':memory:', 0);
  try {
    const a = t.adminToken;
    const host = await t.call(a, 'POST', '/v1/hosts', {
      name: 'secret-rack-7',
      vcpus: 16,
      memoryMiB: 65536,
      diskGiB: 500,
      driver: 'qemu',
      agentUrl: 'http://127.0.0.1:1',
    });
    assert.equal(host.status, 201, JSON.stringify(host.body));
    const hostId = host.body.id ?? host.body.host?.id;
    await t.call(a, 'POST', '/v1/tenants', { name: 'acme' });
    const tok: Record<string, string> = {};
    for (const [name, role] of [
      ['mia', 'member'],
      ['rex', 'reader'],
      ['oda', 'operator'],
    ] as const) {
      const u = await t.call(a, 'POST', '/v1/users', { tenant: 'acme', name, role });
      tok[name] = (await t.call(a, 'POST', '/v1/tokens', { name, userId: u.body.id })).body.token;
    }
    const leaks = new RegExp(['127\\.0\\.0\\.1', 'http://', 'secret-rack-7', hostId].join('|'));

    const created = await t.call(tok.mia!, 'POST', '/v1/vms', {
      name: 'web',
      flavor: 'm1.tiny',
      image: 'tiny',
    });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    const opId = created.body.operationId ?? created.body.id;
    let op: { status: number; body: { status: string; error: string | null } } | undefined;
    for (let i = 0; i < 200; i++) {
      op = await t.call(t.adminToken, 'GET', `/v1/operations/${opId}`);
      if (op.body.status !== 'running' && op.body.status !== 'pending') break;
      await new Promise((r) => setTimeout(r, 10));
    }
    // The admin reads the backend's message as it is: it names the agent's URL.
    assert.equal(op!.body.status, 'failed', JSON.stringify(op!.body));
    assert.match(op!.body.error!, /127\.0\.0\.1:1/);
    for (const who of [tok.oda!]) {
      assert.match((await t.call(who, 'GET', `/v1/operations/${opId}`)).body.error, /127\.0\.0\.1:1/);
      assert.match(JSON.stringify((await t.call(who, 'GET', '/v1/events')).body), /127\.0\.0\.1:1/);
    }
    // Members and readers read the same failure with "a host" in its place.
    for (const who of [tok.mia!, tok.rex!]) {
      const mine = await t.call(who, 'GET', `/v1/operations/${opId}`);
      assert.equal(mine.status, 200);
      assert.equal(mine.body.status, 'failed');
      assert.match(mine.body.error, /a host/);
      assert.doesNotMatch(JSON.stringify(mine.body), leaks);
      const events = await t.call(who, 'GET', '/v1/events');
      assert.ok(events.body.length > 0);
      assert.doesNotMatch(JSON.stringify(events.body), leaks);
      assert.doesNotMatch(JSON.stringify((await t.call(who, 'GET', '/v1/vms')).body), leaks);
    }
    // A call that reaches the agent: a 502 whose message names no host for a member.
    const vmId = created.body.vmId;
    const snap = await t.call(tok.mia!, 'GET', `/v1/vms/${vmId}/snapshots`);
    const snapOp = await t.call(tok.oda!, 'GET', `/v1/vms/${vmId}/snapshots`);
    assert.equal(snapOp.status, 502, JSON.stringify(snapOp.body));
    assert.match(snapOp.body.message, /127\.0\.0\.1:1/);
    assert.equal(snap.status, 502, JSON.stringify(snap.body));
    assert.match(snap.body.message, /a host is unreachable/);
    assert.doesNotMatch(JSON.stringify(snap.body), leaks);
  } finally {
    await t.close();
  }
});
