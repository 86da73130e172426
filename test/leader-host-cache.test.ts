import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostCacheSync } from '../src/control/leader/host-cache-sync.ts';
import { controlPlane, PG_SKIP, storeBackends } from './helpers/control.ts';

const pgBackend = storeBackends().find((b) => b.name === 'PostgreSQL')!;

test(
  "hostCacheSync(): a host edited through another process makes this one's scheduler forget its cache; counters and heartbeats do not",
  { skip: pgBackend.skip ? PG_SKIP : false },
  async () => {
    const { url, drop } = await pgBackend.url();
    const { cp } = await controlPlane(url, 3);
    try {
      let forgotten = 0;
      const check = hostCacheSync(cp.db, () => forgotten++);
      assert.equal(await check(), false, 'the first look fills nothing to forget');
      const [h] = await cp.db.selectFrom('hosts').select('id').orderBy('name').execute();
      await cp.db
        .updateTable('hosts')
        .set((eb) => ({
          used_vcpus: eb('used_vcpus', '+', 2),
          last_seen_at: '2026-01-01T00:00:00Z',
          state: 'maintenance',
          cpu_history: '[0.5]',
        }))
        .where('id', '=', h!.id)
        .execute();
      assert.equal(await check(), false, 'state, counters, heartbeats and telemetry are not edits');
      await cp.db.updateTable('hosts').set({ vcpus: 64, zone: 'zone-2' }).where('id', '=', h!.id).execute();
      assert.equal(await check(), true);
      assert.equal(forgotten, 1);
      assert.equal(await check(), false, 'once per change');
      await cp.db
        .updateTable('hosts')
        .set({ deleted_at: '2026-01-02T00:00:00Z' })
        .where('id', '=', h!.id)
        .execute();
      assert.equal(await check(), true, 'a deleted host is a change');
      assert.equal(forgotten, 2);
    } finally {
      await cp.db.destroy();
      await drop();
    }
  },
);
