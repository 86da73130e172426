/**
 * Quotas are whole numbers from 0 to QUOTA_MAX on both stores: a larger one is a 400 naming the
 * range (it was a 500 on PostgreSQL, whose quota columns are 32-bit), the largest one works as "no limit".
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QUOTA_MAX } from '../src/api/schemas.ts';
import { controlPlane, storeBackends } from './helpers/control.ts';

for (const backend of storeBackends()) {
  test(
    `quotas on ${backend.name}: above ${QUOTA_MAX} is a 400 naming the range; ${QUOTA_MAX} is stored and usable`,
    { skip: backend.skip },
    async () => {
      const s = await backend.url();
      const t = await controlPlane(s.url, 2);
      try {
        const a = t.adminToken;
        const tooBig = await t.call(a, 'POST', '/v1/tenants', { name: 'big', quotas: { memoryMiB: 1e12 } });
        assert.equal(tooBig.status, 400, JSON.stringify(tooBig.body));
        assert.match(tooBig.body.message, new RegExp(`from 0 to ${QUOTA_MAX}`));
        const made = await t.call(a, 'POST', '/v1/tenants', { name: 'big', quotas: { vcpus: QUOTA_MAX } });
        assert.equal(made.status, 201, JSON.stringify(made.body));
        for (const [k, v] of [
          ['memoryMiB', 1e12],
          ['volumeGiB', QUOTA_MAX + 1],
        ] as const) {
          const r = await t.call(a, 'PATCH', `/v1/tenants/${made.body.id}`, { quotas: { [k]: v } });
          assert.equal(r.status, 400, `${k} ${v}: ${JSON.stringify(r.body)}`);
          assert.match(r.body.message, /no limit/);
        }
        const all = Object.fromEntries(
          [
            'vcpus',
            'memoryMiB',
            'vms',
            'diskGiB',
            'networks',
            'ports',
            'floatingIps',
            'securityGroups',
            'keypairs',
            'volumes',
            'volumeGiB',
            'volumeSnapshots',
          ].map((k) => [k, QUOTA_MAX]),
        );
        const set = await t.call(a, 'PATCH', `/v1/tenants/${made.body.id}`, { quotas: all });
        assert.equal(set.status, 200, JSON.stringify(set.body));
        const read = await t.call(a, 'GET', `/v1/tenants/${made.body.id}`);
        for (const k of Object.keys(all)) assert.equal(read.body.quotas[k], QUOTA_MAX, k);
      } finally {
        await t.close();
        await s.drop();
      }
    },
  );
}
