/**
 * A VM's serial console through the API on simulated hosts: the log for its tenant (readers too)
 * and admins, 404 for another tenant's member and operators of other tenants; the interactive
 * console over a WebSocket opened with a one-time ticket (members and admins only), relaying a
 * typed line to the guest's shell and its answer back.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import { controlPlane } from './helpers/control.ts';

type Api = Awaited<ReturnType<typeof controlPlane>>;

/** Open a console WebSocket; resolves when open, or rejects with the HTTP status of the refusal. */
function openWs(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

/** Collect what the WebSocket receives until `pred(all text)` holds (or 5 s pass: a failure). */
function readUntil(ws: WebSocket, pred: (s: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let all = '';
    const t = setTimeout(
      () => reject(new Error(`console never showed the expected text; got ${JSON.stringify(all)}`)),
      5000,
    );
    ws.on('message', (d: Buffer) => {
      all += d.toString('utf8');
      if (pred(all)) {
        clearTimeout(t);
        resolve(all);
      }
    });
  });
}

describe('the serial console through the API (simulated hosts)', () => {
  let t: Api;
  let base = '';
  const tok: Record<string, string> = {};
  let vm = '';
  let otherVm = '';

  before(async () => {
    t = await controlPlane(':memory:');
    const admin = async (method: string, url: string, body?: unknown) => {
      const r = await t.call(t.adminToken, method, url, body);
      assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    };
    for (const name of ['acme', 'globex'])
      await admin('POST', '/v1/tenants', { name, quotas: { vms: 10, vcpus: 10, memoryMiB: 1 << 16 } });
    for (const [tenant, user, role] of [
      ['acme', 'ann', 'member'],
      ['acme', 'rita', 'reader'],
      ['globex', 'bob', 'member'],
      ['globex', 'gus', 'operator'],
    ] as const) {
      const u = await admin('POST', '/v1/users', { tenant, name: user, role });
      tok[user] = (await admin('POST', '/v1/tokens', { name: `${user}-t`, userId: u.id })).token;
    }
    tok.admin = t.adminToken;
    const mk = async (who: string, name: string) => {
      const r = await t.call(tok[who], 'POST', '/v1/vms', { name, flavor: 'm1.tiny', image: 'tiny' });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      return r.body.vmId as string;
    };
    vm = await mk('ann', 'web-1');
    otherVm = await mk('bob', 'db-1');
    base = (await t.app.listen({ host: '127.0.0.1', port: 0 })).replace(/^http/, 'ws');
  });
  after(() => t?.close());

  test('its tenant (readers too) and admins read the log; it ends with the boot log', async () => {
    for (const who of ['ann', 'rita', 'admin']) {
      const r = await t.call(tok[who], 'GET', `/v1/vms/${vm}/console`);
      assert.equal(r.status, 200, `${who}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.text, /nubis-ready/);
      assert.equal(r.body.vmId, vm);
      assert.equal(r.body.truncated, false);
      assert.equal(r.body.sizeBytes, Buffer.byteLength(r.body.text));
      // Members learn nothing of hosts, not even through a simulated boot log.
      assert.doesNotMatch(r.body.text, /sim-\d{3}/);
    }
    // By name, and only the tail asked for.
    const tail = await t.call(tok.ann, 'GET', '/v1/vms/web-1/console?tail=12');
    assert.equal(tail.status, 200);
    assert.equal(Buffer.byteLength(tail.body.text), 12);
    assert.equal(tail.body.truncated, true);
  });

  test('another tenant (its member or operator) gets 404, never the log; operators get no console', async () => {
    for (const who of ['bob', 'gus']) {
      const r = await t.call(tok[who], 'GET', `/v1/vms/${vm}/console`);
      assert.equal(r.status, 404, who);
      assert.doesNotMatch(JSON.stringify(r.body), /nubis-ready/);
    }
    assert.equal((await t.call(tok.bob, 'POST', `/v1/vms/${vm}/console/tickets`)).status, 404);
    // Operators open no consoles at all (403 for any VM, so it says nothing about this one).
    assert.equal((await t.call(tok.gus, 'POST', `/v1/vms/${vm}/console/tickets`)).status, 403);
  });

  test('a tail outside 1..1 MiB is refused with what is accepted', async () => {
    for (const tail of ['0', '1048577', 'x', '1.5']) {
      const r = await t.call(tok.ann, 'GET', `/v1/vms/${vm}/console?tail=${tail}`);
      assert.equal(r.status, 400, tail);
      assert.match(r.body.message, /tail/);
    }
  });

  test('readers get the log but not the interactive console', async () => {
    assert.equal((await t.call(tok.rita, 'POST', `/v1/vms/${vm}/console/tickets`)).status, 403);
  });

  test('a ticket opens the console once: a typed line reaches the shell and its answer comes back', async () => {
    const r = await t.call(tok.ann, 'POST', `/v1/vms/${vm}/console/tickets`);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.path, `/v1/vms/${vm}/console/ws`);
    const url = `${base}${r.body.path}?ticket=${encodeURIComponent(r.body.ticket)}`;
    const ws = await openWs(url);
    const word = `hello-${Math.floor(Math.random() * 1e6)}`;
    const got = readUntil(ws, (s) => s.includes(`\r\n${word}\r\n`));
    ws.send(`echo ${word}\r`);
    assert.match(await got, new RegExp(`echo ${word}\\r\\n${word}\\r\\n`));
    ws.close();
    // The session is in the log now.
    const log = await t.call(tok.ann, 'GET', `/v1/vms/${vm}/console`);
    assert.match(log.body.text, new RegExp(`\\r\\n${word}\\r\\n`));
    // Used once: the same ticket is refused.
    await assert.rejects(openWs(url), /status 401/);
  });

  test("no ticket, a made-up one, or another VM's ticket opens nothing", async () => {
    await assert.rejects(openWs(`${base}/v1/vms/${vm}/console/ws`), /status 401/);
    await assert.rejects(openWs(`${base}/v1/vms/${vm}/console/ws?ticket=nubisc_madeup`), /status 401/);
    const bobs = await t.call(tok.bob, 'POST', `/v1/vms/${otherVm}/console/tickets`);
    assert.equal(bobs.status, 201);
    await assert.rejects(openWs(`${base}/v1/vms/${vm}/console/ws?ticket=${bobs.body.ticket}`), /status 401/);
    // Each refusal is in the security log, without the ticket.
    const sec = (await t.call(tok.admin, 'GET', '/v1/security-events?kind=login.failed')).body as {
      detail: { reason: string };
    }[];
    assert.ok(sec.some((e) => e.detail.reason === 'console ticket for another VM'));
    assert.ok(sec.some((e) => e.detail.reason === 'unknown console ticket'));
    assert.doesNotMatch(JSON.stringify(sec), new RegExp(bobs.body.ticket));
  });

  test("when the VM's host fails, a member is told without the host's name (log and console)", async () => {
    const v = await t.call(t.adminToken, 'GET', `/v1/vms/${vm}`);
    const ticket = (await t.call(tok.ann, 'POST', `/v1/vms/${vm}/console/tickets`)).body;
    t.sim.setPower(v.body.hostId, false);
    try {
      const log = await t.call(tok.ann, 'GET', `/v1/vms/${vm}/console`);
      assert.equal(log.status, 502);
      assert.doesNotMatch(JSON.stringify(log.body), new RegExp(v.body.hostName));
      const refused = await new Promise<{ status?: number; body: string }>((resolve) => {
        const ws = new WebSocket(`${base}${ticket.path}?ticket=${ticket.ticket}`);
        ws.once('unexpected-response', (_req, res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode, body }));
        });
        ws.once('error', () => {});
      });
      assert.equal(refused.status, 502);
      assert.match(refused.body, /BACKEND/);
      assert.doesNotMatch(refused.body, new RegExp(v.body.hostName));
    } finally {
      t.sim.setPower(v.body.hostId, true);
    }
  });

  test('a ticket expires after 30 s', async () => {
    const r = await t.call(tok.ann, 'POST', `/v1/vms/${vm}/console/tickets`);
    t.clock.advanceBy(31);
    await assert.rejects(openWs(`${base}${r.body.path}?ticket=${r.body.ticket}`), /status 401/);
  });
});
