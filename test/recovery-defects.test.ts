/**
 * API tests for the defects of issue 10 that operations recovery fixes; each failed on the code
 * before it: a restore of a missing snapshot broke a running VM, an HA VM whose restart failed still
 * showed running on the failed host, and an error VM could not be started again.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controlPlane, storeBackends } from './helpers/control.ts';

for (const backend of storeBackends()) {
  const opts = backend.skip ? { skip: backend.skip } : {};

  test(
    `${backend.name}: restoring a snapshot name the VM does not have is refused up front (404 naming its snapshots) and the VM keeps running`,
    opts,
    async () => {
      const t = await controlPlane((await backend.url()).url, 2);
      try {
        const a = t.adminToken;
        const id = (await t.call(a, 'POST', '/v1/vms', { name: 'web', flavor: 'm1.small', image: 'tiny' }))
          .body.vmId;
        const act = (body: unknown) => t.call(a, 'POST', `/v1/vms/${id}/actions`, body);
        assert.equal((await act({ action: 'snapshot', snapshotName: 'before' })).body.status, 'succeeded');
        const r = await act({ action: 'restore', snapshotName: 'nope' });
        assert.equal(r.status, 404, JSON.stringify(r.body));
        assert.match(r.body.message, /VM "web" has no snapshot "nope"; its snapshots: before/);
        assert.deepEqual(r.body.snapshots, ['before']);
        const v = (await t.call(a, 'GET', `/v1/vms/${id}`)).body;
        assert.equal(v.state, 'running');
        assert.equal((await t.sim.get(id))?.state, 'running');
        assert.equal((await act({ action: 'restore', snapshotName: 'before' })).body.status, 'succeeded');
      } finally {
        await t.close();
      }
    },
  );

  test(
    `${backend.name}: an HA VM whose restart fails is in error (not running on the failed host) with the reason, and starts again once there is room`,
    opts,
    async () => {
      const t = await controlPlane((await backend.url()).url, 2);
      try {
        const a = t.adminToken;
        const id = (
          await t.call(a, 'POST', '/v1/vms', { name: 'db', flavor: 'm1.xlarge', image: 'tiny', ha: true })
        ).body.vmId;
        const failed = (await t.call(a, 'GET', `/v1/vms/${id}`)).body.hostName as string;
        const other = failed === 'sim-001' ? 'sim-002' : 'sim-001';
        await t.call(a, 'PATCH', `/v1/hosts/${other}`, { state: 'maintenance' });
        await t.call(a, 'PATCH', `/v1/hosts/${failed}`, { state: 'failed' });
        const v = (await t.call(a, 'GET', `/v1/vms/${id}`)).body;
        assert.equal(v.state, 'error');
        assert.deepEqual(v.allowedActions.sort(), ['delete', 'start', 'stop']);
        const ev = (await t.call(a, 'GET', '/v1/events?limit=20')).body.find(
          (e: { kind: string; vmId: string }) => e.kind === 'vm.ha.failed' && e.vmId === id,
        );
        assert.match(ev.detail.reason, /./);
        assert.equal(ev.detail.stage, 'placement');
        const usage = await t.db
          .selectFrom('usage')
          .selectAll()
          .where('vm_id', '=', id)
          .where('end_at', 'is', null)
          .execute();
        assert.deepEqual(usage, [], 'a VM in error is not billed');
        // No room yet: refused with the reason, still in error.
        const early = await t.call(a, 'POST', `/v1/vms/${id}/actions`, { action: 'start' });
        assert.equal(early.status, 409, JSON.stringify(early.body));
        assert.equal((await t.call(a, 'GET', `/v1/vms/${id}`)).body.state, 'error');
        // Room appears: it starts on the other host, billed again, capacity moved.
        await t.call(a, 'PATCH', `/v1/hosts/${other}`, { state: 'up' });
        const op = await t.call(a, 'POST', `/v1/vms/${id}/actions`, { action: 'start' });
        assert.equal(op.body.status, 'succeeded', JSON.stringify(op.body));
        const after = (await t.call(a, 'GET', `/v1/vms/${id}`)).body;
        assert.deepEqual([after.state, after.hostName], ['running', other]);
        const hosts = (await t.call(a, 'GET', '/v1/hosts')).body as { name: string; vms: number }[];
        assert.deepEqual(
          hosts.map((h) => [h.name, h.vms]).sort(),
          [
            [failed, 0],
            [other, 1],
          ].sort(),
        );
      } finally {
        await t.close();
      }
    },
  );

  test(
    `${backend.name}: a VM lost with its failed host can be deleted (the host is not asked)`,
    opts,
    async () => {
      const t = await controlPlane((await backend.url()).url, 2);
      try {
        const a = t.adminToken;
        const id = (await t.call(a, 'POST', '/v1/vms', { name: 'plain', flavor: 'm1.small', image: 'tiny' }))
          .body.vmId;
        const host = (await t.call(a, 'GET', `/v1/vms/${id}`)).body.hostName as string;
        await t.call(a, 'PATCH', `/v1/hosts/${host}`, { state: 'failed' });
        assert.equal((await t.call(a, 'GET', `/v1/vms/${id}`)).body.state, 'error');
        const del = await t.call(a, 'DELETE', `/v1/vms/${id}`);
        assert.equal(del.body.status, 'succeeded', JSON.stringify(del.body));
        assert.equal((await t.call(a, 'GET', `/v1/vms/${id}`)).status, 404);
      } finally {
        await t.close();
      }
    },
  );
}
