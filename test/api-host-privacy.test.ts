import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controlPlane } from './helpers/control.ts';

/** A tenant with a member, a reader and an operator; returns their tokens. */
async function people(t: Awaited<ReturnType<typeof controlPlane>>) {
  const a = t.adminToken;
  await t.call(a, 'POST', '/v1/tenants', { name: 'acme', quotas: { vcpus: 64, memoryMiB: 262144, vms: 20 } });
  const tok: Record<string, string> = {};
  for (const [name, role] of [
    ['mia', 'member'],
    ['rex', 'reader'],
    ['oda', 'operator'],
  ] as const) {
    const u = await t.call(a, 'POST', '/v1/users', { tenant: 'acme', name, role });
    tok[name] = (await t.call(a, 'POST', '/v1/tokens', { name, userId: u.body.id })).body.token;
  }
  return tok;
}

test('members and readers never choose or see hosts; operators and admins see everything', async () => {
  const t = await controlPlane(':memory:', 3);
  const tok = await people(t);
  const hosts = (await t.call(t.adminToken, 'GET', '/v1/hosts')).body as { id: string; name: string }[];
  const names = new RegExp(hosts.flatMap((h) => [h.id, h.name]).join('|'));
  const op = await t.call(tok.mia!, 'POST', '/v1/vms', { name: 'web', flavor: 'm1.small', image: 'tiny' });
  assert.equal(op.status, 202);
  const id = op.body.vmId as string;

  // Reads: the VM, the list, the operation and the events carry no host.
  for (const who of [tok.mia!, tok.rex!]) {
    const one = await t.call(who, 'GET', `/v1/vms/${id}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.hostId, undefined);
    assert.equal(one.body.hostName, undefined);
    assert.doesNotMatch(JSON.stringify((await t.call(who, 'GET', '/v1/vms')).body), names);
    assert.doesNotMatch(JSON.stringify((await t.call(who, 'GET', '/v1/events')).body), names);
    assert.equal((await t.call(who, 'GET', `/v1/vms?host=${hosts[0]!.id}`)).status, 403);
  }
  // Operators and admins see where it runs.
  for (const who of [tok.oda!, t.adminToken]) {
    const one = await t.call(who, 'GET', `/v1/vms/${id}`);
    assert.ok(hosts.some((h) => h.id === one.body.hostId && h.name === one.body.hostName));
  }

  // A member may not name a migration target (403 saying operators choose), and nothing moved.
  const where = (await t.call(t.adminToken, 'GET', `/v1/vms/${id}`)).body.hostId;
  const other = hosts.find((h) => h.id !== where)!;
  const named = await t.call(tok.mia!, 'POST', `/v1/vms/${id}/migrate`, { toHost: other.name });
  assert.equal(named.status, 403);
  assert.match(named.body.message, /operators choose hosts/);
  assert.equal((await t.call(t.adminToken, 'GET', `/v1/vms/${id}`)).body.hostId, where);
  // Without a target placement chooses; the answer and the events name no host.
  const moved = await t.call(tok.mia!, 'POST', `/v1/vms/${id}/migrate`, {});
  assert.equal(moved.status, 202, JSON.stringify(moved.body));
  assert.doesNotMatch(JSON.stringify(moved.body), names);
  assert.notEqual((await t.call(t.adminToken, 'GET', `/v1/vms/${id}`)).body.hostId, where);
  assert.doesNotMatch(JSON.stringify((await t.call(tok.mia!, 'GET', '/v1/events')).body), names);
  // The operator names a host.
  const back = await t.call(tok.oda!, 'POST', `/v1/vms/${id}/migrate`, { toHost: where });
  assert.equal(back.status, 202, JSON.stringify(back.body));
  assert.equal((await t.call(t.adminToken, 'GET', `/v1/vms/${id}`)).body.hostId, where);

  // No host fits: the member learns the size asked and the filters' counts, not the hosts or their load.
  await t.call(t.adminToken, 'POST', '/v1/flavors', { name: 'big', vcpus: 8, memoryMiB: 200000, diskGiB: 1 });
  const dry = await t.call(tok.mia!, 'POST', '/v1/vms', {
    name: 'b',
    flavor: 'big',
    image: 'tiny',
    dryRun: true,
    zone: 'z',
  });
  assert.equal(dry.status, 200);
  assert.equal(dry.body.fits, false);
  assert.doesNotMatch(JSON.stringify(dry.body), names);
  assert.doesNotMatch(JSON.stringify(dry.body), /MiB free|score/);
  assert.match(dry.body.explanation, /no host has room for 8 vCPUs \/ 195\.3 GiB in zone z/);
  const refused = await t.call(tok.mia!, 'POST', '/v1/vms', { name: 'b', flavor: 'big', image: 'tiny' });
  assert.equal(refused.status, 409);
  assert.equal(refused.body.code, 'NO_HOST_FITS');
  assert.doesNotMatch(JSON.stringify(refused.body), names);
  assert.deepEqual(refused.body.rejectedByFilter, { CapacityFilter: 3 });
  assert.match(refused.body.message, /No host has room for 8 vCPUs \/ 195\.3 GiB now/);
  await t.close();
});
