/**
 * HA and local volumes on simulated hosts: an HA VM whose local volume is on its failed host is not
 * restarted elsewhere (no other host has the data; Masakari/Nova do not evacuate instances on local
 * disks without shared storage). It waits in `error` with one `vm.ha.waiting` event, a start elsewhere
 * is refused saying why, delete stays allowed, and it restarts on its host when the host is back.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { haController } from '../src/control/controllers/ha.ts';
import { controlPlane } from './helpers/control.ts';
import { haVmOnFailedHost } from './helpers/ha-local.ts';

type Ev = { kind: string; vmId: string; detail: Record<string, unknown> };

test('an HA VM with a local volume waits for its failed host (one vm.ha.waiting event) and restarts there when it is back; an HA VM without one restarts elsewhere', async () => {
  const t = await controlPlane(':memory:', 3);
  try {
    const a = t.adminToken;
    const ok = async (method: string, url: string, body?: unknown) => {
      const r = await t.call(a, method, url, body);
      assert.ok(r.status < 300, `${method} ${url}: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body;
    };
    const vol = await ok('POST', '/v1/volumes', { name: 'data', sizeGiB: 2 });
    const db = (
      await ok('POST', '/v1/vms', {
        name: 'db',
        flavor: 'm1.small',
        image: 'tiny',
        ha: true,
        volumes: ['data'],
      })
    ).vmId as string;
    const hostId = (await ok('GET', `/v1/volumes/${vol.id}`)).hostId as string;
    const host = await ok('GET', `/v1/hosts/${hostId}`);
    assert.equal((await ok('GET', `/v1/vms/${db}`)).hostId, hostId, 'pinned to its local volume');
    // Another HA VM on the same host, without volumes: it restarts elsewhere as before.
    const web = (
      await ok('POST', '/v1/vms', {
        name: 'web',
        flavor: 'm1.small',
        image: 'tiny',
        ha: true,
        constraints: [],
      })
    ).vmId as string;
    if ((await ok('GET', `/v1/vms/${web}`)).hostId !== hostId)
      await ok('POST', `/v1/vms/${web}/migrate`, { toHost: hostId });

    // The host dies (its guests crash) and is declared failed.
    t.sim.setPower(hostId, false);
    await ok('PATCH', `/v1/hosts/${hostId}`, { state: 'failed' });
    const waiting = await ok('GET', `/v1/vms/${db}`);
    assert.equal(waiting.state, 'error');
    assert.equal(waiting.hostId, hostId, 'it stays with its data');
    for (const action of ['start', 'stop', 'delete'])
      assert.ok(waiting.allowedActions.includes(action), action);
    const movedWeb = await ok('GET', `/v1/vms/${web}`);
    assert.equal(movedWeb.state, 'running');
    assert.notEqual(movedWeb.hostId, hostId);

    const events = async () => (await ok('GET', '/v1/events?limit=1000')) as Ev[];
    const waits = (await events()).filter((e) => e.kind === 'vm.ha.waiting');
    assert.equal(waits.length, 1);
    assert.equal(waits[0]!.vmId, db);
    assert.equal(waits[0]!.detail.reason, `waiting for host ${host.name}: its local volume data is there`);
    assert.ok(!(await events()).some((e) => e.vmId === db && e.kind === 'vm.ha.failed'), 'HA did not try');

    // Starting it elsewhere is refused with the reason; the HA loop passing again says nothing new.
    const start = await t.call(a, 'POST', `/v1/vms/${db}/actions`, { action: 'start' });
    assert.equal(start.body.code, 'INVALID_STATE', JSON.stringify(start.body));
    assert.match(start.body.message, /waiting for host .*: its local volume data is there; start it when/);
    await t.cp.evacuate((await t.cp.authenticate(a))!, hostId);
    assert.equal((await events()).filter((e) => e.kind === 'vm.ha.waiting').length, 1);
    assert.equal((await ok('GET', `/v1/vms/${db}`)).state, 'error');

    // The host is back: the VM runs again there, with its volume.
    t.sim.setPower(hostId, true);
    await ok('PATCH', `/v1/hosts/${hostId}`, { state: 'up' });
    const back = await ok('GET', `/v1/vms/${db}`);
    assert.equal(back.state, 'running');
    assert.equal(back.hostId, hostId);
    assert.equal((await t.sim.get(db))?.state, 'running', 'the hypervisor runs it');
    const restarted = (await events()).filter((e) => e.kind === 'vm.ha.restarted' && e.vmId === db);
    assert.equal(restarted.length, 1);
    assert.equal(restarted[0]!.detail.on, host.name);
    // A later pass restarts nothing twice.
    assert.deepEqual(await t.cp.ha.restartReturned((await t.cp.authenticate(a))!), {
      restarted: [],
      failed: [],
    });
  } finally {
    await t.close();
  }
});

test('a waiting VM can always be deleted while its host is down', async () => {
  const t = await controlPlane(':memory:', 2);
  try {
    const a = t.adminToken;
    const { id } = await haVmOnFailedHost(t);
    assert.equal((await t.call(a, 'GET', `/v1/vms/${id}`)).body.state, 'error');
    const del = await t.call(a, 'DELETE', `/v1/vms/${id}`);
    assert.equal(del.body.status, 'succeeded', JSON.stringify(del.body));
    assert.equal(
      (await t.call(a, 'GET', '/v1/volumes/d')).body.state,
      'available',
      'the volume stays, on its host',
    );
  } finally {
    await t.close();
  }
});

test("the ha loop restarts a waiting VM whose host came back by its agent's heartbeat (no operator's PATCH)", async () => {
  const t = await controlPlane(':memory:', 2);
  try {
    const a = t.adminToken;
    const { id, hostId } = await haVmOnFailedHost(t);
    const loop = haController(t.cp, (await t.cp.authenticate(a))!, { intervalS: 10 });
    await loop.tick(0);
    assert.equal((await t.call(a, 'GET', `/v1/vms/${id}`)).body.state, 'error', 'still waiting');
    // The agent reports again: the heartbeat puts its host back up (src/control/agents/heartbeat.ts).
    t.sim.setPower(hostId, true);
    await t.cp.db.updateTable('hosts').set({ state: 'up' }).where('id', '=', hostId).execute();
    await loop.tick(10);
    const v = (await t.call(a, 'GET', `/v1/vms/${id}`)).body;
    assert.equal(v.state, 'running');
    assert.equal(v.hostId, hostId);
  } finally {
    await t.close();
  }
});
