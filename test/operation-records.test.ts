/**
 * OperationRecords remembers the operations this process executes; a process that never reconciles
 * (a `serve --workers` follower) must still forget those that ended, or it grows by one per operation.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controlPlane, storeBackends } from './helpers/control.ts';

for (const backend of storeBackends()) {
  test(
    `operation records on ${backend.name}: ended operations are forgotten without a reconciler, running and unrecorded ones kept`,
    { skip: backend.skip },
    async () => {
      const s = await backend.url();
      const t = await controlPlane(s.url, 2);
      try {
        const r = await t.call(t.adminToken, 'POST', '/v1/vms', {
          name: 'v',
          flavor: 'm1.small',
          image: 'tiny',
        });
        assert.equal(r.body.status, 'succeeded', JSON.stringify(r.body));
        const records = t.cp.opRecords;
        records.track('op-not-recorded-yet');
        const ops = 150;
        let peak = 0;
        for (let i = 0; i < ops; i++) {
          const a = await t.call(t.adminToken, 'POST', `/v1/vms/${r.body.vmId}/actions`, {
            action: i % 2 ? 'start' : 'stop',
          });
          assert.equal(a.body.status, 'succeeded', JSON.stringify(a.body));
          peak = Math.max(peak, records.activeCount);
        }
        assert.ok(peak < 130, `at most about twice the minimum remembered, not one per operation (${peak})`);
        await records.pruneEnded();
        assert.equal(records.activeCount, 1, 'only the operation not recorded yet is left');
        assert.ok(records.isActive('op-not-recorded-yet'));
        assert.ok(!records.isActive(r.body.id), 'the create, which ended, is forgotten');
      } finally {
        await t.close();
        await s.drop();
      }
    },
  );
}
