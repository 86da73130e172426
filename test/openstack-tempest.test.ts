/**
 * Tempest (Debian's tempest 33.0.0) against `nubis serve` on simulated hosts: the small fixed subset of
 * scripts/openstack/tempest-ci.txt (tests across identity, compute, image, network and volume known to
 * pass) must all pass. The larger set is `npm run check:tempest`. Skipped without Tempest and the
 * OpenStack client unless NUBIS_REQUIRE_TEMPEST=1 (CI).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  bareId,
  formatReport,
  initWorkspace,
  readIdList,
  runTempest,
  TEMPEST_BIN,
  writeIncludeList,
} from '../scripts/openstack/tempest.ts';
import { OPENSTACK_BIN, startTestCloud } from '../scripts/openstack/test-cloud.ts';

const root = new URL('..', import.meta.url).pathname;
const ids = readIdList(join(root, 'scripts/openstack/tempest-ci.txt'));
const SKIP =
  !(existsSync(TEMPEST_BIN) && existsSync(OPENSTACK_BIN)) && process.env.NUBIS_REQUIRE_TEMPEST !== '1'
    ? 'Tempest or the OpenStack client is not installed (apt-get install tempest python3-openstackclient)'
    : ids.length === 0
      ? 'scripts/openstack/tempest-ci.txt lists no test yet'
      : undefined;

test(`Tempest's CI subset (${ids.length} tests) passes against nubis serve`, { skip: SKIP }, async () => {
  const cloud = await startTestCloud();
  try {
    const ws = initWorkspace(cloud);
    const results = await runTempest(ws, cloud.env, {
      includeList: writeIncludeList(ids, join(cloud.dir, 'include.txt')),
      concurrency: 2,
    });
    const report = formatReport(results);
    const passed = new Set(results.filter((r) => r.status === 'success').map((r) => bareId(r.id)));
    assert.deepEqual(
      ids.filter((id) => !passed.has(id)),
      [],
      `every listed test passes:\n${report}`,
    );
    assert.deepEqual(
      results.filter((r) => r.status === 'fail').map((r) => r.id),
      [],
      report,
    );
  } finally {
    await cloud.stop();
  }
});
